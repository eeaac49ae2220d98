#include "flowlogs/direction.h"

/* Ports above 1023 that servers commonly listen on (databases first: the RDS use case), placed
 * by a perfect hash: (port * S_PORT_MUL) >> 27 is distinct for each, so a lookup is a multiply, a
 * load and a compare, without the branches of a switch that ephemeral ports would mispredict. */
#define S_PORT_MUL 0x9ad14d7du
#define S_PORT_SHIFT 27
static const uint16_t s_service_ports[32] = {
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

bool fsg_port_is_service(uint16_t port)
{
    uint32_t slot = (uint32_t)(port * S_PORT_MUL) >> S_PORT_SHIFT;
    /* below 1024 every port but 0; above, the listed ones (an empty slot holds 0, never >= 1024) */
    return port < 1024 ? port != 0 : s_service_ports[slot] == port;
}

enum fsg_leg fsg_direction_leg(uint8_t proto, int tcp_flags, uint16_t srcport, uint16_t dstport,
                               uint16_t service_port)
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
    bool dst_service = fsg_port_is_service(dstport);
    if (dst_service != fsg_port_is_service(srcport)) {
        return dst_service ? FSG_LEG_REQUEST : FSG_LEG_RESPONSE;
    }
    return dstport < srcport ? FSG_LEG_REQUEST : FSG_LEG_RESPONSE;
}

static enum fsg_verdict s_from_rdir(enum fsg_leg leg, enum fsg_rdir rdir)
{
    if (leg == FSG_LEG_RESPONSE) {
        return FSG_VERDICT_RETURN;
    }
    return rdir == FSG_RDIR_LEAVING ? FSG_VERDICT_EGRESS : FSG_VERDICT_INGRESS;
}

enum fsg_verdict fsg_direction_verdict(enum fsg_leg leg, enum fsg_rdir rdir, const struct fsg_ip *a,
                                       const struct fsg_ip *b, const struct fsg_ip *eni_v4,
                                       const struct fsg_ip *eni_v6)
{
    if (rdir != FSG_RDIR_UNKNOWN) {
        return s_from_rdir(leg, rdir);
    }
    const struct fsg_ip *eni = b->is_v6 ? eni_v6 : eni_v4;
    if (eni != NULL && fsg_ip_eq(b, eni)) {
        /* the ENI is the responder: requests arrive, responses leave */
        return s_from_rdir(leg, leg == FSG_LEG_REQUEST ? FSG_RDIR_ARRIVING : FSG_RDIR_LEAVING);
    }
    eni = a->is_v6 ? eni_v6 : eni_v4;
    if (eni != NULL && fsg_ip_eq(a, eni)) {
        return s_from_rdir(leg, leg == FSG_LEG_REQUEST ? FSG_RDIR_LEAVING : FSG_RDIR_ARRIVING);
    }
    return s_from_rdir(leg, FSG_RDIR_ARRIVING);
}

const struct fsg_addr_tally *fsg_direction_pick(const struct fsg_addr_tally *c, size_t n)
{
    const struct fsg_addr_tally *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct fsg_addr_tally *t = &c[i];
        if (best == NULL || t->weight > best->weight ||
            (t->weight == best->weight &&
             (t->as_responder > best->as_responder ||
              (t->as_responder == best->as_responder && fsg_ip_cmp(&t->addr, &best->addr) < 0)))) {
            best = t;
        }
    }
    return best;
}
