"""Regenerate the generated parts of README.md, so its figures are produced, not typed.

Blocks (an HTML comment opens each, ``<!-- /name -->`` closes it; the text between is
replaced):

* ``<!-- output: planner ARGS [| lines A-B,C-D] [| width N] -->`` - the real output of the
  command (run in a fresh process from the repository root; its stderr too when it fails), in
  a fenced block starting with ``$ planner ARGS``; ``lines`` keeps those lines (1-based,
  inclusive ranges), ``width N`` clips long lines to N characters with an ellipsis.
* ``<!-- keys: KIND -->`` - the key reference of one plan kind (`planner.plan.*` key tables):
  key, option, unit, default, valid range, meaning.
* ``<!-- tests -->`` - how many tests `pytest` collects (``pytest --collect-only -q``).

Run:  python docs/build_readme.py            (rewrites README.md)
      python docs/build_readme.py --check    (exit 1 if README.md would change)
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- (output|keys|tests)(?::\s*(.*?))? -->\n(.*?)<!-- /\1 -->\n", re.S)


def _planner(args: list[str]) -> str:
    env = dict(os.environ, COLUMNS="100", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "planner", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    out = proc.stdout + (proc.stderr if proc.returncode else "")
    return out.rstrip("\n")


def output_block(spec: str) -> str:
    parts = [p.strip() for p in spec.split("|")]
    argv = shlex.split(parts[0])
    assert argv[0] == "planner", spec
    text = _planner(argv[1:])
    lines = text.splitlines()
    for opt in parts[1:]:
        if opt.startswith("lines "):          # "lines 1-2,14-40": ranges, gaps shown as ...
            kept, last = [], 0
            for part in opt[6:].split(","):
                a, b = (int(x) for x in part.split("-"))
                if a > last + 1 and kept:
                    kept.append("...")
                kept.extend(lines[a - 1:b])
                last = b
            lines = kept + (["..."] if last < len(lines) else [])
        elif opt.startswith("width "):
            w = int(opt[6:])
            lines = [ln if len(ln) <= w else ln[:w - 3] + "..." for ln in lines]
    return "```\n$ " + parts[0] + "\n" + "\n".join(lines) + "\n```\n"


def keys_block(kind: str) -> str:
    import importlib
    module, _, name = {"train": "planner.plan.train:TRAIN", "infer": "planner.plan.infer:INFER",
                       "optimal": "planner.plan.optimal:OPTIMAL",
                       "parallel": "planner.plan.parallel:PARALLEL",
                       "fits": "planner.plan.fits:FITS",
                       "serve": "planner.plan.serve:SERVE"}[kind].partition(":")
    return getattr(importlib.import_module(module), name).markdown() + "\n"


def tests_block() -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-qq"], cwd=ROOT,
                          capture_output=True, text=True)
    counts = [int(n) for n in re.findall(r"^\S+\.py: (\d+)$", proc.stdout, re.M)]
    return f"{sum(counts):,} tests in {len(counts)} files (`pytest --collect-only -qq`).\n"


def build(text: str) -> str:
    def replace(m: re.Match) -> str:
        kind, arg = m.group(1), (m.group(2) or "").strip()
        body = {"output": lambda: output_block(arg), "keys": lambda: keys_block(arg),
                "tests": tests_block}[kind]()
        opener = f"<!-- {kind}" + (f": {arg}" if arg else "") + " -->\n"
        return opener + body + f"<!-- /{kind} -->\n"
    return BLOCK.sub(replace, text)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    old = README.read_text(encoding="utf-8")
    new = build(old)
    if "--check" in sys.argv:
        if new != old:
            print("README.md is stale: run python docs/build_readme.py")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    print(f"README.md: {len(BLOCK.findall(old))} generated blocks rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
