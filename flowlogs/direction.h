/* Direction classification: who opened the connection a flow-log record belongs to, and whether
 * the record's traffic arrives at or leaves the ENI that logged it.
 *
 * Two independent questions per record:
 *  - the leg: REQUEST when the record's sender opened the connection (client -> server), RESPONSE
 *    when the sender answers (server -> client). From tcp-flags when they tell (SYN without ACK =
 *    request, SYN+ACK = response, aws-wire.md §1.5), else from the ports: the target's database
 *    port when configured, else the well-known-port heuristic (a service port against an ephemeral
 *    one; otherwise the lower port is the service).
 *  - the record direction: ARRIVING at / LEAVING the ENI. From flow-direction when the format has
 *    it, else by comparing the addresses with the ENI's own address (from the config target's
 *    eni_addrs, or learned from the records: the address present in the most records of the ENI).
 *
 * A connection is `ingress` when it was opened toward the ENI; its request-leg records (traffic
 * arriving at the ENI) are counted. It is `egress` when the ENI opened it; its request-leg records
 * (traffic leaving the ENI) are counted. Response legs are return traffic and counted in neither:
 * in particular the ENI's own return traffic is never ingress. */
#ifndef FSG_FLOWLOGS_DIRECTION_H
#define FSG_FLOWLOGS_DIRECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/ip.h"

enum fsg_leg { FSG_LEG_REQUEST = 0, FSG_LEG_RESPONSE = 1 };
enum fsg_rdir { FSG_RDIR_UNKNOWN = 0, FSG_RDIR_ARRIVING = 1, FSG_RDIR_LEAVING = 2 };
enum fsg_verdict {
    FSG_VERDICT_INGRESS = 0, /* request leg of a connection opened toward the ENI */
    FSG_VERDICT_EGRESS,      /* request leg of a connection the ENI opened */
    FSG_VERDICT_RETURN,      /* response leg: return traffic, not counted */
};

/* IANA protocol numbers used by the rules. */
#define FSG_PROTO_TCP 6

/* TCP flag bits as flow logs report them (aws-wire.md §1.5). */
#define FSG_TCP_SYN 0x02
#define FSG_TCP_ACK 0x10

/* True for ports a server listens on: below 1024, or a common database/service port
 * (1433, 1521, 2049, 3306, 3389, 5432, 5439, 5672, 6379, 8080, 8443, 9042, 9092, 9200, 11211,
 * 27017, ...). 0 (unknown / "-") is not a service port. */
bool fsg_port_is_service(uint16_t port);

/* The leg of a record. tcp_flags < 0 = unknown. service_port = the configured database port of the
 * ENI's target (0 = none). Ports of 0 mean unknown: the other port is then taken as the service.
 * Equal ports (ICMP has none) count as a request. */
enum fsg_leg fsg_direction_leg(uint8_t proto, int tcp_flags, uint16_t srcport, uint16_t dstport,
                               uint16_t service_port);

/* The verdict for records with the given leg and record direction. When rdir is UNKNOWN, the
 * ENI's own address decides: a = the initiator's address, b = the responder's; eni_v4/eni_v6 (may
 * be NULL) are the ENI's own addresses. When nothing decides, the ENI is taken to be the responder
 * (the case of a database ENI). All pointers borrowed. */
enum fsg_verdict fsg_direction_verdict(enum fsg_leg leg, enum fsg_rdir rdir, const struct fsg_ip *a,
                                       const struct fsg_ip *b, const struct fsg_ip *eni_v4,
                                       const struct fsg_ip *eni_v6);

/* A candidate for an ENI's own address while learning it from records. */
struct fsg_addr_tally {
    struct fsg_ip addr;
    uint64_t weight;       /* records in which the address is (or could be) the ENI's */
    uint64_t as_responder; /* records in which it is the responder */
};

/* The learned address among candidates of one family: the most weight, then the most often the
 * responder, then the lowest address. NULL when n == 0. Borrowed from c. */
const struct fsg_addr_tally *fsg_direction_pick(const struct fsg_addr_tally *c, size_t n);

#endif
