/* The header-driven VPC flow-log decoder: bytes (gzip or plain) in, one record at a time out.
 *
 * Field order comes from each stream's header line (aws-wire.md §1.4): the first non-empty line
 * is a header when every token looks like a field name ([a-z][a-z0-9-]*, optionally ${...}) and
 * at least one is a documented field. Otherwise the configured format applies (options.format,
 * config `flowlogs.format`), else the default v2 format. A header-like line later in the stream
 * (concatenated objects) switches the format from there on.
 *
 * Lines: fields are separated by one or more spaces; CRLF and a last line without a newline are
 * fine; blank lines are ignored. `-` is legal in every field. NODATA and SKIPDATA lines are counted
 * and not returned. A line that cannot be decoded (wrong field count, a bad number or address, an
 * over-long line) is counted as malformed, its line number kept (first few), and skipped: decoding
 * goes on. Stream errors (truncated or corrupt gzip) end decoding with an error.
 *
 * Pull usage (STYLE.md §4.6):
 *
 *     fsg_flowlog_decoder_set_input(d, chunk);      (borrowed until next() returns NULL)
 *     const struct fsg_flowlog_record *rec;
 *     while ((rc = fsg_flowlog_decoder_next(d, &rec, err)) == FSG_OK && rec != NULL) {
 *         use(rec);                                  (rec and its spans valid until next call)
 *     }
 *     ...set the next chunk...; at the end: fsg_flowlog_decoder_finish(d), then drain again.
 */
#ifndef FSG_FLOWLOGS_FLOWLOG_H
#define FSG_FLOWLOGS_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/ip.h"

/* Every documented field, v2..v8 (aws-wire.md §1.2). Unknown names map to FSG_FIELD_UNKNOWN and
 * are kept as opaque, ignored columns. */
enum fsg_flowlog_field {
    FSG_FIELD_UNKNOWN = 0,
    /* v2: the default format, in its order */
    FSG_FIELD_VERSION,
    FSG_FIELD_ACCOUNT_ID,
    FSG_FIELD_INTERFACE_ID,
    FSG_FIELD_SRCADDR,
    FSG_FIELD_DSTADDR,
    FSG_FIELD_SRCPORT,
    FSG_FIELD_DSTPORT,
    FSG_FIELD_PROTOCOL,
    FSG_FIELD_PACKETS,
    FSG_FIELD_BYTES,
    FSG_FIELD_START,
    FSG_FIELD_END,
    FSG_FIELD_ACTION,
    FSG_FIELD_LOG_STATUS,
    /* v3 */
    FSG_FIELD_VPC_ID,
    FSG_FIELD_SUBNET_ID,
    FSG_FIELD_INSTANCE_ID,
    FSG_FIELD_TCP_FLAGS,
    FSG_FIELD_TYPE,
    FSG_FIELD_PKT_SRCADDR,
    FSG_FIELD_PKT_DSTADDR,
    /* v4 */
    FSG_FIELD_REGION,
    FSG_FIELD_AZ_ID,
    FSG_FIELD_SUBLOCATION_TYPE,
    FSG_FIELD_SUBLOCATION_ID,
    /* v5 */
    FSG_FIELD_PKT_SRC_AWS_SERVICE,
    FSG_FIELD_PKT_DST_AWS_SERVICE,
    FSG_FIELD_FLOW_DIRECTION,
    FSG_FIELD_TRAFFIC_PATH,
    /* v7 (ECS) */
    FSG_FIELD_ECS_CLUSTER_ARN,
    FSG_FIELD_ECS_CLUSTER_NAME,
    FSG_FIELD_ECS_CONTAINER_INSTANCE_ARN,
    FSG_FIELD_ECS_CONTAINER_INSTANCE_ID,
    FSG_FIELD_ECS_CONTAINER_ID,
    FSG_FIELD_ECS_SECOND_CONTAINER_ID,
    FSG_FIELD_ECS_SERVICE_NAME,
    FSG_FIELD_ECS_TASK_DEFINITION_ARN,
    FSG_FIELD_ECS_TASK_ARN,
    FSG_FIELD_ECS_TASK_ID,
    /* v8 */
    FSG_FIELD_REJECT_REASON,
    FSG_FIELD_COUNT_ /* keep last */
};

/* "srcaddr" for FSG_FIELD_SRCADDR; NULL for UNKNOWN/out of range. Static string. */
const char *fsg_flowlog_field_name(enum fsg_flowlog_field f);
/* The field named `name` (no ${}), or FSG_FIELD_UNKNOWN. */
enum fsg_flowlog_field fsg_flowlog_field_lookup(struct fsg_span name);

/* The default format (all v2 fields), as a header line would spell it. */
#define FSG_FLOWLOG_DEFAULT_FORMAT                                                                 \
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "      \
    "start end action log-status"

enum fsg_flowlog_status { FSG_FLOWLOG_OK = 0, FSG_FLOWLOG_NODATA, FSG_FLOWLOG_SKIPDATA };
enum fsg_flowlog_direction {
    FSG_FLOWLOG_DIR_NONE = 0,
    FSG_FLOWLOG_DIR_INGRESS,
    FSG_FLOWLOG_DIR_EGRESS
};

/* One decoded OK record. Fields the format lacks, or that are "-", have the stated defaults. */
struct fsg_flowlog_record {
    struct fsg_span interface_id;   /* borrowed (valid until the next call); empty if none/"-" */
    struct fsg_ip srcaddr, dstaddr; /* interface-level addresses; valid when has_addrs */
    struct fsg_ip pkt_srcaddr, pkt_dstaddr; /* packet-level; valid when has_pkt_addrs */
    bool has_addrs;                         /* both srcaddr and dstaddr present and not "-" */
    bool has_pkt_addrs;        /* both pkt-srcaddr and pkt-dstaddr present and not "-" */
    uint16_t srcport, dstport; /* 0 when "-" or absent */
    uint8_t protocol;          /* 0 when "-" or absent */
    int tcp_flags;             /* -1 when "-" or absent */
    enum fsg_flowlog_direction flow_direction; /* NONE when "-" or absent */
    enum fsg_flow_action action;               /* ACCEPT, REJECT, or UNKNOWN when "-" or absent */
    uint64_t packets, bytes;                   /* 0 when "-" or absent */
    int64_t start_s, end_s;                    /* FSG_FLOW_TIME_NONE when "-" or absent */
    unsigned long line;                        /* 1-based line in the decompressed stream */
};

/* Counters for one stream. lines = records + nodata + skipdata + malformed (header and blank
 * lines are not counted). */
struct fsg_flowlog_stats {
    uint64_t lines;
    uint64_t records; /* OK lines returned by next() */
    uint64_t nodata;
    uint64_t skipdata;
    uint64_t malformed;
    uint64_t bytes_in;  /* input bytes consumed (compressed size for gzip) */
    uint64_t bytes_out; /* decompressed bytes */
};

/* The first malformed lines of a stream are kept for warnings. */
#define FSG_FLOWLOG_MALFORMED_SAMPLES 5
struct fsg_flowlog_malformed {
    unsigned long line;
    char reason[128];
};

struct fsg_flowlog_options {
    /* Field list for a stream without a header line: names separated by spaces, "${name}" also
     * accepted. NULL or "" = the default v2 format. Borrowed during new() only. */
    const char *format;
    /* Decompressed window; 0 = 128 KiB (lines are decoded in place; it should fit in L2). Lines
     * are decoded once the window is full (or at the end): next() returns records in bursts. */
    size_t window_bytes;
    /* Longer lines (every byte before the '\n' counts) are malformed and skipped; 0 = 64 KiB;
     * at most window_bytes / 2. */
    size_t max_line_bytes;
    /* Passed to the inflater (0 = no limit). */
    uint64_t max_output_bytes;
    /* Force the zlib engine (tests, benchmarks). */
    bool force_zlib;
};

struct fsg_flowlog_decoder;

/* Creates a decoder. opts may be NULL. Caller owns *ret_dec. FSG_E_INVALID_ARG for a format that
 * has no usable address fields (message says which), FSG_E_NOMEM. */
enum fsg_err fsg_flowlog_decoder_new(const struct fsg_flowlog_options *opts,
                                     struct fsg_flowlog_decoder **ret_dec,
                                     struct fsg_error *err) FSG_MUST_USE;

void fsg_flowlog_decoder_destroy(struct fsg_flowlog_decoder *d); /* NULL ok */

/* Borrows the next chunk of input. It must stay valid until next() reports that it needs more
 * input (FSG_OK with *ret_rec == NULL). */
void fsg_flowlog_decoder_set_input(struct fsg_flowlog_decoder *d, struct fsg_span chunk);

/* Declares the end of input; next() then flushes a final unterminated line and reports the end,
 * or FSG_E_PARSE if the gzip stream is incomplete. */
void fsg_flowlog_decoder_finish(struct fsg_flowlog_decoder *d);

/* FSG_OK, *ret_rec != NULL : a record; it and its spans are valid until the next call.
 * FSG_OK, *ret_rec == NULL : needs more input (or, after finish(), the end: see done()).
 * FSG_E_PARSE              : truncated/corrupt gzip (err->offset = input byte), or a header line
 *                            without address fields (err->line).
 * FSG_E_LIMIT, FSG_E_NOMEM : as named. After any error the decoder is unusable. */
enum fsg_err fsg_flowlog_decoder_next(struct fsg_flowlog_decoder *d,
                                      const struct fsg_flowlog_record **ret_rec,
                                      struct fsg_error *err) FSG_MUST_USE;

/* True after finish() once next() has reported the end. */
bool fsg_flowlog_decoder_done(const struct fsg_flowlog_decoder *d);

/* Counters so far (bytes_in/bytes_out refreshed on every call). Borrowed, owned by d. */
const struct fsg_flowlog_stats *fsg_flowlog_decoder_stats(const struct fsg_flowlog_decoder *d);

/* The first malformed lines (up to FSG_FLOWLOG_MALFORMED_SAMPLES); *ret_n set to how many.
 * Borrowed, owned by d. */
const struct fsg_flowlog_malformed *
fsg_flowlog_decoder_malformed(const struct fsg_flowlog_decoder *d, size_t *ret_n);

/* Input bytes consumed so far: the offset of a stream error. */
uint64_t fsg_flowlog_decoder_offset(const struct fsg_flowlog_decoder *d);

/* "isa-l", "zlib", "plain" or "unknown" (static). */
const char *fsg_flowlog_decoder_engine(const struct fsg_flowlog_decoder *d);

/* True when the current format has the field (after the header was read). */
bool fsg_flowlog_decoder_has_field(const struct fsg_flowlog_decoder *d, enum fsg_flowlog_field f);

#endif
