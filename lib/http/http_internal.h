/* Inside lib/ only: the libcurl transport behind fsg_http_client_new(). */
#ifndef FSG_LIB_HTTP_INTERNAL_H
#define FSG_LIB_HTTP_INTERNAL_H

#include "lib/http/http.h"

/* Defaults of struct fsg_http_client_options (0 means these). */
#define FSG_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3100L /* AWS SDK "standard" defaults mode */
#define FSG_HTTP_DEFAULT_READ_TIMEOUT_MS 30000L
#define FSG_HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)64 << 20)
/* The longest a Lambda function may run: no single exchange should outlive it. */
#define FSG_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 900000L

/* Fills *ret with a libcurl transport (one easy handle, connections reused). opts is copied. */
enum fsg_err fsg_http_curl_transport_init(const struct fsg_http_client_options *opts,
                                          struct fsg_http_transport *ret,
                                          struct fsg_error *err) FSG_MUST_USE;

/* Parses one raw header line ("Name: value\r\n") into h; a status line ("HTTP/1.1 200 OK")
 * starts a new response: h is emptied and *ret_status set. Other lines are ignored.
 * Shared by the curl transport and its unit test. */
enum fsg_err fsg_http_parse_header_line(struct fsg_span line, struct fsg_http_headers *h,
                                        int *ret_status) FSG_MUST_USE;

#endif
