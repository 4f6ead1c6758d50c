"""``vms camera …``: register, list, probe and remove cameras from the command line.

Credentials pasted inside a URL are split off before anything is stored, and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

camera_app = typer.Typer(help="Register, list, probe and remove cameras.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file")


def _registry(config: Optional[Path]):
    """The settings, database and registry, with the YAML's cameras and groups synced in."""
    from vms.cameras.registry import CameraRegistry
    from vmsapp.cli import open_database

    settings, db = open_database(config)
    registry = CameraRegistry(db)
    registry.sync_from_config(settings.groups, settings.cameras)
    return db, registry


@camera_app.command("add")
def camera_add(
    camera_id: str = typer.Argument(..., help="Short id: lowercase letters, digits, '-' and '_'"),
    main_url: str = typer.Option(..., "--url", help="Main stream RTSP URL (credentials in it are split off)"),
    name: Optional[str] = typer.Option(None),
    group: str = typer.Option("rented"),
    sub_url: Optional[str] = typer.Option(None, "--sub-url"),
    username: Optional[str] = typer.Option(None),
    password: Optional[str] = typer.Option(None, help="Prefer the VMS_CAMERA_PASSWORD environment variable"),
    lat: Optional[float] = typer.Option(None),
    lon: Optional[float] = typer.Option(None),
    transport: str = typer.Option("auto", help="RTP transport: auto (TCP, then UDP if the camera answers 461), tcp or udp"),
    rtsp_client: Optional[str] = typer.Option(None, "--rtsp-client",
                                              help="ffmpeg or builtin; unset: the configuration's ingest.rtsp_client"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Register a camera (it is recorded by running workers within seconds)."""
    import os

    from pydantic import ValidationError

    from vms.cameras.registry import CameraExists
    from vms.cameras.rtsp_url import split_credentials
    from vms.config import CameraConfig

    bare, url_user, url_password = split_credentials(main_url)
    username = username or url_user
    password = password or url_password or os.environ.get("VMS_CAMERA_PASSWORD")
    fields = {"id": camera_id, "name": name or camera_id, "group": group, "main_url": bare, "transport": transport}
    if sub_url:
        fields["sub_url"] = split_credentials(sub_url)[0]
    if rtsp_client is not None:
        fields["rtsp_client"] = rtsp_client
    if username:
        fields["credentials"] = {"username": username, "password": password or ""}
    if lat is not None and lon is not None:
        fields["location"] = {"lat": lat, "lon": lon}
    try:
        camera = CameraConfig(**fields)
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"camera {camera_id}: {'.'.join(map(str, error['loc']))}: {error['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None
    db, registry = _registry(config)
    try:
        registry.add(camera)
    except (CameraExists, ValueError) as exc:
        err.print(f"camera {camera_id}: {exc}")
        raise typer.Exit(2) from None
    _audit_cli(db, "camera.add", camera_id, {"group": group, "main_url": bare, "has_credentials": bool(username)})
    console.print(f"camera {camera_id} added ({bare})")


def _audit_cli(db, action: str, target: str, detail: dict) -> None:
    import vms.db.auth  # noqa: F401  (registers the audit table)
    from vms.auth.audit import audit

    db.create_schema()
    audit(db, "cli", action, target, detail, "local")


@camera_app.command("list")
def camera_list(config: Optional[Path] = ConfigOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """List registered cameras (never their credentials)."""
    _db, registry = _registry(config)
    rows = registry.all()
    if as_json:
        print(json.dumps([{"id": r.id, "name": r.name, "group": r.group_id, "main_url": r.main_url, "enabled": r.enabled,
                           "transport": r.transport, "rtsp_client": r.rtsp_client} for r in rows]))
        return
    table = Table("id", "name", "group", "main URL", "enabled")
    for row in rows:
        table.add_row(row.id, row.name, row.group_id, row.main_url, "yes" if row.enabled else "no")
    console.print(table)


@camera_app.command("remove")
def camera_remove(camera_id: str, config: Optional[Path] = ConfigOption) -> None:
    """Forget a camera; its recordings stay until retention removes them."""
    from vms.cameras.registry import CameraNotFound

    db, registry = _registry(config)
    try:
        registry.remove(camera_id)
    except CameraNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    _audit_cli(db, "camera.remove", camera_id, {})
    console.print(f"camera {camera_id} removed (recordings kept per retention)")


@camera_app.command("probe")
def camera_probe(
    url: str = typer.Argument(..., help="RTSP URL (credentials in it are used, never printed)"),
    username: Optional[str] = typer.Option(None),
    password: Optional[str] = typer.Option(None),
    seconds: float = typer.Option(4.0, help="How long to watch the stream"),
    snapshot: Optional[Path] = typer.Option(None, help="Write a JPEG of the first keyframe here"),
    transport: str = typer.Option("auto", help="RTP transport: auto (TCP, then UDP if the camera answers 461), tcp or udp"),
) -> None:
    """Connect to a camera and tell what it sends: codec, size, fps, keyframe interval, problems."""
    from streams.ingest import StreamSource
    from streams.probe import probe
    from vms.cameras.rtsp_url import InvalidCameraUrl, split_credentials

    bare, url_user, url_password = split_credentials(url)
    try:
        if transport not in ("auto", "tcp", "udp"):
            raise InvalidCameraUrl(f"transport must be auto, tcp or udp, not {transport!r}", "bad-transport",
                                   transport=transport)
        source = StreamSource("probe", "main", bare, username or url_user, password or url_password, transport)
    except InvalidCameraUrl as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    result = probe(source, seconds=seconds, snapshot=snapshot is not None)
    if snapshot is not None and result.snapshot_jpeg:
        snapshot.write_bytes(result.snapshot_jpeg)
    print(json.dumps(result.to_dict(), indent=2))
    raise typer.Exit(0 if result.ok else 1)
