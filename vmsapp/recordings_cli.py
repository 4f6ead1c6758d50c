"""``vms recordings …``: check the recorded files against the segment index (the checks live in
``vms.recordings.verify``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

recordings_app = typer.Typer(help="Check recordings against the index.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file")


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO time with zone (``2026-05-01T08:00:00+07:00``) or a look-back: ``90s``, ``30m``, ``6h``, ``2d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(text[:-1]) * units[text[-1]])
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give --since with a time zone, e.g. 2026-05-01T08:00:00+07:00, or a look-back like 6h")
    return moment


@recordings_app.command("verify")
def recordings_verify(
    camera: Optional[str] = typer.Option(None, "--camera", help="Only this camera (default: all)"),
    since: Optional[str] = typer.Option(None, "--since", help="ISO time with zone, or a look-back: 30m, 6h, 2d"),
    decode: bool = typer.Option(False, "--decode", help="Also decode every frame (slow; finds corrupt pictures)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Scan the segment files against the index; print every violation (a row left open whose file
    stopped growing more than 2 x segment length + lease ago is one: abandoned); exit 1 when there is any."""
    from vmsapp.cli import open_database
    from vms.recordings.locate import SegmentFiles
    from vms.recordings.verify import verify

    settings, db = open_database(config)
    now = datetime.now(timezone.utc)
    try:
        start = parse_since(since, now) if since else None
    except ValueError as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    files = SegmentFiles.of(settings)
    report = verify(db, files.path, camera, start, decode=decode, now=now,
                    lease_seconds=settings.cluster.lease_seconds)
    for violation in report.violations:
        console.print(str(violation), highlight=False, soft_wrap=True)
    console.print(
        f"{report.segments} segments checked ({report.open_segments} being written, "
        f"{report.abandoned} left open with no writer), "
        f"{len(report.violations)} violations, worst duration error {report.worst_duration_error * 1000:.1f} ms",
        highlight=False,
    )
    if report.violations:
        raise typer.Exit(1)
