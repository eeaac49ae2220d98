#!/usr/bin/env python3
"""The progress line of `flowseg flows` (and of plan when it reads SOURCEs), from the outside.

stderr on a pseudo-terminal (python pty): while stdin is fed slowly, a line
"\\rflowseg: objects D/T, N read (R/s)[, N records (R/s)]\\033[K" is redrawn at most ~4 times a
second, then cleared ("\\r\\033[K") before the log lines; stdout is the same as without a
terminal. stderr not a terminal (a pipe, even with stdout on a terminal): no progress text at
all, only JSON log lines. A run shorter than one refresh draws nothing.
Exit 0 pass, 1 fail.
"""
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("FSG_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FSG_BUILD_ROOT", os.path.join(SRC, "build"))
FLOWSEG = os.path.join(BUILD, "cmd", "flowseg")
PLAN_DATA = os.path.join(SRC, "tests", "data", "plan")

HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
          "start end action log-status")
DRAW = re.compile(rb"\rflowseg: objects (\d+)/(\d+), ([0-9.]+ [KMGT]?i?B) read \(([^)]*)/s\)"
                  rb"(?:, ([0-9.]+[kMG]?) records \(([^)]*)/s\))?"
                  rb"(?:, (\d+)% of [0-9.]+ [KMGT]?i?B(?:, [0-9hms]+ left)?)?\x1b\[K")
CLEAR = b"\r\x1b[K"

FAILURES = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def flow_log(n, eni="eni-0a1b2c3d4e5f60001", db="10.0.20.11", malformed=True):
    lines = [HEADER]
    for i in range(n):
        client = "10.1.%d.%d" % (i // 250 % 250, i % 250 + 1)
        sport = 30000 + i % 20000
        t = 1700000000 + i
        lines.append("2 123456789012 %s %s %s %d 5432 6 10 840 %d %d ACCEPT OK"
                     % (eni, client, db, sport, t, t + 60))
        lines.append("2 123456789012 %s %s %s 5432 %d 6 10 900 %d %d ACCEPT OK"
                     % (eni, db, client, sport, t, t + 60))
        if malformed and i == n // 2:
            lines.append("this line is malformed")
    return ("\n".join(lines) + "\n").encode()


def json_lines_only(text, what):
    bad = [l for l in text.splitlines() if l.strip() and not _is_json(l)]
    return check(not bad, "%s: stderr holds only JSON lines (%r)" % (what, bad[:2]))


def _is_json(line):
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def run_pipe(args, stdin_bytes):
    p = subprocess.run([FLOWSEG] + args, input=stdin_bytes, capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def run_tty(args, chunks, prefix=(), stdout_tty=False):
    """Runs flowseg with stderr (or, stdout_tty, stdout) on a pty; feeds stdin chunk by chunk,
    a pause after each but the last. Returns rc, stdout, stderr, pty bytes, seconds."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm")
    t0 = time.time()
    p = subprocess.Popen(list(prefix) + [FLOWSEG] + args, stdin=subprocess.PIPE,
                         stdout=slave if stdout_tty else subprocess.PIPE,
                         stderr=subprocess.PIPE if stdout_tty else slave, env=env)
    os.close(slave)
    got, out = [], []

    def read_pty():
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed
                break
            if not b:
                break
            got.append(b)

    def read_pipe():
        out.append((p.stderr if stdout_tty else p.stdout).read())

    threads = [threading.Thread(target=read_pty), threading.Thread(target=read_pipe)]
    for t in threads:
        t.start()
    for i, (data, pause) in enumerate(chunks):
        p.stdin.write(data)
        p.stdin.flush()
        time.sleep(pause)
    p.stdin.close()
    rc = p.wait(timeout=120)
    secs = time.time() - t0
    for t in threads:
        t.join(timeout=30)
    os.close(master)
    raw = b"".join(got)
    if stdout_tty:
        return rc, raw, out[0], raw, secs
    return rc, out[0], raw, raw, secs


def check_line(raw, secs, what, want_total, want_records):
    draws = list(DRAW.finditer(raw))
    check(len(draws) >= 2, "%s: the progress line was drawn (%d times in %.1fs)"
          % (what, len(draws), secs))
    if not draws:
        print(repr(raw[:600]))
        return
    check(len(draws) <= 4 * secs + 2, "%s: at most ~4 redraws a second (%d in %.1fs)"
          % (what, len(draws), secs))
    first = draws[0]
    # While stdin is open at least that object is not done (with a job per CPU the small
    # file may be done already).
    check(int(first.group(1)) < want_total and int(first.group(2)) == want_total,
          "%s: objects done/total (%s)" % (what, first.group(0)[1:-3].decode()))
    check(not first.group(3).startswith(b"0 "), "%s: bytes read while stdin is still open (%s)"
          % (what, first.group(3).decode()))
    if want_records:
        check(any(d.group(5) not in (None, b"0") for d in draws),
              "%s: records and records/s shown" % what)
    last_clear = raw.rfind(CLEAR)
    check(last_clear > draws[-1].start(), "%s: the line is cleared at the end" % what)
    rest = DRAW.sub(b"", raw).replace(CLEAR, b"").replace(b"\r\n", b"\n")
    check(b"\r" not in rest and b"\x1b" not in rest and b"objects " not in rest,
          "%s: no progress text is left around the log lines" % what)
    json_lines_only(rest.decode(errors="replace"), what)


def main():
    if not os.access(FLOWSEG, os.X_OK):
        print("no binary at", FLOWSEG)
        return 1
    tmp = tempfile.mkdtemp(prefix="fsg-progress-")
    try:
        big = flow_log(40000)           # about 3.5 MB of text, one malformed line
        small = os.path.join(tmp, "small.log")
        with open(small, "wb") as f:
            f.write(flow_log(50, eni="eni-0a1b2c3d4e5f60002", malformed=False))
        args = ["flows", "--format", "json", "-", small]
        slow = [(big[:len(big) // 2], 1.3), (big[len(big) // 2:], 0)]

        # Not a terminal: no progress text at all.
        rc, want, err = run_pipe(args, big)
        check(rc == 0, "pipe: exit 0 (%s)" % err[-300:])
        text = err.decode(errors="replace")
        check("\r" not in text and "\x1b" not in text and "objects " not in text,
              "pipe: no progress text on stderr")
        check("malformed record skipped" in text, "pipe: the warning is logged")
        json_lines_only(text, "pipe")

        # stdout on a terminal, stderr a pipe: still none.
        rc, _, err, _, _ = run_tty(args, slow, stdout_tty=True)
        text = err.decode(errors="replace")
        check(rc == 0 and "\r" not in text and "objects " not in text,
              "stdout on a terminal, stderr a pipe: no progress text")

        # stderr on a terminal. One CPU (taskset) keeps the decoder on the feeding thread, so
        # that records are counted too (a pipelined reader's counts come only at its end).
        prefix = ("taskset", "-c", "0") if shutil.which("taskset") else ()
        rc, out, _, raw, secs = run_tty(args, slow, prefix=prefix)
        check(rc == 0, "tty: exit 0")
        check(out == want, "tty: stdout is the same as without a terminal")
        check_line(raw, secs, "tty", 2, bool(prefix))
        check(b"malformed record skipped" in raw, "tty: the warning is logged")

        # Without taskset (pipelined readers where there are cores to spare): still a line.
        rc, out, _, raw, secs = run_tty(args, slow)
        check(rc == 0 and out == want, "tty, default engine: same stdout")
        check_line(raw, secs, "tty, default engine", 2, False)

        # A run shorter than one refresh draws nothing.
        rc, out, _, raw, _ = run_tty(["flows", "--format", "json", small], [(b"", 0)])
        check(rc == 0 and DRAW.search(raw) is None and CLEAR not in raw,
              "tty, a quick run: no line at all (%r)" % raw[:200])

        # plan reads its SOURCEs through the same code: the same line.
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"targets": [{"name": "orders-db", "virtual_service": "VS-RDS-orders-db",
                                    "security_group": "sg-0123456789abcdef0",
                                    "enis": ["eni-0a1b2c3d4e5f60001"],
                                    "eni_addrs": ["10.0.20.11"], "port": 5432}]}, f)
        plan = ["--config", cfg, "plan", "--policy", os.path.join(PLAN_DATA, "policy.json"),
                "--state", os.path.join(PLAN_DATA, "aws_rules.json"), "--format", "json", "-"]
        rc, want_plan, err = run_pipe(plan, big)
        check(rc == 0 and b"objects " not in err, "plan, pipe: exit 0, no progress text")
        rc, out, _, raw, secs = run_tty(plan, slow, prefix=prefix)
        strip = re.compile(rb'"created_s": *\d+')
        check(rc == 0 and strip.sub(b"", out) == strip.sub(b"", want_plan),
              "plan, tty: the same report")
        check_line(raw, secs, "plan, tty", 1, bool(prefix))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
