"""Source files a merge may leave broken: conflict markers anywhere, and dashboard modules that do
not parse (one such marker in playback.js once broke every browser screen at once)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = {".py", ".js", ".json", ".md", ".html", ".css", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".ini", ".txt"}


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if Path(name).suffix in TEXT and (ROOT / name).is_file()]


def test_no_merge_conflict_markers():
    found = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            # "=======" alone is also a Markdown heading underline, so only the two ends count.
            if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line in ("<<<<<<<", ">>>>>>>"):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert not found, f"merge conflict markers: {found}"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed (Debian package nodejs)")
def test_every_dashboard_module_parses():
    modules = sorted((ROOT / "dashboard" / "static").rglob("*.js"))
    assert modules
    broken = []
    for module in modules:
        checked = subprocess.run(["node", "--experimental-default-type=module", "--check", str(module)],
                                 capture_output=True, text=True)
        if checked.returncode != 0:
            broken.append(f"{module.relative_to(ROOT)}: {checked.stderr.strip().splitlines()[:4]}")
    assert not broken, "\n".join(broken)
