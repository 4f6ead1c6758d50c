"""docker/: the compose file stays consistent with the code, the image runs as a user (no Docker engine needed).

The image's COPY and install lines are executed, not read, by ``tests/test_packaging.py``.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml
from pydantic import BaseModel

from vmsapp.cli import app
from vms.config import Settings, load_settings

DOCKER = Path(__file__).resolve().parents[1] / "docker"
ROOT = DOCKER.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def vms_commands() -> set[str]:
    return set(typer.main.get_command(app).commands)


def vms_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if s.get("build", {}).get("dockerfile") == "docker/Dockerfile"}


def setting_exists(variable: str) -> bool:
    """``VMS_A__B`` names the field ``a.b`` of Settings (nested models through ``__``)."""
    model: type[BaseModel] = Settings
    parts = variable.removeprefix("VMS_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if i < len(parts) - 1:
            annotation = field.annotation
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_image_is_python_311_slim_non_root_with_the_vms_entrypoint():
    steps = instructions(DOCKER / "Dockerfile")
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["vms"]
    assert json.loads(dict(steps)["CMD"])[0] in vms_commands()
    # What the image copies and installs is checked by running it: tests/test_packaging.py.


def test_simulator_image_serves_the_cameras_the_config_names(compose):
    steps = instructions(DOCKER / "simulator.Dockerfile")
    assert steps[0][1].startswith("debian:")
    apt = " ".join(arg for op, arg in steps if op == "RUN")
    for package in ("python3-gi", "gir1.2-gst-rtsp-server-1.0", "gstreamer1.0-plugins-ugly"):
        assert package in apt
    for op, arg in steps:
        if op == "COPY":
            assert (ROOT / shlex.split(arg)[0]).exists()
    served = {c["id"] for c in json.loads((DOCKER / "simulator-cameras.json").read_text())}
    settings = load_settings(DOCKER / "vms.yaml")
    assert settings.cameras, "the compose config records some cameras"
    for camera in settings.cameras:
        match = re.fullmatch(r"rtsp://([^:/]+):8554/([^/]+)/main", camera.main_url)
        assert match and match.group(1) in compose["services"], camera.main_url
        assert match.group(2) in served, f"{camera.id}: the simulator does not serve {match.group(2)}"
    assert "8554:8554" in compose["services"]["simulator"]["ports"]


def test_every_vms_service_runs_a_real_subcommand_with_known_settings(compose):
    services = vms_services(compose)
    assert {"api"} <= set(services) and sum(name.startswith("worker") for name in services) >= 2
    commands = vms_commands()
    for name, service in services.items():
        command = service["command"]
        assert command[0] in commands, f"{name}: '{command[0]}' is not a vms sub-command"
        assert command[0] == ("api" if name == "api" else "worker")
        for variable in service["environment"]:
            assert variable.startswith("VMS_") and setting_exists(variable), f"{name}: {variable} is no Settings field"
        environment = {k: str(v) for k, v in service["environment"].items()}
        assert environment["VMS_REDIS_URL"].startswith("redis://") and environment["VMS_DATABASE_URL"].startswith("postgresql://")


def test_services_reference_each_other_consistently(compose):
    services = compose["services"]
    volumes = set(compose.get("volumes", {}))
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} mounts undeclared volume {source}"
        for value in (service.get("environment") or {}).values():
            for host in re.findall(r"^[a-z]+(?:\+[a-z]+)?://(?:[^@/]*@)?([^:/?]+)", str(value)):
                assert host in services, f"{name}: {value} points at unknown host {host}"
    workers = vms_services(compose)
    ids = [w["environment"]["VMS_WORKER_ID"] for n, w in workers.items() if n != "api"]
    assert len(ids) == len(set(ids)), "worker ids must be distinct (index rows and storage folders carry them)"
    postgres = services["postgres"]["environment"]
    url = workers["api"]["environment"]["VMS_DATABASE_URL"]
    assert f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}" in url
    # Every worker and the api share one recordings volume (per-worker subfolders inside).
    assert all(any(m.startswith("recordings:") for m in s["volumes"]) for s in workers.values())


def test_compose_environment_loads_as_settings(compose, monkeypatch):
    service = compose["services"]["worker-1"]
    for key, value in service["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(DOCKER / "vms.yaml")
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.worker_id == "worker-1"
    assert str(settings.recordings_dir) == "/recordings"
    assert settings.storage.min_free > 0, "YAML values under the same section are kept"
