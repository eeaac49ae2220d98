#!/usr/bin/env python3
"""`flowseg --help` and `flowseg COMMAND --help` list exactly the options that exist.

For every command the options its help lists are compared with the options it has (written down
here: a new option must be added to the help and to this list). For the commands whose options
go through cmd/opts.c (flows, publish-flows, plan, apply) each listed option is also put to the
parser, which must know it: a valued option given an empty value says "needs a value", a flag
given a value says "takes no value" (both usage errors, exit 2, nothing run), and an option not
in the help is "unknown". Exit 0 pass, 1 fail.
"""
import os
import re
import subprocess
import sys

SRC = os.environ.get("FSG_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FSG_BUILD_ROOT", os.path.join(SRC, "build"))
FLOWSEG = os.path.join(BUILD, "cmd", "flowseg")

SOURCE_OPTS = {"--jobs": True, "--max-inflight": True, "--memory": True, "--since": True,
               "--until": True}
# option -> takes a value
COMMANDS = {
    "flows": dict(SOURCE_OPTS, **{"--format": True, "--eni": True, "--direction": True}),
    "publish-flows": dict(SOURCE_OPTS, **{"--eni": True, "--dry-run": False,
                                          "--max-lines": True, "--include-rejected": False}),
    "plan": dict(SOURCE_OPTS, **{"--policy": True, "--save-policy": True, "--state": True,
                                 "--format": True, "--out": True, "--save-plan": True,
                                 "--detailed-exitcode": False}),
    "apply": dict(SOURCE_OPTS, **{"--plan": True, "--policy": True, "--save-policy": True,
                                  "--force": False, "--dry-run": False, "--format": True,
                                  "--out": True}),
    "explain": {"--policy": True, "--format": True},
    "nlb-sync": {"--dry-run": False, "--timeout": True},
    "lambda": {},
    "version": {},
}
PARSED_BY_OPTS = ("flows", "publish-flows", "plan", "apply", "explain")
GLOBAL = {"--config", "--log-level", "--help", "--version"}

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def run(args):
    p = subprocess.run([FLOWSEG] + args, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, FLOWSEG_CONFIG="{}"))
    return p.returncode, p.stdout, p.stderr


def listed(help_text):
    """Options named at the start of a help line ("  --jobs N", "  --since T, --until T")."""
    found = set()
    for line in help_text.splitlines():
        m = re.match(r"^  (--[a-z-]+)(.*)", line)
        if m:
            found.add(m.group(1))
            found.update(re.findall(r", (--[a-z-]+)", m.group(2)[:20]))
    return found


def main():
    rc, out, _ = run(["--help"])
    check(rc == 0, "flowseg --help: exit 0")
    check(listed(out) == GLOBAL, "global options listed: %s" % sorted(listed(out)))
    for name in COMMANDS:
        check(re.search(r"^  %s " % re.escape(name), out, re.M) is not None,
              "flowseg --help lists the command %s" % name)

    for cmd, opts in COMMANDS.items():
        rc, text, err = run([cmd, "--help"])
        check(rc == 0 and text.startswith("usage: flowseg %s" % cmd), "%s --help: usage" % cmd)
        got = listed(text) - {"--help"}
        check(got == set(opts), "%s --help lists exactly %s (got %s)"
              % (cmd, sorted(opts), sorted(got)))
        if cmd not in PARSED_BY_OPTS:
            continue
        for opt, valued in opts.items():
            rc, _, err = run([cmd, opt + ("=" if valued else "=x")])
            want = "needs a value" if valued else "takes no value"
            first = (err.strip().splitlines() or [""])[0]
            check(rc == 2 and want in err, "%s %s is an option (%s)" % (cmd, opt, first))
        rc, _, err = run([cmd, "--no-such-option"])
        check(rc == 2 and "unknown option" in err, "%s rejects an unknown option" % cmd)
        for other in sorted({o for c in PARSED_BY_OPTS for o in COMMANDS[c]} - set(opts)):
            rc, _, err = run([cmd, other, "x"])
            check(rc == 2 and "unknown option" in err, "%s does not take %s" % (cmd, other))
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
