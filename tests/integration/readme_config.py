#!/usr/bin/env python3
"""The README's config example is accepted by flowseg as it stands, and a typo in a key is
refused with the list of known keys (README and program must not drift apart)."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from fsgtest import SOURCE_ROOT, Checker, run_flowseg  # noqa: E402

c = Checker()
readme = open(os.path.join(SOURCE_ROOT, "README.md")).read()
section = readme[readme.index("## Config"):]
example = re.search(r"```json\n(.*?)```", section, re.S).group(1)
with tempfile.TemporaryDirectory() as d:
    empty = os.path.join(d, "empty.log")
    open(empty, "w").close()
    p = run_flowseg(["--config", example, "flows", "--format", "json", empty])
    c.check(p.returncode == 0, f"README config example loads (stderr: {p.stderr.strip()[:300]})")
    typo = example.replace('"guards"', '"gaurds"', 1)
    p = run_flowseg(["--config", typo, "flows", empty])
    c.check(p.returncode == 1, "a misspelt key is an error")
    c.check('unknown key "gaurds"' in p.stderr and "guards" in p.stderr.split("known:")[-1],
            "the error names the key and lists the known ones")
c.done()
