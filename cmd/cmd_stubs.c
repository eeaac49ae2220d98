/* Commands not built yet. Each one moves to its own cmd_<name>.c when it is implemented
 * (delete its stub here in the same change). */
#include <stdio.h>

#include "cmd/cli.h"

static int s_not_yet(struct fsg_cli *cli, const char *name)
{
    fprintf(stderr, "%s: %s is not implemented in this build\n", cli->prog, name);
    return FSG_EXIT_ERROR;
}

int fsg_cmd_apply(struct fsg_cli *cli, int argc, char **argv)
{
    return s_not_yet(cli, argv[0]);
}

