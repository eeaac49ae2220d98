/* nlb-sync against AWS: read everything, plan, register, wait healthy, deregister.
 * See cmd/nlb/nlb_sync.h; ref/aws-wire.md §5.5 (order of operations). */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "lib/core/json.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "cmd/nlb/nlb_sync.h"

/* ---------------------------------------------------------------------------------------- */
/* Defaults for the injected time functions. */

static void s_sleep(long ms, void *userdata)
{
    (void)userdata;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}

static long long s_clock_ms(void *userdata)
{
    (void)userdata;
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum fsg_err fsg_nlb_resolve_getaddrinfo(const char *host, char *ret_ip, void *userdata)
{
    (void)userdata;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    if (host == NULL || getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return FSG_E_NOT_FOUND;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    }
    char host_buf[NI_MAXHOST];
    int rc = getnameinfo(pick->ai_addr, pick->ai_addrlen, host_buf, sizeof host_buf, NULL, 0,
                         NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0 || strlen(host_buf) >= FSG_IP_STR_MAX) {
        return FSG_E_NOT_FOUND;
    }
    snprintf(ret_ip, FSG_IP_STR_MAX, "%s", host_buf);
    return FSG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Result. */

void fsg_nlb_sync_result_clean_up(struct fsg_nlb_sync_result *r)
{
    if (r == NULL) {
        return;
    }
    fsg_free(r->eni_id);
    fsg_free(r->availability_zone);
    fsg_nlb_plan_clean_up(&r->plan);
    fsg_free(r->deregistered);
    fsg_elbv2_target_health_list_clean_up(&r->health);
    *r = (struct fsg_nlb_sync_result){ 0 };
}

/* The run's state, to keep the steps small. */
struct s_run {
    const struct fsg_nlb_sync_options *o;
    struct fsg_nlb_sync_result *r;
    struct fsg_elbv2_target_group tg;
    struct fsg_rds_instance db;
    bool register_az_all;  /* the group's VPC is not the database's: AvailabilityZone=all */
};

static void s_emit(const struct s_run *run, enum fsg_nlb_event_kind kind,
                   const struct fsg_nlb_endpoint *target, const char *reason)
{
    if (run->o->on_event == NULL) {
        return;
    }
    struct fsg_nlb_event ev = {
        .kind = kind,
        .target_group_arn = run->o->target_group_arn,
        .rds_instance = run->o->rds_instance,
        .target = target,
        .dry_run = run->o->dry_run,
        .reason = reason,
    };
    run->o->on_event(&ev, run->o->event_userdata);
}

/* ---------------------------------------------------------------------------------------- */
/* Steps. */

static enum fsg_err s_read_target_group(struct s_run *run, struct fsg_error *err)
{
    const struct fsg_nlb_sync_options *o = run->o;
    enum fsg_err rc = fsg_elbv2_describe_target_group(o->elbv2, o->target_group_arn, &run->tg, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (run->tg.target_type == NULL || strcmp(run->tg.target_type, "ip") != 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "target group %s has target type %s; nlb-sync needs a target group "
                             "of type ip", o->target_group_arn,
                             run->tg.target_type != NULL ? run->tg.target_type : "(none)");
    }
    return FSG_OK;
}

static enum fsg_err s_read_instance(struct s_run *run, struct fsg_error *err)
{
    const struct fsg_nlb_sync_options *o = run->o;
    enum fsg_err rc = fsg_rds_describe_db_instance(o->rds, o->rds_instance, &run->db, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (run->db.availability_zone == NULL) {
        return fsg_error_set(err, FSG_E_NOT_FOUND,
                             "DB instance %s (status %s) has no availability zone yet; retry once "
                             "it is available", o->rds_instance,
                             run->db.status != NULL ? run->db.status : "unknown");
    }
    if (run->db.n_vpc_sgs == 0) {
        return fsg_error_set(err, FSG_E_NOT_FOUND,
                             "DB instance %s has no VPC security group to find its network "
                             "interface by", o->rds_instance);
    }
    long port = o->port > 0 ? o->port : run->db.endpoint_port;
    if (port <= 0 || port > 65535) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "DB instance %s has no endpoint port yet and the config gives none "
                             "(nlb.port)", o->rds_instance);
    }
    run->r->address.port = port;
    run->register_az_all = run->tg.vpc_id != NULL && run->db.vpc_id != NULL &&
                           strcmp(run->tg.vpc_id, run->db.vpc_id) != 0;
    return FSG_OK;
}

/* DescribeNetworkInterfaces filtered by the instance's groups, AZ and VPC, then the pure pick. */
static enum fsg_err s_find_address(struct s_run *run, struct fsg_error *err)
{
    const struct fsg_rds_instance *db = &run->db;
    struct fsg_ec2_eni_list enis = { 0 };
    const char **sgs = fsg_calloc(db->n_vpc_sgs, sizeof *sgs);
    if (sgs == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < db->n_vpc_sgs; i++) {
        sgs[i] = db->vpc_sgs[i].group_id;
    }
    const char *az[] = { db->availability_zone }, *vpc[] = { db->vpc_id };
    const struct fsg_ec2_filter f[] = { { "group-id", sgs, db->n_vpc_sgs },
                                        { "availability-zone", az, 1 },
                                        { "vpc-id", vpc, 1 } };
    enum fsg_err rc = fsg_ec2_describe_network_interfaces(run->o->ec2, NULL, 0, f,
                                                          db->vpc_id != NULL ? 3 : 2, &enis, err);
    char resolved[FSG_IP_STR_MAX] = "";
    size_t count = 0;
    for (size_t i = 0; rc == FSG_OK && i < enis.len; i++) {
        count += fsg_nlb_eni_matches(db, &enis.items[i]) ? 1 : 0;
    }
    if (rc == FSG_OK && count > 1 && run->o->resolve != NULL && db->endpoint_address != NULL &&
        run->o->resolve(db->endpoint_address, resolved, run->o->resolve_userdata) != FSG_OK) {
        resolved[0] = '\0';
    }
    size_t idx = 0;
    if (rc == FSG_OK) {
        rc = fsg_nlb_select_eni(db, &enis, resolved[0] != '\0' ? resolved : NULL, &idx, err);
    }
    if (rc == FSG_OK) {
        const struct fsg_ec2_eni *e = &enis.items[idx];
        struct fsg_ip ip;
        run->r->eni_id = fsg_strdup(e->eni_id);
        run->r->availability_zone = fsg_strdup(db->availability_zone);
        rc = run->r->eni_id != NULL && run->r->availability_zone != NULL ? FSG_OK : FSG_E_NOMEM;
        if (rc == FSG_OK && fsg_ip_parse(fsg_span_from_cstr(e->private_ip), &ip) == FSG_OK) {
            fsg_ip_format(&ip, run->r->address.ip);
        } else if (rc != FSG_OK) {
            fsg_error_set(err, rc, "out of memory");
        }
    }
    fsg_ec2_eni_list_clean_up(&enis);
    fsg_free(sgs);
    return rc;
}

static enum fsg_err s_read_health(struct s_run *run, struct fsg_error *err)
{
    struct fsg_elbv2_target_health_list l = { 0 };
    enum fsg_err rc = fsg_elbv2_describe_target_health(run->o->elbv2, run->o->target_group_arn,
                                                       &l, err);
    if (rc == FSG_OK) {
        fsg_elbv2_target_health_list_clean_up(&run->r->health);
        run->r->health = l;
    }
    return rc;
}

static enum fsg_err s_change(struct s_run *run, bool do_register,
                             const struct fsg_nlb_endpoint *eps, size_t n, struct fsg_error *err)
{
    struct fsg_elbv2_target *t = fsg_calloc(n, sizeof *t);
    if (t == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        t[i] = (struct fsg_elbv2_target){
            .id = eps[i].ip,
            .port = eps[i].port,
            .availability_zone = do_register && run->register_az_all ? "all" : NULL,
        };
    }
    const char *arn = run->o->target_group_arn;
    enum fsg_err rc = do_register ? fsg_elbv2_register_targets(run->o->elbv2, arn, t, n, err)
                                  : fsg_elbv2_deregister_targets(run->o->elbv2, arn, t, n, err);
    fsg_free(t);
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        s_emit(run, do_register ? FSG_NLB_EVENT_REGISTER : FSG_NLB_EVENT_DEREGISTER, &eps[i], NULL);
    }
    return rc;
}

/* Records the health of the wanted target that is not healthy. */
static void s_note_unhealthy(struct s_run *run, const struct fsg_nlb_endpoint *e)
{
    struct fsg_nlb_sync_result *r = run->r;
    const struct fsg_elbv2_target_health *t = fsg_nlb_find_target(&r->health, e, run->tg.port);
    snprintf(r->last_state, sizeof r->last_state, "%s",
             t != NULL && t->state != NULL ? t->state : "not registered");
    snprintf(r->last_reason, sizeof r->last_reason, "%s",
             t != NULL && t->reason != NULL ? t->reason : "");
    snprintf(r->last_description, sizeof r->last_description, "%s",
             t != NULL && t->description != NULL ? t->description : "");
}

static enum fsg_err s_timeout(struct s_run *run, const struct fsg_nlb_endpoint *e, long timeout_s,
                              struct fsg_error *err)
{
    struct fsg_nlb_sync_result *r = run->r;
    char why[512];
    snprintf(why, sizeof why, "replacement %s:%ld is not healthy (state %s%s%s%s%.200s)", e->ip,
             e->port, r->last_state, r->last_reason[0] != '\0' ? ", reason " : "", r->last_reason,
             r->last_description[0] != '\0' ? ": " : "", r->last_description);
    for (size_t i = 0; i < r->plan.n_deregister; i++) {
        s_emit(run, FSG_NLB_EVENT_KEEP_STALE, &r->plan.to_deregister[i], why);
    }
    r->stale_kept = r->plan.n_deregister > 0;
    return fsg_error_set(err, FSG_E_CANCELLED,
                         "target %s:%ld did not become healthy within %ld s in target group %s "
                         "(last state %s%s%s%s%s); %s; check that the database's security group "
                         "allows the load balancer's health checks",
                         e->ip, e->port, timeout_s, run->o->target_group_arn, r->last_state,
                         r->last_reason[0] != '\0' ? ", reason " : "", r->last_reason,
                         r->last_description[0] != '\0' ? ": " : "", r->last_description,
                         r->plan.n_deregister > 0 ? "the old targets stay registered"
                                                  : "nothing was deregistered");
}

/* Polls DescribeTargetHealth until every wanted target is healthy or the deadline passes. */
static enum fsg_err s_wait_healthy(struct s_run *run, const struct fsg_nlb_endpoint *wanted,
                                   struct fsg_error *err)
{
    const struct fsg_nlb_sync_options *o = run->o;
    fsg_nlb_sleep_fn *sleep_fn = o->sleep != NULL ? o->sleep : s_sleep;
    fsg_nlb_clock_ms_fn *clock_fn = o->clock_ms != NULL ? o->clock_ms : s_clock_ms;
    long timeout_s = o->healthy_timeout_s > 0 ? o->healthy_timeout_s
                                              : FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S;
    long poll_ms = o->poll_ms > 0 ? o->poll_ms : FSG_NLB_DEFAULT_POLL_MS;
    long long deadline = clock_fn(o->clock_userdata) + (long long)timeout_s * 1000;
    for (;;) {
        enum fsg_err rc = s_read_health(run, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (fsg_nlb_first_unhealthy(wanted, 1, &run->r->health, run->tg.port) == 1) {
            return FSG_OK;
        }
        s_note_unhealthy(run, wanted);
        long long now = clock_fn(o->clock_userdata);
        if (now >= deadline) {
            return s_timeout(run, wanted, timeout_s, err);
        }
        fsg_log(FSG_LOG_DEBUG, "nlb-sync: %s:%ld is %s, waiting", wanted->ip, wanted->port,
                run->r->last_state);
        sleep_fn(deadline - now < poll_ms ? (long)(deadline - now) : poll_ms, o->clock_userdata);
    }
}

/* After the wait: deregister what is still registered and not wanted (re-planned on the last
 * answer, so a target another run already removed is not deregistered twice). */
static enum fsg_err s_deregister_stale(struct s_run *run, struct fsg_error *err)
{
    struct fsg_nlb_plan now = { 0 };
    enum fsg_err rc = fsg_nlb_plan_make(&run->r->address, 1, &run->r->health, run->tg.port, &now,
                                        err);
    if (rc == FSG_OK && now.n_deregister > 0) {
        rc = s_change(run, false, now.to_deregister, now.n_deregister, err);
        if (rc == FSG_OK) {
            run->r->deregistered = now.to_deregister;
            run->r->n_deregistered = now.n_deregister;
            now.to_deregister = NULL;
        }
    }
    fsg_nlb_plan_clean_up(&now);
    return rc;
}

static enum fsg_err s_apply(struct s_run *run, struct fsg_error *err)
{
    struct fsg_nlb_sync_result *r = run->r;
    if (r->plan.n_register > 0) {
        enum fsg_err rc = s_change(run, true, r->plan.to_register, r->plan.n_register, err);
        if (rc != FSG_OK) {
            return rc;
        }
        r->registered = true;
    }
    enum fsg_err rc = s_wait_healthy(run, &r->address, err);
    if (rc == FSG_OK) {
        rc = s_deregister_stale(run, err);
    }
    return rc;
}

static enum fsg_err s_dry_run(struct s_run *run)
{
    struct fsg_nlb_sync_result *r = run->r;
    for (size_t i = 0; i < r->plan.n_register; i++) {
        s_emit(run, FSG_NLB_EVENT_REGISTER, &r->plan.to_register[i], NULL);
    }
    for (size_t i = 0; i < r->plan.n_deregister; i++) {
        s_emit(run, FSG_NLB_EVENT_DEREGISTER, &r->plan.to_deregister[i], NULL);
    }
    if (r->plan.n_deregister > 0) {
        r->deregistered = fsg_calloc(r->plan.n_deregister, sizeof *r->deregistered);
        if (r->deregistered == NULL) {
            return FSG_E_NOMEM;
        }
        memcpy(r->deregistered, r->plan.to_deregister,
               r->plan.n_deregister * sizeof *r->deregistered);
        r->n_deregistered = r->plan.n_deregister;
    }
    r->outcome = FSG_NLB_WOULD_UPDATE;
    return FSG_OK;
}

enum fsg_err fsg_nlb_sync_run(const struct fsg_nlb_sync_options *o,
                              struct fsg_nlb_sync_result *result, struct fsg_error *err)
{
    if (o->target_group_arn == NULL || o->target_group_arn[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no target group ARN (nlb.target_group_arn)");
    }
    if (o->rds_instance == NULL || o->rds_instance[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no RDS instance (nlb.rds_instance)");
    }
    if (o->ec2 == NULL || o->rds == NULL || o->elbv2 == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "nlb-sync needs EC2, RDS and ELBv2 clients");
    }
    struct s_run run = { .o = o, .r = result };
    result->outcome = FSG_NLB_FAILED;
    enum fsg_err rc = s_read_target_group(&run, err);
    if (rc == FSG_OK) {
        rc = s_read_instance(&run, err);
    }
    if (rc == FSG_OK) {
        rc = s_find_address(&run, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_health(&run, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_nlb_plan_make(&result->address, 1, &result->health, run.tg.port, &result->plan,
                               err);
        result->planned = rc == FSG_OK;
    }
    if (rc == FSG_OK && fsg_nlb_plan_is_empty(&result->plan)) {
        result->outcome = FSG_NLB_IN_SYNC;
    } else if (rc == FSG_OK && o->dry_run) {
        rc = s_dry_run(&run);
        if (rc != FSG_OK) {
            fsg_error_set(err, rc, "out of memory");
        }
    } else if (rc == FSG_OK) {
        rc = s_apply(&run, err);
        result->outcome = rc == FSG_OK ? FSG_NLB_UPDATED : FSG_NLB_FAILED;
    }
    fsg_rds_instance_clean_up(&run.db);
    fsg_elbv2_target_group_clean_up(&run.tg);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON. */

static const char *const s_event_names[] = {
    [FSG_NLB_EVENT_REGISTER] = "nlb_register",
    [FSG_NLB_EVENT_DEREGISTER] = "nlb_deregister",
    [FSG_NLB_EVENT_KEEP_STALE] = "nlb_deregister_refused",
};

/* Appends obj's members without the enclosing braces. */
static enum fsg_err s_dump_fields(json_t *obj, struct fsg_buf *out)
{
    struct fsg_buf tmp = FSG_BUF_INIT;
    enum fsg_err rc = obj != NULL ? fsg_json_dump(obj, JSON_COMPACT | JSON_PRESERVE_ORDER, &tmp)
                                  : FSG_E_NOMEM;
    if (rc == FSG_OK && tmp.len >= 2) {
        rc = fsg_buf_append(out, tmp.ptr + 1, tmp.len - 2);
    }
    fsg_buf_clean_up(&tmp);
    return rc;
}

enum fsg_err fsg_nlb_event_json(const struct fsg_nlb_event *ev, struct fsg_buf *out)
{
    const char *arn = ev->target_group_arn != NULL ? ev->target_group_arn : "";
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "event", s_event_names[ev->kind],
                          "target_group_arn", arn,
                          "rds_instance", ev->rds_instance != NULL ? ev->rds_instance : "",
                          "target", ev->target->ip, "port", (json_int_t)ev->target->port,
                          "dry_run", ev->dry_run);
    if (o != NULL && ev->reason != NULL && json_object_set_new(o, "reason",
                                                               json_string(ev->reason)) != 0) {
        json_decref(o);
        return FSG_E_NOMEM;
    }
    enum fsg_err rc = s_dump_fields(o, out);
    json_decref(o);
    return rc;
}

static json_t *s_endpoints(const struct fsg_nlb_endpoint *e, size_t n,
                           const struct fsg_elbv2_target_health_list *health, long default_port)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *x = json_pack("{s:s, s:I}", "id", e[i].ip, "port", (json_int_t)e[i].port);
        const struct fsg_elbv2_target_health *t =
            health != NULL ? fsg_nlb_find_target(health, &e[i], default_port) : NULL;
        if (x != NULL && health != NULL) {
            json_object_set_new(x, "state", json_string(t != NULL && t->state != NULL ? t->state
                                                                                      : "unknown"));
        }
        if (x == NULL || json_array_append_new(a, x) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static const char *s_outcome_name(enum fsg_nlb_outcome o)
{
    switch (o) {
    case FSG_NLB_FAILED:
        return "failed";
    case FSG_NLB_IN_SYNC:
        return "in_sync";
    case FSG_NLB_UPDATED:
        return "updated";
    case FSG_NLB_WOULD_UPDATE:
        return "would_update";
    }
    return "failed";
}

enum fsg_err fsg_nlb_sync_result_json(const struct fsg_nlb_sync_options *o,
                                      const struct fsg_nlb_sync_result *r, struct fsg_buf *out)
{
    const struct fsg_nlb_plan *p = &r->plan;
    bool show_registered = r->registered || (o->dry_run && r->planned);
    json_t *reg = s_endpoints(p->to_register, show_registered ? p->n_register : 0, NULL, 0);
    json_t *dereg = s_endpoints(r->deregistered, r->n_deregistered, NULL, 0);
    json_t *unch = s_endpoints(p->unchanged, p->n_unchanged, &r->health, 0);
    json_t *kept = s_endpoints(p->to_deregister, r->stale_kept ? p->n_deregister : 0, NULL, 0);
    json_t *root = NULL;
    if (reg != NULL && dereg != NULL && unch != NULL && kept != NULL) {
        root = json_pack("{s:s, s:s, s:s?, s:I, s:s?, s:s?, s:O, s:O, s:O, s:O, s:b, s:s}",
                         "target_group_arn", o->target_group_arn != NULL ? o->target_group_arn : "",
                         "rds_instance", o->rds_instance != NULL ? o->rds_instance : "",
                         "address", r->planned ? r->address.ip : NULL,
                         "port", (json_int_t)r->address.port,
                         "eni", r->eni_id, "availability_zone", r->availability_zone,
                         "registered", reg, "deregistered", dereg, "unchanged", unch,
                         "kept_stale", kept, "dry_run", o->dry_run,
                         "result", s_outcome_name(r->outcome));
    }
    enum fsg_err rc = root != NULL ? fsg_json_dump(root, JSON_COMPACT | JSON_PRESERVE_ORDER, out)
                                   : FSG_E_NOMEM;
    json_decref(root);
    json_decref(reg);
    json_decref(dereg);
    json_decref(unch);
    json_decref(kept);
    return rc;
}
