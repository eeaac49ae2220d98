/* Internal to flowlogs/aggregate.c and flowlogs/aggregate_result.c: the aggregator's state.
 * Not a public header: nothing outside these two files may rely on it. */
#ifndef FSG_FLOWLOGS_AGGREGATE_INTERNAL_H
#define FSG_FLOWLOGS_AGGREGATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/spill.h"
#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/hash.h"
#include "lib/core/ip.h"

/* The value of first until a start is seen (min() then needs no special case). */
#define FSG_AGG_FIRST_NONE INT64_MAX

/* The hot-path key: 40 bytes, no padding, hashed and compared as bytes. */
struct fsg_agg_key {
    uint8_t a[16]; /* initiator (lib/core/ip.h 16-byte form) */
    uint8_t b[16]; /* responder */
    uint32_t eni;  /* interned id */
    uint16_t port; /* responder port */
    uint8_t proto;
    uint8_t flags; /* FSG_AGG_F_* */
};
_Static_assert(sizeof(struct fsg_agg_key) == 40, "struct fsg_agg_key must have no padding");

/* The same key when both addresses are IPv4 (most flow logs): 16 bytes, one multiply to hash,
 * two words to compare, a smaller table. It lives in its own table (fsg_aggregate.flows4). Built
 * and hashed as two words in registers (storing fields and reading words back stalls on store
 * forwarding): w[0] = initiator | responder << 32 (each address's 4 bytes as a native uint32_t),
 * w[1] = eni | port << 32 | proto << 48 | flags << 56 (flags never with the V6 bits). */
struct fsg_agg_key4 {
    uint64_t w[2];
};
_Static_assert(sizeof(struct fsg_agg_key4) == 16, "struct fsg_agg_key4 must have no padding");

#define FSG_AGG_F_ACTION_MASK 0x03u /* enum fsg_flow_action */
#define FSG_AGG_F_RDIR_SHIFT 3      /* enum fsg_rdir, 2 bits */
#define FSG_AGG_F_RDIR_MASK 0x18u
#define FSG_AGG_F_A_V6 0x20u
#define FSG_AGG_F_B_V6 0x40u

struct fsg_agg_val {
    uint64_t records;
    uint64_t packets;
    uint64_t bytes;
    int64_t first; /* FSG_AGG_FIRST_NONE until a start is seen */
    int64_t last;  /* FSG_FLOW_TIME_NONE until an end is seen */
    uint32_t gen;  /* the object (fsg_aggregate.gen) that last changed it */
    uint32_t pad_;
};

/* The value an entry had before the object being read first changed it (fsg_aggregate_begin):
 * put back by fsg_aggregate_rollback. */
struct fsg_agg_undo {
    union {
        struct fsg_agg_key k;   /* when is_v6 */
        struct fsg_agg_key4 k4; /* otherwise */
    } u;
    bool is_v6;
    uint64_t hash;
    struct fsg_agg_val old;
};

struct fsg_agg_hint {
    char eni[FSG_ENI_ID_MAX];
    struct fsg_ip *addrs;
    size_t n_addrs;
    uint16_t service_port;
};

struct fsg_agg_eni {
    char name[FSG_ENI_ID_MAX]; /* NUL-padded: also the intern table key */
    size_t len;
    uint16_t service_port;
    const struct fsg_agg_hint *hint; /* NULL when the config knows nothing of this ENI */
};

/* Records in flight: each add() prefetches its slot, the entry of the record added
 * FSG_AGG_PIPE_ENTRY calls earlier, and folds the one added FSG_AGG_PIPE calls earlier, so the
 * table's cache misses overlap instead of stalling every record. */
#define FSG_AGG_PIPE 16
#define FSG_AGG_PIPE_ENTRY 8

struct fsg_agg_pending {
    union {
        struct fsg_agg_key k;   /* when is_v6 */
        struct fsg_agg_key4 k4; /* otherwise */
    } u;
    bool is_v6;
    uint64_t hash;
    uint64_t packets;
    uint64_t bytes;
    int64_t first;
    int64_t last;
};

/* A direct-mapped cache in front of the intern table: most records hit it with one compare. */
#define FSG_AGG_ICACHE 256
_Static_assert(FSG_ENI_ID_MAX == 32, "the intern cache compares four words");
struct fsg_agg_icache {
    uint64_t w[FSG_ENI_ID_MAX / 8]; /* the NUL-padded name */
    uint32_t id_plus_1;             /* 0 = empty */
};

struct fsg_aggregate {
    struct fsg_agg_pending pipe[FSG_AGG_PIPE];
    unsigned pipe_head; /* oldest pending */
    unsigned pipe_n;
    struct fsg_hash *flows4; /* struct fsg_agg_key4 -> struct fsg_agg_val (IPv4 pairs) */
    struct fsg_hash *flows;  /* struct fsg_agg_key -> struct fsg_agg_val (the rest) */
    struct fsg_hash *names; /* char[FSG_ENI_ID_MAX] -> uint32_t id */
    struct fsg_agg_eni *enis;
    size_t n_enis;
    size_t cap_enis;
    struct fsg_agg_hint *hints;
    size_t n_hints;
    size_t max_entries; /* as given (0 = the default), for siblings */
    size_t limit;       /* distinct keys over both tables */
    size_t n_entries;   /* distinct keys over both tables */
    bool has_service_ports; /* a hint names a database port: the leg depends on the ENI */
    struct fsg_agg_icache icache[FSG_AGG_ICACHE];
    struct fsg_flow_stats stats;
    /* The object being read (fsg_aggregate_begin .. commit/rollback): its records go straight
     * into the tables; entries it adds are those past mark4/mark (the tables keep insertion
     * order), and the first change it makes to an older entry logs that entry's value. */
    bool in_object;
    uint32_t gen;
    size_t mark4, mark;
    struct fsg_agg_undo *undo;
    size_t n_undo, cap_undo;
    /* The memory budget of the tables (fsg_aggregate_set_memory; 0 = none): when a new key would
     * make them grow past it, the committed entries go to `spill` as sorted runs (and those of
     * the open object as runs tagged obj_tag, dropped if it fails), and the tables start empty. */
    size_t memory;
    size_t check_at; /* n_entries from which s_upsert checks the limit and the budget */
    struct fsg_spill *spill;
    bool owns_spill;
    uint64_t obj_tag;       /* 0 until the open object spills */
    bool obj_spilled;       /* the last object begun spilled (kept after its commit) */
    struct fsg_error spill_err; /* why the last spill failed */
    enum fsg_err broken;        /* a spill failed: every later operation fails with it */
};

/* The error for a failed table operation: FSG_E_LIMIT (too many rows) or FSG_E_NOMEM. */
enum fsg_err fsg_agg_error(enum fsg_err rc, struct fsg_error *err);

/* Entries of both tables: i < fsg_aggregate_entries(agg) (pending records not included). The key
 * in the 40-byte form; the value borrowed until the next add/merge/clear. */
void fsg_agg_entry(const struct fsg_aggregate *agg, size_t i, struct fsg_agg_key *ret_key,
                   const struct fsg_agg_val **ret_val);

/* Writes the tables (not the pending records) to agg->spill as sorted runs and empties them;
 * inside an object, the entries it changed are split so that a rollback still works
 * (aggregate_spill.c). FSG_E_IO (details in agg->spill_err), FSG_E_NOMEM: agg is then broken. */
enum fsg_err fsg_agg_spill(struct fsg_aggregate *agg);

/* Recomputes agg->check_at after the tables changed. */
void fsg_agg_update_check(struct fsg_aggregate *agg);

#endif
