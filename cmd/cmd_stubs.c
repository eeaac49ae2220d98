/* Commands not built yet. Each one moves to its own cmd_<name>.c when it is implemented
 * (delete its stub here in the same change). None are left: every command of cmd/cli.h has
 * its own file now (this file can go once no one adds a placeholder again). */
#include "cmd/cli.h"
