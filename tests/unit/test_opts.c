/* cmd/opts.c (the sub-commands' option parser) and the shared source options of cmd/sources.c.
 * Usage errors are printed on stderr by design; the checks are on exit codes and results. */
#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/progress.h"
#include "cmd/sources.h"
#include "flowlogs/s3_source.h"
#include "tests/harness/test.h"

static const struct fsg_cli s_cli = { .prog = "flowseg-test" };

/* The options of a made-up command. */
struct s_cmd {
    const char *out;
    bool force;
    long lines;
    struct fsg_opt_number lines_ctx;
    const char *operands[16];
    size_t n_operands;
};

static int s_run(struct s_cmd *c, char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL) {
        argc++;
    }
    *c = (struct s_cmd){ .lines = 7 };
    c->lines_ctx = (struct fsg_opt_number){ .max = 1000, .ret = &c->lines };
    const struct fsg_opt table[] = {
        { "--out", .value = &c->out },
        { "--force", .flag = &c->force },
        { "--max-lines", .parse = fsg_opt_parse_number, .ctx = &c->lines_ctx },
    };
    return fsg_opts_parse(&s_cli, "test", table, 3, argc, argv, c->operands, &c->n_operands);
}

static int s_parse_forms(void)
{
    struct s_cmd c;
    char *argv[] = { "test", "a", "--out", "o1", "-", "--force", "--max-lines=12", "b", NULL };
    T_CHECK(s_run(&c, argv) == FSG_EXIT_OK);
    T_STR_EQ(c.out, "o1");
    T_CHECK(c.force && c.lines == 12);
    T_CHECK(c.n_operands == 3);
    T_STR_EQ(c.operands[0], "a");
    T_STR_EQ(c.operands[1], "-");
    T_STR_EQ(c.operands[2], "b");

    /* "--" ends the options; the last value wins. */
    char *argv2[] = { "test", "--out=x", "--out", "y", "--", "--force", "-z", NULL };
    T_CHECK(s_run(&c, argv2) == FSG_EXIT_OK);
    T_STR_EQ(c.out, "y");
    T_CHECK(!c.force && c.lines == 7);
    T_CHECK(c.n_operands == 2);
    T_STR_EQ(c.operands[0], "--force");
    T_STR_EQ(c.operands[1], "-z");
    return 0;
}

static int s_usage_errors(void)
{
    static char *cases[][5] = {
        { "test", "--bogus", NULL },            /* unknown */
        { "test", "--outx", "v", NULL },        /* not a prefix match */
        { "test", "-o", NULL },                 /* short options do not exist */
        { "test", "--out", NULL },              /* missing value */
        { "test", "--out=", NULL },             /* empty value */
        { "test", "--out", "", NULL },          /* empty value */
        { "test", "--force=yes", NULL },        /* a flag takes no value */
        { "test", "--max-lines", "0", NULL },   /* below the range */
        { "test", "--max-lines", "1001", NULL }, /* above the range */
        { "test", "--max-lines", "12x", NULL }, /* not a number */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s_cmd c;
        T_CHECK(s_run(&c, cases[i]) == FSG_EXIT_USAGE);
    }
    return 0;
}

static int s_want_help(void)
{
    char *a[] = { "x", "a", "-h", NULL };
    char *b[] = { "x", "--out", "v", "--help", NULL };
    char *c[] = { "x", "--", "--help", NULL };
    char *d[] = { "x", "--helpful", NULL };
    T_CHECK(fsg_opts_want_help(3, a));
    T_CHECK(fsg_opts_want_help(4, b));
    T_CHECK(!fsg_opts_want_help(3, c)); /* an operand named --help */
    T_CHECK(!fsg_opts_want_help(2, d));
    return 0;
}

/* Parses argv with every shared source option into o (initialised here). */
static int s_sources(char **argv, struct fsg_sources_opts *o)
{
    int argc = 0;
    while (argv[argc] != NULL) {
        argc++;
    }
    if (fsg_sources_opts_init(o, argc, 3) != FSG_OK) {
        return -1;
    }
    struct fsg_opt table[FSG_SOURCES_OPTS_MAX];
    unsigned all = FSG_SOURCES_OPT_ENI | FSG_SOURCES_OPT_DIRECTION | FSG_SOURCES_OPT_JOBS |
                   FSG_SOURCES_OPT_WINDOW;
    size_t n = fsg_sources_opts_table(o, all, table);
    return fsg_opts_parse(&s_cli, "test", table, n, argc, argv, o->args, &o->n_args);
}

static int s_source_options(void)
{
    struct fsg_sources_opts o;
    char *none[] = { "flows", "a.log", NULL };
    T_CHECK(s_sources(none, &o) == FSG_EXIT_OK);
    T_CHECK(o.n_args == 1 && o.n_enis == 0 && o.jobs == 3);
    T_CHECK(o.direction == FSG_DIRECTION_INGRESS);
    T_CHECK(o.since_s == FSG_S3_TIME_NONE && o.until_s == FSG_S3_TIME_NONE);
    T_CHECK(o.memory == FSG_SOURCES_DEFAULT_MEMORY);
    fsg_sources_opts_clean_up(&o);

    static const struct {
        const char *arg;
        uint64_t want;
    } sizes[] = { { "4194304", 4 << 20 }, { "4096K", 4 << 20 }, { "64m", 64 << 20 },
                  { "1G", (uint64_t)1 << 30 }, { "2GiB", (uint64_t)2 << 30 },
                  { "512MB", (uint64_t)512 << 20 }, { "1T", (uint64_t)1 << 40 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *argv[] = { "flows", "--memory", (char *)sizes[i].arg, "a.log", NULL };
        T_CHECK(s_sources(argv, &o) == FSG_EXIT_OK);
        T_CHECK(o.memory == sizes[i].want);
        fsg_sources_opts_clean_up(&o);
    }

    char *all[] = { "flows", "--eni", "eni-1", "s3://b/p/", "--eni=eni-2", "--direction", "egress",
                    "--jobs", "256", "--since", "2023-11-14", "--until=2023-11-14",
                    "--max-inflight", "64", "--memory", "8M", NULL };
    T_CHECK(s_sources(all, &o) == FSG_EXIT_OK);
    T_CHECK(o.n_enis == 2 && o.n_args == 1 && o.jobs == 256 && o.max_inflight == 64);
    T_CHECK(o.memory == (uint64_t)8 << 20);
    T_STR_EQ(o.enis[1], "eni-2");
    T_CHECK(o.direction == FSG_DIRECTION_EGRESS);
    T_CHECK(o.since_s == 1699920000 && o.until_s == 1699920000 + 86400); /* one whole day */
    fsg_sources_opts_clean_up(&o);
    fsg_sources_opts_clean_up(&o); /* idempotent */

    static char *bad[][4] = {
        { "flows", "--direction", "sideways", NULL }, { "flows", "--jobs", "0", NULL },
        { "flows", "--jobs", "257", NULL },           { "flows", "--since", "2023-13-01", NULL },
        { "flows", "--until", "yesterday", NULL },    { "flows", "--eni", NULL },
        { "flows", "--max-inflight", "0", NULL },     { "flows", "--max-inflight", "257", NULL },
        { "flows", "--memory", "3M", NULL },          { "flows", "--memory", "2T", NULL },
        { "flows", "--memory", "64X", NULL },         { "flows", "--memory", "M", NULL },
        { "flows", "--memory", "", NULL },            { "flows", "--memory", "99999999999999T", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(s_sources(bad[i], &o) == FSG_EXIT_USAGE);
        fsg_sources_opts_clean_up(&o);
    }
    return 0;
}

/* A command takes only the source options it names. */
static int s_source_option_subset(void)
{
    struct fsg_sources_opts o;
    T_OK(fsg_sources_opts_init(&o, 4, 2));
    struct fsg_opt table[FSG_SOURCES_OPTS_MAX];
    size_t n = fsg_sources_opts_table(&o, FSG_SOURCES_OPT_JOBS | FSG_SOURCES_OPT_WINDOW, table);
    T_CHECK(n == 5); /* --jobs, --max-inflight, --memory, --since, --until */
    char *argv[] = { "plan", "--eni", "eni-1", NULL };
    T_CHECK(fsg_opts_parse(&s_cli, "plan", table, n, 3, argv, o.args, &o.n_args) ==
            FSG_EXIT_USAGE);
    fsg_sources_opts_clean_up(&o);
    return 0;
}

/* The progress line: objects and bytes always; records when counted; the share of the total and
 * the time left only when every size is known (and the rate means something). */
static int s_progress_line(void)
{
    char line[200];
    struct fsg_progress_state st = { .done = 3, .total = 10, .bytes = 3u << 20,
                                     .records = 12500, .show_records = true, .elapsed_s = 2 };
    fsg_progress_format(line, sizeof line, &st);
    T_STR_EQ(line, "flowseg: objects 3/10, 3.0 MiB read (1.5 MiB/s), 12.5k records (6.2k/s)");
    st.total_bytes = 12u << 20;
    fsg_progress_format(line, sizeof line, &st);
    T_STR_EQ(line, "flowseg: objects 3/10, 3.0 MiB read (1.5 MiB/s), 12.5k records (6.2k/s), "
                   "25% of 12.0 MiB, 6s left");
    st.show_records = false;
    st.elapsed_s = 75;
    st.bytes = 1u << 20;
    fsg_progress_format(line, sizeof line, &st);
    T_STR_EQ(line, "flowseg: objects 3/10, 1.0 MiB read (13.7 KiB/s), 8% of 12.0 MiB, 13m45s left");
    st.elapsed_s = 0.5; /* too early for a time left */
    fsg_progress_format(line, sizeof line, &st);
    T_STR_EQ(line, "flowseg: objects 3/10, 1.0 MiB read (2.0 MiB/s), 8% of 12.0 MiB");
    char small[20];
    T_CHECK(fsg_progress_format(small, sizeof small, &st) == sizeof small - 1);
    T_CHECK(strlen(small) == sizeof small - 1);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "parse_forms", s_parse_forms },
        { "usage_errors", s_usage_errors },
        { "want_help", s_want_help },
        { "source_options", s_source_options },
        { "source_option_subset", s_source_option_subset },
        { "progress_line", s_progress_line },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
