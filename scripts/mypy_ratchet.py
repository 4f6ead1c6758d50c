"""Strict mypy over vms/ and streams/, held to a per-file error baseline that may only shrink.

Strict typing came late to this code base; the errors still open are listed file by file in
``scripts/mypy-baseline.txt`` (written by ``--update``). A file with more errors than its line
there, or a file not listed with any error, fails the check; a file with fewer asks for the
baseline to be lowered. When the baseline is empty, mypy is simply clean.
"""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scripts" / "mypy-baseline.txt"


def errors_by_file() -> dict[str, int]:
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    counts: collections.Counter[str] = collections.Counter()
    for line in run.stdout.splitlines():
        path, _, rest = line.partition(":")
        if ": error:" in line and path.endswith(".py"):
            counts[path] += 1
    if run.returncode not in (0, 1) or (run.returncode == 1 and not counts):
        sys.exit(f"mypy did not run:\n{run.stdout}\n{run.stderr}")
    return dict(counts)


def read_baseline() -> dict[str, int]:
    if not BASELINE.exists():
        return {}
    pairs = (line.split() for line in BASELINE.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {path: int(count) for count, path in pairs}


def main() -> int:
    found = errors_by_file()
    if "--update" in sys.argv:
        lines = ["# mypy --strict errors still open, per file (scripts/mypy_ratchet.py). Only ever lower these."]
        lines += [f"{count} {path}" for path, count in sorted(found.items())]
        BASELINE.write_text("\n".join(lines) + "\n")
        print(f"baseline: {sum(found.values())} errors in {len(found)} files")
        return 0
    allowed = read_baseline()
    worse = {p: (n, allowed.get(p, 0)) for p, n in found.items() if n > allowed.get(p, 0)}
    better = {p: (found.get(p, 0), n) for p, n in allowed.items() if found.get(p, 0) < n}
    for path, (now, was) in sorted(worse.items()):
        print(f"mypy: {path} has {now} strict errors, the baseline allows {was} (run mypy to see them)")
    for path, (now, was) in sorted(better.items()):
        print(f"mypy: {path} is down to {now} errors from {was}: lower scripts/mypy-baseline.txt (--update)")
    print(f"mypy --strict: {sum(found.values())} errors in {len(found)} files (baseline {sum(allowed.values())})")
    return 1 if worse or better else 0


if __name__ == "__main__":
    sys.exit(main())
