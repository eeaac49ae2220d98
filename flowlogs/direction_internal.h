/* Internal to flowlogs/: the per-record direction rules as inline functions, for the
 * aggregator's hot path (flowlogs/direction.c wraps them as the public functions of
 * flowlogs/direction.h, which document them). Not a public header. */
#ifndef FSG_FLOWLOGS_DIRECTION_INTERNAL_H
#define FSG_FLOWLOGS_DIRECTION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "flowlogs/direction.h"

/* Ports above 1023 that servers commonly listen on (databases first: the RDS use case), placed
 * by a perfect hash: (port * FSG_DIR_PORT_MUL) >> 27 is distinct for each, so a lookup is a
 * multiply, a load and a compare, without the branches of a switch that ephemeral ports would
 * mispredict. */
#define FSG_DIR_PORT_MUL 0x9ad14d7du
#define FSG_DIR_PORT_SHIFT 27
static const uint16_t fsg_dir_service_ports[32] = {
    [19] = 1433,  /* SQL Server */
    [26] = 1521,  /* Oracle */
    [4] = 2049,   /* NFS / EFS */
    [9] = 2375,   /* Docker */
    [28] = 2376,  /* Docker TLS */
    [10] = 3306,  /* MySQL / MariaDB / Aurora MySQL */
    [16] = 3389,  /* RDP */
    [1] = 5432,   /* PostgreSQL / Aurora PostgreSQL */
    [8] = 5439,   /* Redshift */
    [18] = 5671,  /* AMQP TLS */
    [5] = 5672,   /* AMQP */
    [23] = 6379,  /* Redis / ElastiCache */
    [13] = 8080,  /* HTTP alternate */
    [3] = 8182,   /* Neptune */
    [30] = 8443,  /* HTTPS alternate */
    [6] = 9042,   /* Cassandra / Keyspaces */
    [14] = 9092,  /* Kafka */
    [20] = 9094,  /* Kafka TLS (MSK) */
    [24] = 9200,  /* Elasticsearch / OpenSearch */
    [7] = 9300,   /* Elasticsearch transport */
    [29] = 11211, /* Memcached */
    [22] = 27017, /* MongoDB / DocumentDB */
    [25] = 50000, /* Db2 */
};

static inline bool fsg_dir_port_is_service(uint16_t port)
{
    uint32_t slot = (uint32_t)(port * FSG_DIR_PORT_MUL) >> FSG_DIR_PORT_SHIFT;
    /* below 1024 every port but 0; above, the listed ones (an empty slot holds 0, never >= 1024) */
    return port < 1024 ? port != 0 : fsg_dir_service_ports[slot] == port;
}

static inline enum fsg_leg fsg_dir_leg(uint8_t proto, int tcp_flags, uint16_t srcport,
                                       uint16_t dstport, uint16_t service_port)
{
    if (proto == FSG_PROTO_TCP && tcp_flags >= 0 && (tcp_flags & FSG_TCP_SYN) != 0) {
        /* The opener sends SYN; the answer is SYN+ACK (18, or 19 with FIN). */
        return (tcp_flags & FSG_TCP_ACK) != 0 ? FSG_LEG_RESPONSE : FSG_LEG_REQUEST;
    }
    if (srcport == dstport) {
        return FSG_LEG_REQUEST;
    }
    if (service_port != 0) {
        if (dstport == service_port) {
            return FSG_LEG_REQUEST;
        }
        if (srcport == service_port) {
            return FSG_LEG_RESPONSE;
        }
    }
    if (srcport == 0 || dstport == 0) {
        return srcport == 0 ? FSG_LEG_REQUEST : FSG_LEG_RESPONSE;
    }
    bool dst_service = fsg_dir_port_is_service(dstport);
    if (dst_service != fsg_dir_port_is_service(srcport)) {
        return dst_service ? FSG_LEG_REQUEST : FSG_LEG_RESPONSE;
    }
    return dstport < srcport ? FSG_LEG_REQUEST : FSG_LEG_RESPONSE;
}

#endif
