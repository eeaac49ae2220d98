/* pce_tool: a small driver of policy/pce for the integration tests (tests/integration/pce_client.py).
 *
 *   pce_tool --url URL [--org N] [--ca FILE] [--key-env NAME] [--secret-env NAME] [--timeout S]
 *            [--max-retries N] [--max-job-wait S] [--sleep-scale F] [--draft] [--save FILE]
 *            [--deadline-in MS]
 *            fetch | collection PATH | get HREF | post-traffic CSVFILE
 *
 * fetch prints the policy bundle (JSON) on stdout; collection/get print what they read;
 * post-traffic prints {"received": N, "failed": M}. Credentials come from the environment
 * (default PCE_API_KEY / PCE_API_SECRET). Every sleep the client asks for is recorded and slept
 * for ms * sleep-scale (default 0.05) so tests stay fast; the last stderr line is
 * {"sleeps_ms": [...], "requests": N}. --deadline-in MS sets the client's deadline MS
 * milliseconds of real time from now (the sleeps are scaled, the clock is not). Errors: one
 * line on stderr, exit 1. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "policy/pce.h"

#define S_MAX_SLEEPS 256

struct s_sleeps {
    uint64_t ms[S_MAX_SLEEPS];
    size_t n;
    double scale;
};

static void s_sleep(uint64_t ms, void *userdata)
{
    struct s_sleeps *s = userdata;
    if (s->n < S_MAX_SLEEPS) {
        s->ms[s->n++] = ms;
    }
    double real_ms = (double)ms * s->scale;
    struct timespec ts = { .tv_sec = (time_t)(real_ms / 1000.0),
                           .tv_nsec = (long)((real_ms - (double)(long)(real_ms / 1000.0) * 1000.0) *
                                             1e6) };
    nanosleep(&ts, NULL);
}

static int s_usage(void)
{
    fprintf(stderr, "usage: pce_tool --url URL [--org N] [--ca FILE] [--key-env NAME] "
                    "[--secret-env NAME] [--timeout S] [--max-retries N] [--max-job-wait S] "
                    "[--sleep-scale F] [--draft] [--save FILE] [--deadline-in MS] "
                    "fetch|collection PATH|get HREF|post-traffic CSVFILE\n");
    return 2;
}

static void s_print_error(const struct fsg_error *err)
{
    fprintf(stderr, "pce_tool: %s (%s", err->msg, fsg_err_name(err->code));
    if (err->http_status != 0) {
        fprintf(stderr, ", HTTP %d", err->http_status);
    }
    if (err->service_code[0] != '\0') {
        fprintf(stderr, ", %s", err->service_code);
    }
    if (err->request_id[0] != '\0') {
        fprintf(stderr, ", request id %s", err->request_id);
    }
    fprintf(stderr, ")\n");
}

static int s_print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static enum fsg_err s_run(struct fsg_pce *pce, const char *cmd, const char *arg, bool draft,
                          const char *save, struct fsg_error *err)
{
    json_t *v = NULL;
    enum fsg_err rc;
    if (strcmp(cmd, "fetch") == 0) {
        rc = fsg_pce_fetch_policy(pce, !draft, &v, err);
        if (rc == FSG_OK && save != NULL) {
            rc = fsg_pce_save_bundle(v, save, err);
        }
    } else if (strcmp(cmd, "collection") == 0 && arg != NULL) {
        rc = fsg_pce_get_collection(pce, arg, &v, err);
    } else if (strcmp(cmd, "get") == 0 && arg != NULL) {
        rc = fsg_pce_get(pce, arg, &v, err);
    } else if (strcmp(cmd, "post-traffic") == 0 && arg != NULL) {
        struct fsg_buf csv = FSG_BUF_INIT;
        uint64_t received = 0;
        uint64_t failed = 0;
        rc = fsg_buf_read_file(&csv, arg, 0, err);
        if (rc == FSG_OK) {
            rc = fsg_pce_post_traffic(pce, fsg_span_from_buf(&csv), &received, &failed, err);
        }
        if (rc == FSG_OK) {
            v = json_pack("{s:I, s:I}", "received", (json_int_t)received, "failed",
                          (json_int_t)failed);
        }
        fsg_buf_clean_up(&csv);
    } else {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "unknown command '%s'", cmd);
    }
    if (rc == FSG_OK && v != NULL && s_print_json(v) != 0) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "cannot print the result");
    }
    json_decref(v);
    return rc;
}

int main(int argc, char **argv)
{
    struct s_sleeps sleeps = { .scale = 0.05 };
    struct fsg_pce_options o = { .org_id = 1, .key_env = "PCE_API_KEY",
                                 .secret_env = "PCE_API_SECRET", .sleep = s_sleep,
                                 .sleep_userdata = &sleeps };
    bool draft = false;
    const char *save = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--draft") == 0) {
            draft = true;
            continue;
        }
        if (i + 1 >= argc) {
            return s_usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--url") == 0) {
            o.url = v;
        } else if (strcmp(a, "--org") == 0) {
            o.org_id = atol(v);
        } else if (strcmp(a, "--ca") == 0) {
            o.ca_file = v;
        } else if (strcmp(a, "--key-env") == 0) {
            o.key_env = v;
        } else if (strcmp(a, "--secret-env") == 0) {
            o.secret_env = v;
        } else if (strcmp(a, "--timeout") == 0) {
            o.timeout_s = atol(v);
        } else if (strcmp(a, "--max-retries") == 0) {
            o.max_retries = (unsigned)atol(v);
        } else if (strcmp(a, "--max-job-wait") == 0) {
            o.max_job_wait_s = atol(v);
        } else if (strcmp(a, "--sleep-scale") == 0) {
            sleeps.scale = atof(v);
        } else if (strcmp(a, "--save") == 0) {
            save = v;
        } else if (strcmp(a, "--deadline-in") == 0) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            o.deadline_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + atol(v);
        } else {
            return s_usage();
        }
    }
    if (i >= argc) {
        return s_usage();
    }
    const char *cmd = argv[i];
    const char *arg = i + 1 < argc ? argv[i + 1] : NULL;

    struct fsg_error err = { 0 };
    struct fsg_pce *pce = NULL;
    enum fsg_err rc = fsg_pce_new(&o, &pce, &err);
    if (rc == FSG_OK) {
        rc = s_run(pce, cmd, arg, draft, save, &err);
    }
    if (rc != FSG_OK) {
        s_print_error(&err);
    }
    fprintf(stderr, "{\"sleeps_ms\": [");
    for (size_t k = 0; k < sleeps.n; k++) {
        fprintf(stderr, "%s%llu", k > 0 ? ", " : "", (unsigned long long)sleeps.ms[k]);
    }
    fprintf(stderr, "], \"requests\": %llu}\n", (unsigned long long)fsg_pce_request_count(pce));
    fsg_pce_destroy(pce);
    return rc == FSG_OK ? 0 : 1;
}
