/* s3_tool: a tiny driver of lib/s3 for the integration tests (tests/integration/s3_faults.py,
 * s3_moto.sh). Credentials, region and endpoint come the AWS way (environment, profile) unless
 * given as options.
 *
 *   s3_tool [OPTIONS] get BUCKET KEY      object bytes to stdout; "bytes N resumes R" on stderr
 *   s3_tool [OPTIONS] head BUCKET KEY     "size N etag E"
 *   s3_tool [OPTIONS] list BUCKET [PREFIX] "KEY<TAB>SIZE" per object
 * OPTIONS: --endpoint URL (path-style), --region R, --read-timeout-ms N, --connect-timeout-ms N,
 *          --max-attempts N, --max-keys N, --start-after KEY
 * Exit: 0 ok, 1 error (one line on stderr: message, code, HTTP status, service code, request id),
 * 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/s3.h"

struct s_opts {
    const char *endpoint;
    const char *region;
    long read_timeout_ms;
    long connect_timeout_ms;
    unsigned max_attempts;
    unsigned max_keys;
    const char *start_after;
};

static int s_fail(const char *what, const struct fsg_error *err, enum fsg_err rc)
{
    fprintf(stderr, "s3_tool: %s: %s (%s, HTTP %d, code '%s', request id '%s', offset %llu)\n",
            what, err->msg, fsg_err_name(rc), err->http_status, err->service_code,
            err->request_id, err->offset);
    return 1;
}

static enum fsg_err s_write_stdout(struct fsg_span chunk, void *userdata)
{
    (void)userdata;
    return fwrite(chunk.ptr, 1, chunk.len, stdout) == chunk.len ? FSG_OK : FSG_E_IO;
}

static enum fsg_err s_print_object(const struct fsg_s3_object *obj, void *userdata)
{
    (void)userdata;
    printf("%s\t%llu\n", obj->key, (unsigned long long)obj->size);
    return FSG_OK;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: s3_tool [--endpoint URL] [--region R] [--read-timeout-ms N] "
                    "[--connect-timeout-ms N] [--max-attempts N] [--max-keys N] "
                    "[--start-after KEY] get|head|list BUCKET [KEY|PREFIX]\n");
    return 2;
}

static int s_parse(int argc, char **argv, struct s_opts *o, int *first)
{
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--endpoint") == 0) {
            o->endpoint = v;
        } else if (strcmp(argv[i], "--region") == 0) {
            o->region = v;
        } else if (strcmp(argv[i], "--read-timeout-ms") == 0) {
            o->read_timeout_ms = atol(v);
        } else if (strcmp(argv[i], "--connect-timeout-ms") == 0) {
            o->connect_timeout_ms = atol(v);
        } else if (strcmp(argv[i], "--max-attempts") == 0) {
            o->max_attempts = (unsigned)atoi(v);
        } else if (strcmp(argv[i], "--max-keys") == 0) {
            o->max_keys = (unsigned)atoi(v);
        } else if (strcmp(argv[i], "--start-after") == 0) {
            o->start_after = v;
        } else {
            return -1;
        }
    }
    *first = i;
    return argc - i >= 2 ? 0 : -1;
}

static int s_run(struct fsg_aws_client *c, const struct s_opts *o, int argc, char **argv)
{
    struct fsg_error err = { 0 };
    const char *cmd = argv[0];
    enum fsg_err rc;
    if (strcmp(cmd, "get") == 0 && argc == 3) {
        struct fsg_s3_get_result res;
        rc = fsg_s3_get_object(c, argv[1], argv[2], NULL, s_write_stdout, NULL, &res, &err);
        fflush(stdout);
        if (rc != FSG_OK) {
            return s_fail("get", &err, rc);
        }
        fprintf(stderr, "bytes %llu resumes %u etag %s\n", (unsigned long long)res.bytes,
                res.resumes, res.etag);
        return 0;
    }
    if (strcmp(cmd, "head") == 0 && argc == 3) {
        struct fsg_s3_object_info info;
        rc = fsg_s3_head_object(c, argv[1], argv[2], &info, &err);
        if (rc != FSG_OK) {
            return s_fail("head", &err, rc);
        }
        printf("size %llu etag %s\n", (unsigned long long)info.size, info.etag);
        return 0;
    }
    if (strcmp(cmd, "list") == 0 && (argc == 2 || argc == 3)) {
        struct fsg_s3_list_options lo = { .prefix = argc == 3 ? argv[2] : NULL,
                                          .start_after = o->start_after, .max_keys = o->max_keys };
        rc = fsg_s3_list_objects(c, argv[1], &lo, s_print_object, NULL, &err);
        if (rc != FSG_OK) {
            return s_fail("list", &err, rc);
        }
        return 0;
    }
    return s_usage();
}

int main(int argc, char **argv)
{
    struct s_opts o = { 0 };
    int first = 0;
    if (s_parse(argc, argv, &o, &first) != 0) {
        return s_usage();
    }
    struct fsg_http_client_options ho = { .read_timeout_ms = o.read_timeout_ms,
                                          .connect_timeout_ms = o.connect_timeout_ms };
    struct fsg_aws_client_options ao = { .service = "s3", .region = o.region,
                                         .endpoint_url = o.endpoint, .path_style = o.endpoint != NULL,
                                         .http_options = &ho,
                                         .retry = { .max_attempts = o.max_attempts } };
    struct fsg_aws_client *c = NULL;
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_aws_client_new(&ao, &c, &err);
    if (rc != FSG_OK) {
        return s_fail("client", &err, rc);
    }
    int status = s_run(c, &o, argc - first, argv + first);
    fsg_aws_client_destroy(c);
    return status;
}
