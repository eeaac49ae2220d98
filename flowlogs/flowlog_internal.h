/* Internal to flowlogs/: the decoder's two halves, for the object reader's pipeline.
 *
 * Decoding an object is two stages:
 *  - the producer inflates into a block buffer and cuts it after its last complete line: a block
 *    is whole lines (only the last block of a stream may end without a '\n'); the unfinished
 *    line is carried to the start of the next buffer. A line longer than max_line is dropped by
 *    the producer as it comes (it is counted as malformed by the consumer, in order).
 *  - the consumer decodes a block's lines in place into records.
 * The pull API of flowlog.h runs both on one buffer of the decoder's own; the object reader runs
 * them on one thread (same buffer, records to a callback) or on two threads, the producer filling
 * a ring of buffers while the consumer decodes the previous ones (flowlogs/source.c).
 *
 * Thread use: the producer functions touch only the producer state and the inflater; the consumer
 * functions only the rest. One thread may run each side at a time. Not a public header. */
#ifndef FSG_FLOWLOGS_FLOWLOG_INTERNAL_H
#define FSG_FLOWLOGS_FLOWLOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/flowlog.h"
#include "flowlogs/flowlog_scan.h"
#include "flowlogs/inflate.h"
#include "lib/core/error.h"

/* AWS documents about 40 fields; unknown ones are allowed, within reason. */
#define FSG_FLOWLOG_MAX_COLUMNS 128

/* What the line decoder does with a column. Only the fields aggregation needs are decoded. */
enum fsg_flk {
    FSG_FLK_SKIP = 0,
    FSG_FLK_IFACE,
    FSG_FLK_SRCADDR,
    FSG_FLK_DSTADDR,
    FSG_FLK_PKT_SRCADDR,
    FSG_FLK_PKT_DSTADDR,
    FSG_FLK_SRCPORT,
    FSG_FLK_DSTPORT,
    FSG_FLK_PROTOCOL,
    FSG_FLK_PACKETS,
    FSG_FLK_BYTES,
    FSG_FLK_START,
    FSG_FLK_END,
    FSG_FLK_ACTION,
    FSG_FLK_STATUS,
    FSG_FLK_TCPFLAGS,
    FSG_FLK_FLOWDIR,
    FSG_FLK_COUNT_
};

/* fsg_flowlog_format.col[] of a kind the format lacks. */
#define FSG_FLK_ABSENT 0xff

/* A column map built from a header line or the configured format. */
struct fsg_flowlog_format {
    unsigned ncols;
    uint64_t fields;                        /* bit per enum fsg_flowlog_field present */
    uint8_t kind[FSG_FLOWLOG_MAX_COLUMNS];  /* enum fsg_flk per column */
    uint8_t field[FSG_FLOWLOG_MAX_COLUMNS]; /* enum fsg_flowlog_field per column (messages) */
    uint8_t col[FSG_FLK_COUNT_];            /* column of each kind, or FSG_FLK_ABSENT */
    bool is_v2; /* the default v2 layout: decoded by a specialised path (flowlog_line.c) */
    struct fsg_flowlog_record tmpl;         /* every default: a line's record starts from it */
};

/* Text from the producer to the consumer. */
struct fsg_flowlog_block {
    const uint8_t *text;   /* whole lines; FSG_SCAN_FRONT readable bytes before them and
                            * FSG_SCAN_SLACK after. Borrowed. */
    size_t len;
    unsigned long dropped; /* over-long lines dropped before this text (counted as malformed) */
    bool is_last;          /* the end of the stream: the last line may lack its '\n' */
};

struct fsg_flowlog_producer {
    struct fsg_inflate *inf;
    uint8_t *buf; /* the buffer being filled: cap bytes, FSG_SCAN_FRONT readable before and
                   * FSG_SCAN_SLACK after; NULL until first use */
    size_t cap;
    size_t fill;  /* bytes in buf */
    size_t cut;   /* after a block: its length; [cut, fill) is the unfinished line */
    size_t max_line;
    unsigned long dropped; /* over-long lines dropped since the last block */
    bool skipping;         /* dropping an over-long line up to its '\n' */
    bool ended;            /* the last block was handed out */
    bool cut_pending;      /* a block was handed out and continue() not called yet */
};

/* The consumer's state. */
struct fsg_flowlog_consumer {
    bool have_format; /* the first non-empty line was seen */
    unsigned long line_no;
    size_t max_line;
    struct fsg_flowlog_format fmt;
    struct fsg_flowlog_format configured;
    struct fsg_flowlog_record rec;
    struct fsg_flowlog_stats stats; /* bytes_in/bytes_out are written by the producer */
    struct fsg_flowlog_malformed samples[FSG_FLOWLOG_MALFORMED_SAMPLES];
    size_t n_samples;
    uint64_t *spaces; /* a line's space bitmap (flowlog_scan.h): max_line / 64 + 2 words */
    bool hw_popcnt;   /* the CPU has a popcnt instruction */
    struct fsg_scan_addr_cache addrs;
};

struct fsg_flowlog_decoder {
    struct fsg_flowlog_producer prod;
    uint8_t *own; /* the pull API's and the one-thread reader's buffer (allocated on first use) */
    /* pull API: the block being returned record by record */
    struct fsg_flowlog_block cur;
    size_t cur_pos;
    bool have_block;
    bool done;
    enum fsg_err failed_rc;
    char pad_[64]; /* the producer's and the consumer's threads do not share a cache line */
    struct fsg_flowlog_consumer con;
};

/* ---- producer side --------------------------------------------------------------------------- */

enum fsg_flowlog_produced {
    FSG_PRODUCED_NONE = 0, /* all input consumed: set more (or finish) */
    FSG_PRODUCED_BLOCK,    /* *ret_blk is ready (is_last: nothing follows) */
    FSG_PRODUCED_END,      /* the last block was handed out before */
};

/* Inflates the input set with fsg_flowlog_decoder_set_input() into the current buffer until a
 * block is cut. After a block (not the last), call fsg_flowlog_produce_continue() before the next
 * produce(). Allocates the decoder's own buffer if none was given. FSG_E_PARSE (err->offset set),
 * FSG_E_LIMIT, FSG_E_NOMEM; the producer is then unusable. */
enum fsg_err fsg_flowlog_produce(struct fsg_flowlog_decoder *d, struct fsg_flowlog_block *ret_blk,
                                 enum fsg_flowlog_produced *ret_what,
                                 struct fsg_error *err) FSG_MUST_USE;

/* Continues in buf (cap bytes with FSG_SCAN_FRONT readable bytes before and FSG_SCAN_SLACK after,
 * borrowed until the next continue() or destroy;
 * NULL = the buffer of the last block, once that block has been decoded): the unfinished line is
 * copied to its start. cap must be at least the decoder's window. Also sets the first buffer
 * (before the first produce(); otherwise the decoder allocates one of its own). */
void fsg_flowlog_produce_continue(struct fsg_flowlog_decoder *d, uint8_t *buf, size_t cap);

/* The decoder's window: the smallest block buffer it accepts. */
size_t fsg_flowlog_window(const struct fsg_flowlog_decoder *d);

/* ---- consumer side --------------------------------------------------------------------------- */

/* Takes one OK record (borrowed for the call). A non-OK return stops decoding with that error. */
typedef enum fsg_err(fsg_flowlog_record_fn)(void *userdata, const struct fsg_flowlog_record *rec,
                                            struct fsg_error *err);

/* Decodes every line of blk in order, calling on_record for each OK record. FSG_E_PARSE for a
 * header line without address fields (err->line set), or on_record's error; the decoder is then
 * unusable. */
enum fsg_err fsg_flowlog_decode_block(struct fsg_flowlog_decoder *d,
                                      const struct fsg_flowlog_block *blk,
                                      fsg_flowlog_record_fn *on_record, void *userdata,
                                      struct fsg_error *err) FSG_MUST_USE;

/* ---- shared by flowlog.c and flowlog_line.c --------------------------------------------------- */

/* Builds a column map from a field list. On failure returns false with a reason in why. */
bool fsg_flowlog_format_build(struct fsg_span line, struct fsg_flowlog_format *f, char *why,
                              size_t why_size);

enum fsg_flowlog_line { FSG_LINE_NONE = 0, FSG_LINE_RECORD, FSG_LINE_FATAL };

/* Decodes one line (n bytes at p, without its '\n'; FSG_SCAN_FRONT readable bytes before it and
 * FSG_SCAN_SLACK after) into
 * c->rec. scanned: c->spaces already holds the line's spaces from fsg_scan_line_end().
 * FSG_LINE_FATAL: a header line without address fields (err set). */
enum fsg_flowlog_line fsg_flowlog_line(struct fsg_flowlog_consumer *c, const uint8_t *p, size_t n,
                                       bool scanned, struct fsg_error *err);

/* Counts lines the producer dropped for being longer than max_line. */
void fsg_flowlog_count_dropped(struct fsg_flowlog_consumer *c, unsigned long n);

#endif
