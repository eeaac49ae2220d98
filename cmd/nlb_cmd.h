/* What `flowseg nlb-sync` (cmd/cmd_nlb_sync.c) and the Lambda's nlb-sync job share, so that
 * both log the same audit lines and honour the same environment. */
#ifndef FSG_CMD_NLB_CMD_H
#define FSG_CMD_NLB_CMD_H

#include "cmd/nlb/nlb_sync.h"

/* fsg_nlb_options.on_event: one JSON audit line per change or refusal (through the log sink;
 * keeping a stale target is a warning). userdata is unused. */
fsg_nlb_event_fn fsg_nlb_cmd_audit;

/* The health poll interval: FLOWSEG_NLB_POLL_MS (1..600000 ms; tests make it short), else 0 (the
 * library's default). A value that is not such a number is logged and ignored. */
long fsg_nlb_cmd_poll_ms(void);

#endif
