"""The ``vms`` command: run the system, manage cameras, simulate cameras."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vms.config import ConfigError, Settings, load_settings

app = typer.Typer(help="vms — camera command-centre video monitoring system", no_args_is_help=True)
from vmsapp.users_cli import user_app  # noqa: E402  (after app: it reuses this module's helpers lazily)
from vmsapp.cameras_cli import camera_app  # noqa: E402  (likewise)
from vmsapp.evidence_cli import verify  # noqa: E402  (likewise)
from vmsapp.recordings_cli import recordings_app  # noqa: E402  (likewise)
from vmsapp.workers_cli import workers  # noqa: E402  (likewise)

app.add_typer(camera_app, name="camera")

app.add_typer(user_app, name="user")
app.add_typer(recordings_app, name="recordings")
app.command("verify")(verify)
app.command("workers")(workers)
console = Console()
err = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (default: none, VMS_* variables only)")


def _settings(config: Optional[Path], **overrides) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(2) from None


def open_database(config: Optional[Path]):
    """Settings and database of a command (schema created): the shared start of the sub-commands."""
    from vms.db.secure import open_private_database

    settings = _settings(config)
    return settings, open_private_database(settings)


def _logging(verbose: bool) -> None:
    from vms.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


@app.command()
def run(
    config: Optional[Path] = ConfigOption,
    host: Optional[str] = typer.Option(None, help="HTTP bind address"),
    port: Optional[int] = typer.Option(None, help="HTTP port"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Everything on this machine: a worker process records every enabled camera, an API process
    serves the web, a supervisor restarts either if it dies."""
    _logging(verbose)
    settings = _settings(config)
    _supervise(settings, config, host or settings.http.host, port if port is not None else settings.http.port, verbose)


def _supervise(settings: Settings, config: Optional[Path], host: str, port: int, verbose: bool) -> None:
    from vmsapp.supervisor import Supervisor

    console.print(f"vms listening on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    Supervisor(config, settings.data_dir, host, port, verbose).run()


@app.command()
def api(
    config: Optional[Path] = ConfigOption,
    host: Optional[str] = typer.Option(None),
    port: Optional[int] = typer.Option(None),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """The API alone (scale-out: workers run as separate processes)."""
    _logging(verbose)
    settings = _settings(config)
    _serve(settings, host or settings.http.host, port if port is not None else settings.http.port)


def _serve(settings: Settings, host: str, port: int) -> None:
    from dashboard.app import create_app
    from dashboard.server import serve
    from vmsapp.runtime import Runtime

    from vms.auth.sessions import SessionPurge

    runtime = Runtime.build(settings, with_worker=False).start()
    purge = SessionPurge(runtime.db).start()  # the API owns sign-in sessions, so it cleans them up
    try:
        serve(create_app(runtime), settings.http, host, port)
    finally:
        purge.stop()
        runtime.stop()


@app.command()
def demo(
    config: Path = typer.Option(Path("config/demo.yaml"), "--config", "-c", help="Demo config: cameras on the simulator"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    width: int = typer.Option(1280, help="Main-stream width of the simulated cameras"),
    height: int = typer.Option(720),
    fps: int = typer.Option(25),
    metrics_port: Optional[int] = typer.Option(
        None, "--metrics-port", min=1, max=65535,
        help="Port of the stream worker's Prometheus /metrics (default: metrics.port of the config, 9108)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Everything on this machine: simulated cameras, recording, events and the dashboard.

    stdin: "stop <id>" / "start <id>" cut and restore a simulated camera (an offline alarm)."""
    import os

    from vms.auth.users import ensure_demo_admin
    from vmsapp.demo import DemoConfigError, start_simulator
    from vmsapp.simulator_console import run_commands

    _logging(verbose)
    if metrics_port is not None:
        # Through the environment: the supervisor's worker processes read their settings themselves.
        os.environ["VMS_METRICS__PORT"] = str(metrics_port)
    settings = _settings(config)
    try:
        simulator = start_simulator(settings, width=width, height=height, fps=fps)
    except (DemoConfigError, Exception) as exc:
        err.print(f"cannot start the simulated cameras: {exc}")
        raise typer.Exit(1) from None

    def announce(db) -> None:
        login = ensure_demo_admin(db, settings.security)
        console.print(f"{len(settings.cameras)} simulated cameras on rtsp://127.0.0.1:{simulator.port}/<id>/main")
        console.print(f"open http://{host}:{port}/ and sign in", highlight=False)
        if login:
            console.print(f"  username: {login[0]}\n  password: {login[1]}   (shown once; change it in the dashboard)")
            if login[0] and "admin" in settings.security.two_factor.required_roles:
                console.print("  at the first sign-in, set up two-factor sign-in with an authenticator app (QR code)")
        else:
            console.print("  with an existing account of this data folder (forgot it? vms user passwd admin -c config/demo.yaml)")

    with simulator:
        db = open_database(config)[1]
        announce(db)
        db.dispose()
        console.print("type 'stop <id>' (e.g. stop tunnel-02) to cut a camera and raise an alarm, 'start <id>' to restore it")
        threading.Thread(target=run_commands, args=(simulator, sys.stdin, console.print), name="demo-console",
                         daemon=True).start()
        _supervise(settings, config, host, port, verbose)


@app.command()
def worker(
    config: Optional[Path] = ConfigOption,
    worker_id: Optional[str] = typer.Option(
        None, help="Name of this worker, distinct for each worker (default: VMS_WORKER_ID / worker_id from the "
                   "settings, else the host name with redis_url set, else 'local')"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """A stream worker without the API: pulls, records and watches its cameras."""
    _logging(verbose)
    from dashboard.server import raise_fd_limit
    from vmsapp.runtime import Runtime

    raise_fd_limit()  # segment files and RTSP sockets of many cameras
    settings = _settings(config)
    if worker_id:
        settings = settings.model_copy(update={"worker_id": worker_id})
    from vms.cluster.identity import DuplicateWorker

    runtime = Runtime.build(settings, with_worker=True)
    # Before the start (which can take seconds): a SIGTERM meanwhile still gets the orderly
    # stop, hand-over included, instead of the default handler's instant death.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runtime.start()
    except DuplicateWorker as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(2) from None
    metrics = None
    if settings.metrics.port is not None:
        from vmsapp.metrics_server import MetricsServer, worker_registry

        metrics = MetricsServer(worker_registry(runtime), settings.metrics.host, settings.metrics.port).start()
    console.print(f"worker {runtime.worker.worker_id} recording into {runtime.worker.recordings_dir}")
    stop.wait()
    runtime.stop()  # /metrics still answers while the worker drains (vms_worker_draining)
    from vmsapp.process_exit import leave_now

    # Everything is recorded, closed and flushed: skip the interpreter's slow teardown (seconds
    # of GC) and the metrics server's shutdown (its daemon thread polls every 0.5 s).
    leave_now(runtime.worker.index.pending if runtime.worker is not None else 0)
    if metrics is not None:
        metrics.stop()


@app.command()
def simulate(
    cameras: int = typer.Option(4, help="How many simulated cameras"),
    port: int = typer.Option(8554, help="RTSP port"),
    width: int = typer.Option(1280),
    height: int = typer.Option(720),
    fps: int = typer.Option(25),
) -> None:
    """Serve synthetic tunnel and road cameras over RTSP until interrupted (stdin: stop/start <id>)."""
    from streams.simulator import CameraSimulator, demo_cameras

    from vmsapp.simulator_console import run_commands

    specs = demo_cameras(cameras, width=width, height=height, fps=fps)
    with CameraSimulator(specs, port=port).start() as simulator:
        for spec in specs:
            console.print(f"{spec.id}: {simulator.url(spec.id)}")
        console.print("type 'stop <id>' or 'start <id>' to cut or restore a camera")
        threading.Thread(target=run_commands, args=(simulator, sys.stdin, console.print), name="simulate-console",
                         daemon=True).start()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()


@app.command("export")
def export(
    camera_id: str = typer.Argument(..., help="Camera id"),
    start: str = typer.Option(..., help="ISO time with zone, e.g. 2026-05-01T08:00:00+07:00"),
    end: str = typer.Option(..., help="ISO time with zone"),
    out: Path = typer.Option(..., "--out", help="Empty or new folder for the MP4 and manifest.json"),
    user: str = typer.Option(..., "--user", help="Who asks for the export (recorded in the manifest and audit log)"),
    reason: str = typer.Option("", help="Case number or why the evidence is needed"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Export evidence: one MP4 of the range (remuxed), a manifest with its SHA-256, the range locked."""
    from datetime import datetime

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    import vms.db.auth  # noqa: F401  (registers the tables)
    import vms.db.exports  # noqa: F401
    from vms.auth.audit import audit
    from vms.auth.roles import Capability
    from vms.auth.users import UserNotFound, Users
    from vms.config.security import security_of
    from vms.db import CameraRow
    from vms.db.secure import open_private_database
    from vms.evidence.keys import installation_key
    from vms.recordings.export import MANIFEST_NAME, request_export, run_export
    from vms.recordings.locate import SegmentFiles

    settings = _settings(config)
    try:
        begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    if begin.tzinfo is None or finish.tzinfo is None:
        err.print("refused: give --start and --end with a time zone, e.g. 2026-05-01T08:00:00+07:00")
        raise typer.Exit(2)
    if finish <= begin:
        err.print("refused: --end must be after --start")
        raise typer.Exit(2)
    if (out / MANIFEST_NAME).exists():
        err.print(f"refused: {out} already holds an export; choose an empty folder")
        raise typer.Exit(2)
    security = security_of(settings)
    db = open_private_database(settings)
    users = Users(db, security)
    with db.session() as session:
        camera = session.get(CameraRow, camera_id)
        group_id = camera.group_id if camera is not None else None
    try:
        person = users.get(user)
    except UserNotFound as exc:
        err.print(f"refused: {exc}")
        raise typer.Exit(2) from None
    if group_id is None:
        err.print(f"refused: camera '{camera_id}' does not exist")
        raise typer.Exit(2)
    if person.disabled or not users.access(person).on_group(group_id, Capability.EXPORT):
        err.print(f"refused: user {user} ({person.role.value}) may not export camera '{camera_id}'")
        raise typer.Exit(2)
    row = request_export(db, settings.data_dir / security.exports_dir, camera_id, begin, finish, person.username,
                         "local", reason, folder=out)
    audit(db, person, "export.request", camera_id,
          {"export": row.id, "start": begin, "end": finish, "reason": reason, "via": "cli"}, "local")
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"export {camera_id}", total=100)
        result = run_export(db, SegmentFiles.of(settings), row.id, installation_key(settings),
                            progress=lambda fraction: progress.update(task, completed=fraction * 100), role=person.role.value)
        progress.update(task, completed=100)
    if result.state != "done":
        err.print(f"export failed: {result.error}")
        raise typer.Exit(1)
    manifest = json.loads((Path(result.folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    contained = manifest["contained"]
    console.print(f"{Path(result.folder) / result.file_name}\nsha256 {result.sha256}\n"
                  f"manifest {Path(result.folder) / MANIFEST_NAME} (signed; check it with: vms verify {result.folder})\n"
                  f"pictures {contained['first_frame']} .. {contained['last_frame']} ({contained['frames']} frames; "
                  f"lead-in {manifest['lead_in']['seconds']:g} s before the start), "
                  f"{len(manifest['gaps'])} gap(s), {len(manifest['discontinuities'])} discontinuity(ies)",
                  highlight=False)


if __name__ == "__main__":
    app()
