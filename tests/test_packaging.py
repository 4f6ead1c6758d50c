"""The image's install line in a fresh virtual environment: ``vms api`` and ``vms worker`` start.

The Dockerfile is executed rather than read: its ``COPY`` lines are copied into an empty folder
and its ``pip install`` line is run there by a new venv's pip (no system site-packages, no test
extras), with pip's cache kept so a rerun does not download again. Then the installed ``vms``
runs the API and a worker against the real Redis and a throwaway PostgreSQL database, with a
camera nobody answers for: the API must see the worker's status for it (the status board
across processes) and the worker must serve its own metrics. Docker itself is not needed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import venv
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import (
    free_port,
    postgres_admin_url,
    redis_available,
    stop_process,
    throwaway_database,
    unique,
    wait_for,
    write_config,
)
from tests.test_docker_files import instructions

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def image_install(app: Path) -> str:
    """Copy what the Dockerfile copies into ``app`` (its WORKDIR); the RUN line that installs vms."""
    steps = instructions(DOCKERFILE)
    workdir = Path([arg for op, arg in steps if op == "WORKDIR"][-1])
    for op, arg in steps:
        if op != "COPY":
            continue
        *sources, target = shlex.split(arg)
        destination = app / (Path(target).relative_to(workdir) if Path(target).is_absolute() else target)
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, destination, ignore=shutil.ignore_patterns("__pycache__"))
            elif target.endswith("/"):  # into the folder, as Docker does
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, destination / path.name)
            else:
                shutil.copy(path, destination)
    [install] = [arg for op, arg in steps if op == "RUN" and "pip install" in arg]
    return install


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a fresh venv where the image's install line ran."""
    base = tmp_path_factory.mktemp("image")
    app = base / "app"
    app.mkdir()
    install = image_install(app)
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(base / "venv")
    bin_dir = base / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VMS_", "PIP_NO_CACHE"))}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    done = subprocess.run(["sh", "-c", install], cwd=app, env=env, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, f"the image's install line failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return bin_dir


def test_installed_vms_runs_api_and_worker_against_redis_and_postgres(installed, tmp_path):
    reason = redis_available()
    admin = postgres_admin_url()
    if reason or admin is None:
        pytest.skip(reason or "PostgreSQL is not reachable")
    check = subprocess.run([installed / "python", "-c", "import vms, vmsapp; print(vms.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    assert str(installed.parent) in check.stdout, "the venv must import its own installed copy"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VMS_"))}
    api_port, metrics_port, dead_port = free_port(), free_port(), free_port()
    with throwaway_database(admin) as database_url:
        config = write_config(
            tmp_path / "vms.yaml",
            data_dir=str(tmp_path / "data"),
            database_url=database_url.replace("postgresql://", "postgresql+psycopg://"),
            redis_url="redis://127.0.0.1:6379/0",
            cluster={"key_prefix": unique("vms-pkg-") + ":"},
            metrics={"host": "127.0.0.1", "port": metrics_port},
            cameras=[{"id": "gate-01", "name": "Gate 1", "group": "gateway",
                      "main_url": f"rtsp://127.0.0.1:{dead_port}/main"}],  # recorded: so it is pulled
        )
        logs = tmp_path / "logs.txt"
        worker = subprocess.Popen([installed / "vms", "worker", "-c", str(config), "--worker-id", "pkg-1"],
                                  cwd=tmp_path, env=env, stdout=logs.open("ab"), stderr=subprocess.STDOUT)
        api = subprocess.Popen([installed / "vms", "api", "-c", str(config), "--port", str(api_port)],
                               cwd=tmp_path, env=env, stdout=logs.open("ab"), stderr=subprocess.STDOUT)
        try:
            def health() -> dict | None:
                assert api.poll() is None and worker.poll() is None, logs.read_text()[-3000:]
                try:
                    answer = httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2)
                except httpx.TransportError:
                    return None
                return answer.json() if answer.is_success and answer.json()["cameras"] else None

            # The API runs no worker: it knows the camera's state only from the worker, over Redis.
            seen = wait_for(health, 120, "the API never saw the worker's camera status")
            assert seen["cameras"] == 1 and seen["online"] == 0

            def worker_metrics() -> str | None:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
                except httpx.TransportError:
                    return None
                return answer.text if answer.is_success and 'vms_camera_up{camera="gate-01"' in answer.text else None

            text = wait_for(worker_metrics, 60, "the worker served no metrics for its camera")
            assert 'vms_camera_up{camera="gate-01",stream="main"} 0.0' in text
        finally:
            stop_process(api)
            stop_process(worker)
