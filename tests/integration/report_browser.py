#!/usr/bin/env python3
"""The HTML plan report in a real browser: `flowseg plan --format html` (live, against moto, with
a flow log on the database's interface), opened in headless Chromium (Debian's `chromium`,
installed by scripts/setup), screenshotted and its DOM dumped.

Checks: the PNG exists, is not trivially small, and is not blank (its pixels are decoded here with
zlib + struct: many distinct colours, the report's green and red among them, a fair share of
non-white pixels); the DOM holds the target's name, its security group, the clients (allowed and
would-be-denied), the would-deny table and the picture. The screenshot is kept at
$FSG_BUILD_ROOT/tests/report_browser.png for people to look at.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apply_world import POLICY, World, target, write_config, write_flow_log  # noqa: E402
from fsgtest import BUILD_ROOT, SKIP, Checker, Moto, run_flowseg  # noqa: E402

CHROMIUM = os.environ.get("FSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(args, tmp):
    profile = tempfile.mkdtemp(dir=tmp)
    return subprocess.run([CHROMIUM] + FLAGS + ["--user-data-dir=" + profile] + args,
                          capture_output=True, text=True, timeout=120)


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA, non-interlaced PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG layout %r" % (ihdr,))
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def main():
    if not os.access(CHROMIUM, os.X_OK):
        print("chromium not installed (scripts/setup installs it)", file=sys.stderr)
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="report-browser-")
    html = os.path.join(tmp, "report.html")
    with Moto() as moto:
        w = World(moto)
        db = w.add_db("orders", "10.0.20.11")
        w.add_rules(db["sg"], [("tcp", 5432, 5432, "10.0.5.0/24", "flowseg old rule"),
                               ("tcp", 22, 22, "10.0.0.0/8", "manual ssh")])
        log = write_flow_log(os.path.join(tmp, "flows.log.gz"), db["eni"], db["address"])
        cfg = write_config(os.path.join(tmp, "config.json"),
                           [target("orders-db", "orders", db["sg"])])
        p = run_flowseg(["--config", cfg, "plan", "--format", "html", "--out", html, "--policy",
                         POLICY, log], env=moto.env())
        c.eq(p.returncode, 0, "plan --format html (live, with flows)")
        sg = db["sg"]
    png = os.path.join(tmp, "report.png")
    r = chromium(["--screenshot=" + png, "--window-size=1400,1000", "file://" + html], tmp)
    c.check(os.path.exists(png), "chromium wrote a screenshot")
    if os.path.exists(png):
        size = os.path.getsize(png)
        c.check(size > 20000, "screenshot is not trivially small (%d bytes)" % size)
        width, height, rows = png_pixels(png)
        c.eq((width, height), (1400, 1000), "screenshot size")
        colours = {px for row in rows for px in row}
        c.check(len(colours) > 50, "screenshot has many colours (%d)" % len(colours))
        nonwhite = sum(1 for row in rows for px in row if min(px) < 235)
        c.check(nonwhite > width * height // 50, "screenshot is not blank (%d non-white pixels)"
                % nonwhite)
        green = any(g > 100 and r < 80 and b < 100 for (r, g, b) in colours)
        red = any(r > 170 and g < 80 and b < 80 for (r, g, b) in colours)
        c.check(green and red, "screenshot shows allowed (green) and denied (red)")
        keep = os.path.join(BUILD_ROOT, "tests", "report_browser.png")
        if os.path.isdir(os.path.dirname(keep)):
            shutil.copyfile(png, keep)
            print("screenshot: " + keep)
    else:
        print(r.stderr[-2000:])
    r = chromium(["--dump-dom", "file://" + html], tmp)
    dom = r.stdout
    for needle, what in (("orders-db", "the target's name"), (sg, "its security group"),
                         ("10.0.4.31", "a would-be-denied client"),
                         ("10.0.7.8", "the other would-be-denied client"),
                         ("10.0.1.11", "an allowed client"), ("Would be denied", "the table"),
                         ("<svg", "the picture"), ("10.0.5.0/24", "the rule to remove")):
        c.check(needle in dom, "DOM holds %s (%s)" % (what, needle))
    shutil.rmtree(tmp, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
