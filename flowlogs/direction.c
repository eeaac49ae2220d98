#include "flowlogs/direction.h"

#include "flowlogs/direction_internal.h"

bool fsg_port_is_service(uint16_t port)
{
    return fsg_dir_port_is_service(port);
}

enum fsg_leg fsg_direction_leg(uint8_t proto, int tcp_flags, uint16_t srcport, uint16_t dstport,
                               uint16_t service_port)
{
    return fsg_dir_leg(proto, tcp_flags, srcport, dstport, service_port);
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
