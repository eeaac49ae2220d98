/* The flow table: the aggregated inbound/outbound connections per network interface.
 * Produced by flowlogs/, consumed by policy/ (impact analysis) and cmd/ (reports). */
#ifndef FSG_LIB_FLOW_H
#define FSG_LIB_FLOW_H

#include <stdint.h>

#include "lib/core/ip.h"

/* first_s/last_s when the format has no start/end fields. */
#define FSG_FLOW_TIME_NONE INT64_MIN
/* "eni-" and 17 hex digits, with room for other resource ids; "-" when unknown. */
#define FSG_ENI_ID_MAX 32

enum fsg_flow_action { FSG_FLOW_ACCEPT = 0, FSG_FLOW_REJECT, FSG_FLOW_ACTION_UNKNOWN };
enum fsg_flow_direction { FSG_FLOW_INGRESS = 0, FSG_FLOW_EGRESS };

/* One aggregated (eni, src, dst, port, proto, action, direction) tuple. Plain data. */
struct fsg_flow {
    char eni[FSG_ENI_ID_MAX];  /* NUL-terminated */
    struct fsg_ip src;         /* the side that opened the connection */
    struct fsg_ip dst;
    uint16_t port;             /* destination port of the connection (0 for ICMP / "-") */
    uint8_t proto;             /* IANA protocol number */
    uint8_t action;            /* enum fsg_flow_action */
    uint8_t direction;         /* enum fsg_flow_direction, relative to eni */
    uint64_t records;
    uint64_t packets;
    uint64_t bytes;
    int64_t first_s;           /* min start, or FSG_FLOW_TIME_NONE */
    int64_t last_s;            /* max end, or FSG_FLOW_TIME_NONE */
};

#endif
