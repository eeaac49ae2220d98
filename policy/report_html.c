/* The html report: one self-contained page (inline CSS and SVG, no script, no external
 * reference) with, per target, a picture of who reaches the database and the tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/report_internal.h"

/* Picture geometry, in SVG user units (px at 100% zoom). */
#define S_W 960
#define S_ROW 34      /* vertical pitch of client / rule boxes */
#define S_TOP 62      /* room for the legend and the column captions */
#define S_BOX_H 24
#define S_LEFT_X 12
#define S_LEFT_W 200
#define S_DB_X 390
#define S_DB_W 180
#define S_RIGHT_X 760
#define S_RIGHT_W 188
/* More boxes than this per column are folded into one "+N more" box, to stay legible. */
#define S_MAX_NODES 40

enum s_kind { S_ALLOWED = 0, S_DENIED, S_BYPASS, S_UNSEEN, S_POLICY, S_MORE };

struct s_node {
    char label[FSG_CIDR_STR_MAX + 16]; /* the box text: an address or a block */
    char edge[96];                     /* the edge label */
    char tip[320];                     /* hover text */
    enum s_kind kind;
    uint64_t records;
};

static const char *const s_css =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;"
    "color:#1b1f24;background:#fff}h1{font-size:22px;margin:0 0 4px}"
    "h2{font-size:18px;margin:32px 0 6px;border-top:2px solid #d0d7de;padding-top:16px}"
    "h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0 12px}"
    "th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f5f7}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;"
    "font-size:12.5px}.add{color:#1a7f37}.remove{color:#c62828}.muted{color:#57606a}"
    ".refused{background:#fff1f0;border:1px solid #c62828;border-left:6px solid #c62828;"
    "padding:8px 12px;margin:8px 0}.ok{background:#effaf2;border:1px solid #1a7f37;"
    "border-left:6px solid #1a7f37;padding:8px 12px;margin:8px 0}"
    ".chips span{display:inline-block;margin:0 8px 4px 0;padding:2px 10px;border-radius:12px;"
    "background:#f3f5f7;border:1px solid #d0d7de}svg{max-width:100%;height:auto;"
    "border:1px solid #d0d7de;border-radius:6px;background:#fcfcfd}"
    "ul.warn li{color:#7d4e00}details{margin:6px 0}.bypasstitle{color:#b45309}"
    ".bypass,.review{background:#fff7e6;border:1px solid #d97706;border-left:6px solid #d97706;"
    "padding:8px 12px;margin:8px 0}";

/* Text for HTML bodies and attributes. ':' is written as a character reference so that no
 * "scheme://" string (hence nothing a browser could fetch) appears in the file. */
static enum fsg_err s_esc(struct fsg_buf *out, const char *s)
{
    enum fsg_err rc = FSG_OK;
    for (const char *p = s != NULL ? s : ""; rc == FSG_OK && *p != '\0'; p++) {
        switch (*p) {
        case '&':
            rc = fsg_buf_append_cstr(out, "&amp;");
            break;
        case '<':
            rc = fsg_buf_append_cstr(out, "&lt;");
            break;
        case '>':
            rc = fsg_buf_append_cstr(out, "&gt;");
            break;
        case '"':
            rc = fsg_buf_append_cstr(out, "&quot;");
            break;
        case '\'':
            rc = fsg_buf_append_cstr(out, "&#39;");
            break;
        case ':':
            rc = fsg_buf_append_cstr(out, "&#58;");
            break;
        default:
            rc = fsg_buf_append_byte(out, (uint8_t)*p);
            break;
        }
    }
    return rc;
}

/* ---- the picture ----------------------------------------------------------------------------- */

static double s_stroke(uint64_t records)
{
    int digits = 0;
    for (uint64_t r = records; r > 0; r /= 10) {
        digits++;
    }
    double w = 1.5 + 0.8 * digits;
    return w > 6.0 ? 6.0 : w;
}

static enum s_kind s_conn_kind(const struct fsg_impact_conn *c)
{
    if (!c->allowed_after) {
        return S_DENIED;
    }
    return c->allowed ? S_ALLOWED : S_BYPASS;
}

static void s_conn_node(struct s_node *n, const struct fsg_impact_conn *c)
{
    char proto[8], when[32], pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
    const char *p = fsg_report_flow_proto(c->proto, proto);
    const struct fsg_sg_rule *r = &c->via_rule;
    fsg_ip_format(&c->src, n->label);
    if (c->workload != NULL) {
        /* the address and, as far as the box has room (26 characters), who it is */
        size_t used = strlen(n->label);
        snprintf(n->label + used, sizeof n->label - used, " %.*s",
                 used < 24 ? (int)(24 - used) : 0, c->workload);
    }
    n->kind = s_conn_kind(c);
    n->records = c->records;
    snprintf(n->edge, sizeof n->edge, "%s%s/%u, %llu rec",
             n->kind == S_DENIED ? (c->accepted > 0 ? "CUT " : "DENY ")
                                 : n->kind == S_BYPASS ? "BYPASS " : "",
             p, c->port, (unsigned long long)c->records);
    char why[160] = "DENIED after the apply by every security group of the interface";
    if (c->allowed_after) {
        snprintf(why, sizeof why, "allowed after by %s%s %s %s from %s",
                 c->via == FSG_IMPACT_VIA_POLICY ? "the policy: " : "a rule OUTSIDE the policy: ",
                 c->via_group != NULL ? c->via_group : "?", fsg_sg_proto_name(r->proto, pbuf),
                 fsg_report_ports(r, ports), fsg_cidr_format(&r->cidr, cidr));
    }
    char ip[FSG_IP_STR_MAX];
    snprintf(n->tip, sizeof n->tip, "%s%s%s to %s/%u: %llu records (%llu accepted today), "
                                    "last %s; %s", fsg_ip_format(&c->src, ip),
             c->workload != NULL ? " workload " : "",
             c->workload != NULL ? c->workload : "", p, c->port, (unsigned long long)c->records,
             (unsigned long long)c->accepted, fsg_report_time(c->last_s, when), why);
}

static void s_rule_node(struct s_node *n, const struct fsg_sg_rule *r, enum s_kind kind)
{
    char pbuf[8], pspace[40];
    const char *p = fsg_sg_proto_name(r->proto, pbuf);
    const char *ports = fsg_report_ports(r, pspace);
    fsg_cidr_format(&r->cidr, n->label);
    n->kind = kind;
    snprintf(n->edge, sizeof n->edge, "%s/%s%s", p, ports, kind == S_UNSEEN ? ", no traffic" : "");
    snprintf(n->tip, sizeof n->tip, "%s %s from %s: %s", p, ports, n->label,
             r->description != NULL ? r->description : "");
}

/* Denied first, then bypasses, then busiest, then by address: what a reviewer must see first. */
static int s_conn_rank(const void *pa, const void *pb)
{
    const struct fsg_impact_conn *a = *(const struct fsg_impact_conn *const *)pa;
    const struct fsg_impact_conn *b = *(const struct fsg_impact_conn *const *)pb;
    int ka = s_conn_kind(a) == S_ALLOWED ? 2 : s_conn_kind(a) == S_BYPASS ? 1 : 0;
    int kb = s_conn_kind(b) == S_ALLOWED ? 2 : s_conn_kind(b) == S_BYPASS ? 1 : 0;
    if (ka != kb) {
        return ka < kb ? -1 : 1;
    }
    if (a->records != b->records) {
        return a->records > b->records ? -1 : 1;
    }
    return fsg_ip_cmp(&a->src, &b->src);
}

/* Folds everything past S_MAX_NODES - 1 into one box. */
static size_t s_fold(struct s_node *nodes, size_t n, size_t total, uint64_t extra_records)
{
    if (total <= S_MAX_NODES) {
        return n;
    }
    struct s_node *m = &nodes[S_MAX_NODES - 1];
    *m = (struct s_node){ .kind = S_MORE, .records = extra_records };
    snprintf(m->label, sizeof m->label, "+%zu more", total - (S_MAX_NODES - 1));
    snprintf(m->edge, sizeof m->edge, "%llu rec", (unsigned long long)extra_records);
    snprintf(m->tip, sizeof m->tip, "%zu more sources; see the tables",
             total - (S_MAX_NODES - 1));
    return S_MAX_NODES;
}

/* Left column: observed connections (or, without flows, the sources the policy allows). */
static enum fsg_err s_left_nodes(const struct fsg_plan_target *t, struct s_node *nodes,
                                 size_t *ret_n)
{
    const struct fsg_impact *im = t->impact;
    size_t n = 0;
    if (im == NULL) {
        for (size_t i = 0; i < t->sg->desired.len && n < S_MAX_NODES; i++) {
            s_rule_node(&nodes[n++], &t->sg->desired.items[i], S_POLICY);
        }
        *ret_n = s_fold(nodes, n, t->sg->desired.len, 0);
        return FSG_OK;
    }
    const struct fsg_impact_conn **rank = fsg_calloc(im->n_conns + 1, sizeof *rank);
    if (rank == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < im->n_conns; i++) {
        rank[i] = &im->conns[i];
    }
    qsort((void *)rank, im->n_conns, sizeof *rank, s_conn_rank);
    uint64_t extra = 0;
    for (size_t i = 0; i < im->n_conns; i++) {
        if (n < S_MAX_NODES) {
            s_conn_node(&nodes[n++], rank[i]);
        }
        extra += i >= S_MAX_NODES - 1 ? rank[i]->records : 0;
    }
    fsg_free((void *)rank);
    *ret_n = s_fold(nodes, n, im->n_conns, extra);
    return FSG_OK;
}

static size_t s_right_nodes(const struct fsg_plan_target *t, struct s_node *nodes)
{
    const struct fsg_sg_rules *unseen = t->impact != NULL ? &t->impact->allowed_unseen : NULL;
    size_t n = 0;
    for (size_t i = 0; unseen != NULL && i < unseen->len && n < S_MAX_NODES; i++) {
        s_rule_node(&nodes[n++], &unseen->items[i], S_UNSEEN);
    }
    return s_fold(nodes, n, unseen != NULL ? unseen->len : 0, 0);
}

static const char *s_color(enum s_kind k)
{
    switch (k) {
    case S_ALLOWED:
    case S_POLICY:
        return "#1a7f37";
    case S_DENIED:
        return "#c62828";
    case S_BYPASS:
        return "#d97706";
    case S_UNSEEN:
    case S_MORE:
        return "#8c959f";
    }
    return "#8c959f";
}

/* The edge of one box to the database; left boxes sit before it, right boxes after it. Edges
 * are drawn first, so boxes and labels stay on top of every curve. */
static enum fsg_err s_svg_edge(struct fsg_buf *out, const struct s_node *n, bool left, int cy,
                               int db_cy)
{
    int x1 = left ? S_LEFT_X + S_LEFT_W : S_DB_X + S_DB_W, y1 = left ? cy : db_cy;
    int x2 = left ? S_DB_X : S_RIGHT_X, y2 = left ? db_cy : cy, mid = (x1 + x2) / 2;
    enum fsg_err rc = fsg_buf_printf(out, "<path d=\"M%d %d C%d %d,%d %d,%d %d\" fill=\"none\" "
                                          "stroke=\"%s\" stroke-width=\"%.1f\"%s><title>",
                                     x1, y1, mid, y1, mid, y2, x2, y2, s_color(n->kind),
                                     s_stroke(n->records),
                                     n->kind == S_UNSEEN ? " stroke-dasharray=\"6 4\"" : "");
    rc = rc == FSG_OK ? s_esc(out, n->tip) : rc;
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</title></path>\n") : rc;
}

/* The box and its edge label (beside the box, where the edge is still horizontal). */
static enum fsg_err s_svg_box(struct fsg_buf *out, const struct s_node *n, bool left, int cy)
{
    const char *col = s_color(n->kind);
    int bx = left ? S_LEFT_X : S_RIGHT_X, bw = left ? S_LEFT_W : S_RIGHT_W;
    enum fsg_err rc = fsg_buf_printf(out, "<g><title>");
    rc = rc == FSG_OK ? s_esc(out, n->tip) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                                 "rx=\"5\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.5\"/>"
                                 "<text x=\"%d\" y=\"%d\" class=\"mono\" font-size=\"12\">",
                            bx, cy - S_BOX_H / 2, bw, S_BOX_H, col, bx + 8, cy + 4);
    }
    rc = rc == FSG_OK ? s_esc(out, n->label) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\" "
                                 "text-anchor=\"%s\" font-weight=\"%s\" stroke=\"#fcfcfd\" "
                                 "stroke-width=\"4\" paint-order=\"stroke\">",
                            left ? bx + bw + 6 : bx - 6, cy - 8, col, left ? "start" : "end",
                            n->kind == S_DENIED || n->kind == S_BYPASS ? "bold" : "normal");
    }
    rc = rc == FSG_OK ? s_esc(out, n->edge) : rc;
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</text></g>\n") : rc;
}

/* Edges (pass 0) then boxes (pass 1) of one column, centred on the database. */
static enum fsg_err s_svg_column(struct fsg_buf *out, const struct s_node *nodes, size_t n,
                                 bool left, size_t rows, int pass, int db_cy)
{
    enum fsg_err rc = FSG_OK;
    int off = (int)(rows - n) * S_ROW / 2;
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        int cy = S_TOP + off + (int)i * S_ROW + S_ROW / 2;
        rc = pass == 0 ? s_svg_edge(out, &nodes[i], left, cy, db_cy)
                       : s_svg_box(out, &nodes[i], left, cy);
    }
    return rc;
}

static enum fsg_err s_svg_db(struct fsg_buf *out, const struct fsg_plan_target *t, int db_cy)
{
    int h = 64, y = db_cy - h / 2;
    enum fsg_err rc = fsg_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                                          "rx=\"8\" fill=\"#0b3d91\"/><text x=\"%d\" y=\"%d\" "
                                          "fill=\"#fff\" font-size=\"14\" font-weight=\"bold\" "
                                          "text-anchor=\"middle\">",
                                     S_DB_X, y, S_DB_W, h, S_DB_X + S_DB_W / 2, y + 24);
    rc = rc == FSG_OK ? s_esc(out, t->name) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "</text><text x=\"%d\" y=\"%d\" fill=\"#dbe7ff\" "
                                 "font-size=\"11\" text-anchor=\"middle\" class=\"mono\">",
                            S_DB_X + S_DB_W / 2, y + 44);
    }
    rc = rc == FSG_OK ? s_esc(out, t->security_group) : rc;
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</text>\n") : rc;
}

static enum fsg_err s_svg_legend(struct fsg_buf *out, bool has_flows)
{
    return fsg_buf_printf(out,
                          "<g font-size=\"12\"><line x1=\"12\" y1=\"18\" x2=\"40\" y2=\"18\" "
                          "stroke=\"#1a7f37\" stroke-width=\"3\"/><text x=\"46\" y=\"22\">%s"
                          "</text><line x1=\"210\" y1=\"18\" x2=\"238\" y2=\"18\" "
                          "stroke=\"#c62828\" stroke-width=\"3\"/><text x=\"244\" y=\"22\">"
                          "denied after (CUT: accepted today)</text><line x1=\"470\" y1=\"18\" "
                          "x2=\"498\" y2=\"18\" stroke=\"#d97706\" stroke-width=\"3\"/>"
                          "<text x=\"504\" y=\"22\">allowed only outside the policy</text>"
                          "<line x1=\"720\" y1=\"18\" x2=\"748\" y2=\"18\" "
                          "stroke=\"#8c959f\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
                          "<text x=\"754\" y=\"22\">allowed, no traffic</text>"
                          "</g>\n<g font-size=\"11\" fill=\"#57606a\" font-weight=\"bold\">"
                          "<text x=\"%d\" y=\"44\">%s</text><text x=\"%d\" y=\"44\" "
                          "text-anchor=\"middle\">DATABASE</text><text x=\"%d\" y=\"44\" "
                          "text-anchor=\"end\">%s</text></g>\n",
                          has_flows ? "allowed by the policy" : "allowed by policy (no flow data)",
                          S_LEFT_X, has_flows ? "OBSERVED CLIENTS" : "SOURCES THE POLICY ALLOWS",
                          S_DB_X + S_DB_W / 2, S_RIGHT_X + S_RIGHT_W,
                          has_flows ? "ALLOWED, NO TRAFFIC SEEN" : "");
}

static enum fsg_err s_svg(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    struct s_node *left = fsg_calloc(2 * S_MAX_NODES, sizeof *left);
    if (left == NULL) {
        return FSG_E_NOMEM;
    }
    struct s_node *right = left + S_MAX_NODES;
    size_t nl = 0;
    enum fsg_err rc = s_left_nodes(t, left, &nl);
    size_t nr = s_right_nodes(t, right);
    size_t rows = nl > nr ? nl : nr;
    rows = rows < 2 ? 2 : rows;
    int height = S_TOP + (int)rows * S_ROW + 12, db_cy = S_TOP + (int)rows * S_ROW / 2;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                                 "role=\"img\" aria-label=\"who reaches %s\">\n", S_W, height,
                            S_W, height, t->security_group);
    }
    rc = rc == FSG_OK ? s_svg_legend(out, t->impact != NULL) : rc;
    for (int pass = 0; rc == FSG_OK && pass < 2; pass++) {
        rc = s_svg_column(out, left, nl, true, rows, pass, db_cy);
        rc = rc == FSG_OK ? s_svg_column(out, right, nr, false, rows, pass, db_cy) : rc;
    }
    rc = rc == FSG_OK ? s_svg_db(out, t, db_cy) : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</svg>\n") : rc;
    fsg_free(left);
    return rc;
}

/* ---- tables ---------------------------------------------------------------------------------- */

static enum fsg_err s_rules_table(struct fsg_buf *out, const char *title, const char *cls,
                                  const struct fsg_sg_rules *l)
{
    if (l->len == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "<h3 class=\"%s\">%s (%zu)</h3>\n<table><tr><th>proto"
                                          "</th><th>ports</th><th>source</th><th>description"
                                          "</th></tr>\n", cls, title, l->len);
    for (size_t i = 0; rc == FSG_OK && i < l->len; i++) {
        const struct fsg_sg_rule *r = &l->items[i];
        char pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
        rc = fsg_buf_printf(out, "<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td>",
                            fsg_sg_proto_name(r->proto, pbuf), fsg_report_ports(r, ports),
                            fsg_cidr_format(&r->cidr, cidr));
        rc = rc == FSG_OK ? s_esc(out, r->description) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</td></tr>\n") : rc;
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</table>\n") : rc;
}

/* Each removal with its reason, under the sentence on the ownership mode. */
static enum fsg_err s_removals(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    size_t n = fsg_sg_plan_n_removals(t->sg);
    enum fsg_err rc = fsg_buf_append_cstr(out, "<p class=\"muted\">");
    rc = rc == FSG_OK ? s_esc(out, fsg_report_ownership(t->ownership)) : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</p>\n") : rc;
    if (rc == FSG_OK && t->calls.n_steps > 0) {
        struct fsg_buf line = FSG_BUF_INIT;
        rc = fsg_report_calls_line(t, &line);
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "<p class=\"muted\">Calls: ") : rc;
        rc = rc == FSG_OK ? s_esc(out, fsg_buf_cstr(&line)) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</p>\n") : rc;
        fsg_buf_clean_up(&line);
    }
    if (rc == FSG_OK && n > 0) {
        rc = fsg_buf_printf(out, "<h3 class=\"remove\">Remove (%zu)</h3>\n<ul>\n", n);
    }
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        struct fsg_buf line = FSG_BUF_INIT;
        rc = fsg_report_removal_line(t->sg, i, &line);
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "<li>") : rc;
        rc = rc == FSG_OK ? s_esc(out, fsg_buf_cstr(&line)) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</li>\n") : rc;
        fsg_buf_clean_up(&line);
    }
    return rc == FSG_OK && n > 0 ? fsg_buf_append_cstr(out, "</ul>\n") : rc;
}

static enum fsg_err s_conn_row(struct fsg_buf *out, const struct fsg_impact_conn *c)
{
    char ip[FSG_IP_STR_MAX], proto[8], when[32];
    struct fsg_buf who = FSG_BUF_INIT, via = FSG_BUF_INIT;
    enum fsg_err rc = fsg_report_source(c, &who);
    rc = rc == FSG_OK ? fsg_report_via(c, &via) : rc;
    rc = rc == FSG_OK ? fsg_buf_printf(out, "<tr><td><code>%s</code></td><td>",
                                       fsg_ip_format(&c->src, ip)) : rc;
    rc = rc == FSG_OK ? s_esc(out, fsg_buf_cstr(&who)) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "</td><td>%s/%u</td><td>%llu</td><td>%llu</td><td>",
                            fsg_report_flow_proto(c->proto, proto), c->port,
                            (unsigned long long)c->records, (unsigned long long)c->accepted);
    }
    rc = rc == FSG_OK ? s_esc(out, fsg_report_time(c->last_s, when)) : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</td><td>") : rc;
    rc = rc == FSG_OK ? s_esc(out, via.len > 0 ? fsg_buf_cstr(&via) : "nothing") : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</td></tr>\n") : rc;
    fsg_buf_clean_up(&who);
    fsg_buf_clean_up(&via);
    return rc;
}

static enum fsg_err s_conn_table(struct fsg_buf *out, const char *title, const char *cls,
                                 const struct fsg_impact_conn *const *v, size_t n)
{
    if (n == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "<h3 class=\"%s\">%s (%zu)</h3>\n<table><tr><th>"
                                          "source</th><th>who</th><th>proto/port</th><th>records"
                                          "</th><th>accepted today</th><th>last seen</th><th>"
                                          "allowed after by</th></tr>\n", cls, title, n);
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        rc = s_conn_row(out, v[i]);
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</table>\n") : rc;
}

static enum fsg_err s_impact_tables(struct fsg_buf *out, const struct fsg_impact *im)
{
    if (im == NULL) {
        return FSG_OK;
    }
    enum fsg_err rc = FSG_OK;
    if (im->n_bypass > 0) {
        rc = fsg_buf_printf(out, "<div class=\"bypass\"><strong>Warning:</strong> %zu "
                                 "connection(s) stay allowed only by a rule outside the policy "
                                 "(left in the group, or another security group of the "
                                 "instance): the policy is bypassed.</div>\n", im->n_bypass);
    }
    rc = rc == FSG_OK ? s_conn_table(out, "Cut off: accepted today, denied after the apply",
                                     "remove", im->cut_off, im->n_cut_off) : rc;
    rc = rc == FSG_OK ? s_conn_table(out, "Allowed only by a rule outside the policy (bypass)",
                                     "bypasstitle", im->bypass, im->n_bypass) : rc;
    rc = rc == FSG_OK ? s_conn_table(out, "Newly allowed", "add", im->newly_allowed,
                                     im->n_newly_allowed) : rc;
    rc = rc == FSG_OK ? s_conn_table(out, "Would be denied by the policy", "muted",
                                     im->would_deny, im->n_would_deny) : rc;
    if (rc == FSG_OK && im->n_unevaluated > 0) {
        rc = fsg_buf_printf(out, "<p class=\"muted\">%zu rule(s) reference a security group or "
                                 "a prefix list and were not evaluated.</p>\n",
                            im->n_unevaluated);
    }
    return rc;
}

static enum fsg_err s_warnings(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    if (t->n_warnings == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "<h3>Warnings (%zu)</h3>\n<ul class=\"warn\">\n",
                                     t->n_warnings);
    for (size_t i = 0; rc == FSG_OK && i < t->n_warnings; i++) {
        rc = fsg_buf_append_cstr(out, "<li>");
        rc = rc == FSG_OK ? s_esc(out, t->warnings[i]) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</li>\n") : rc;
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</ul>\n") : rc;
}

/* ---- page ------------------------------------------------------------------------------------ */

static enum fsg_err s_target_head(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    const struct fsg_sg_plan *sg = t->sg;
    const struct fsg_impact *im = t->impact;
    enum fsg_err rc = fsg_buf_append_cstr(out, "<section>\n<h2>");
    rc = rc == FSG_OK ? s_esc(out, t->name) : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, " <code>") : rc;
    rc = rc == FSG_OK ? s_esc(out, t->security_group) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "</code></h2>\n<div class=\"chips\"><span>%zu desired</span>"
                                 "<span class=\"add\">+%zu to add</span><span class=\"remove\">"
                                 "-%zu to remove</span><span>%zu unchanged</span>",
                            sg->desired.len, sg->add.len, fsg_sg_plan_n_removals(sg),
                            sg->unchanged);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "<span>ownership %s</span>",
                            t->ownership == FSG_SG_OWN_RULES ? "rules" : "group");
    }
    if (rc == FSG_OK && im != NULL) {
        rc = fsg_buf_printf(out, "<span>%zu observed connections</span><span class=\"remove\">"
                                 "%zu would be denied by the policy</span><span class=\"remove\">"
                                 "%zu cut off (%zu sources)</span><span class=\"bypasstitle\">"
                                 "%zu allowed only outside the policy</span><span "
                                 "class=\"add\">%zu newly allowed</span><span>%zu rules without "
                                 "traffic</span>", im->n_conns, im->n_would_deny, im->n_cut_off,
                            im->n_cut_sources, im->n_bypass, im->n_newly_allowed,
                            im->allowed_unseen.len);
    }
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</div>\n") : rc;
    if (rc == FSG_OK && t->refused != NULL) {
        rc = fsg_buf_append_cstr(out, "<div class=\"refused\"><strong>Refused:</strong> ");
        rc = rc == FSG_OK ? s_esc(out, t->refused) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</div>\n") : rc;
    } else if (rc == FSG_OK) {
        char banner[512];
        bool review = im != NULL && (im->n_cut_off > 0 || im->n_bypass > 0);
        rc = fsg_buf_printf(out, "<div class=\"%s\">", review ? "review" : "ok");
        rc = rc == FSG_OK ? s_esc(out, fsg_report_banner(t, banner, sizeof banner)) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</div>\n") : rc;
    }
    return rc;
}

static enum fsg_err s_target(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    enum fsg_err rc = s_target_head(out, t);
    rc = rc == FSG_OK ? s_svg(out, t) : rc;
    rc = rc == FSG_OK ? s_rules_table(out, "Add", "add", &t->sg->add) : rc;
    rc = rc == FSG_OK ? s_removals(out, t) : rc;
    rc = rc == FSG_OK ? s_impact_tables(out, t->impact) : rc;
    if (rc == FSG_OK && t->impact != NULL) {
        rc = s_rules_table(out, "Allowed but not seen in the flows", "muted",
                           &t->impact->allowed_unseen);
    }
    rc = rc == FSG_OK ? s_warnings(out, t) : rc;
    rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "<details><summary>All desired rules"
                                                 "</summary>\n") : rc;
    rc = rc == FSG_OK ? s_rules_table(out, "Desired", "", &t->sg->desired) : rc;
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</details>\n</section>\n") : rc;
}

static enum fsg_err s_summary(struct fsg_buf *out, const struct fsg_plan *plan)
{
    size_t add = 0, rm = 0;
    fsg_plan_totals(plan, &add, &rm);
    enum fsg_err rc = fsg_buf_append_cstr(out, "<h1>flowseg plan</h1>\n");
    if (rc == FSG_OK && plan->policy_version != NULL) {
        rc = fsg_buf_append_cstr(out, "<p class=\"muted\">PCE policy version ");
        rc = rc == FSG_OK ? s_esc(out, plan->policy_version) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</p>\n") : rc;
    }
    rc = rc != FSG_OK ? rc : fsg_buf_printf(out, "<p class=\"muted\">%zu "
                                          "target(s): <span class=\"add\">%zu rule(s) to add"
                                          "</span>, <span class=\"remove\">%zu to remove</span>"
                                          "%s.</p>\n<p><strong>Guards:</strong> %s.</p>\n"
                                          "<table><tr><th>target</th><th>security group"
                                          "</th><th>add</th><th>remove</th><th>unchanged</th>"
                                          "<th>would deny</th><th>cut off</th><th>bypass</th>"
                                          "<th>refused</th></tr>\n",
                                     plan->n_targets, add, rm,
                                     fsg_plan_is_refused(plan) ? "; refused by a guard" : "",
                                     fsg_report_plan_banner(plan));
    for (size_t i = 0; rc == FSG_OK && i < plan->n_targets; i++) {
        const struct fsg_plan_target *t = &plan->targets[i];
        rc = fsg_buf_append_cstr(out, "<tr><td>");
        rc = rc == FSG_OK ? s_esc(out, t->name) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "</td><td><code>") : rc;
        rc = rc == FSG_OK ? s_esc(out, t->security_group) : rc;
        if (rc == FSG_OK) {
            char deny[24] = "-", cut[24] = "-", bypass[24] = "-";
            if (t->impact != NULL) {
                snprintf(deny, sizeof deny, "%zu", t->impact->n_would_deny);
                snprintf(cut, sizeof cut, "%zu", t->impact->n_cut_off);
                snprintf(bypass, sizeof bypass, "%zu", t->impact->n_bypass);
            }
            rc = fsg_buf_printf(out, "</code></td><td class=\"add\">%zu</td><td class=\"remove\">"
                                     "%zu</td><td>%zu</td><td>%s</td><td>%s</td><td>%s</td>"
                                     "<td>%s</td></tr>\n",
                                t->sg->add.len, t->sg->remove.len, t->sg->unchanged, deny, cut,
                                bypass,
                                t->refused != NULL ? "<strong class=\"remove\">yes</strong>"
                                                   : "no");
        }
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</table>\n") : rc;
}

enum fsg_err fsg_report_html(const struct fsg_plan *plan, struct fsg_buf *out)
{
    enum fsg_err rc = fsg_buf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                                          "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
                                          "content=\"width=device-width,initial-scale=1\">\n"
                                          "<title>flowseg plan</title>\n<style>%s</style>\n"
                                          "</head>\n<body>\n", s_css);
    rc = rc == FSG_OK ? s_summary(out, plan) : rc;
    for (size_t i = 0; rc == FSG_OK && i < plan->n_targets; i++) {
        rc = s_target(out, &plan->targets[i]);
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(out, "</body>\n</html>\n") : rc;
}
