"""Detection settings (issue 13): switching tamper detection off went unaudited, and
``objects.model`` accepted any server path (the database file was parsed as a model)."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.api import api_system
from vms.db.auth import AuditEntry
from vms.events.configs import DetectionSettings

URL = "/api/cameras/tun-1/detection"


async def test_detection_changes_are_audited_with_before_and_after(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        tech = system.token("technician")
        assert (await system.client.put(URL, json={"tamper": {"enabled": True}}, headers=tech)).status_code == 200
        off = await system.client.put(URL, json={"tamper": {"enabled": False}}, headers=tech)
        assert off.status_code == 200
        assert (await system.client.delete(URL, headers=tech)).status_code == 200
        with system.db.session() as session:
            entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("detection."))
                                           .order_by(AuditEntry.id)))
        assert [(e.username, e.action, e.target) for e in entries] == [
            ("technician", "detection.update", "tun-1"), ("technician", "detection.update", "tun-1"),
            ("technician", "detection.reset", "tun-1"),
        ]
        assert entries[0].detail["before"]["source"] == "none"
        assert entries[1].detail["before"]["config"]["tamper"]["enabled"] is True
        assert entries[1].detail["after"]["config"]["tamper"]["enabled"] is False
        assert entries[2].detail["after"]["source"] == "none"


async def test_object_models_come_only_from_the_models_folder(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        tech = system.token("technician")
        database = str(tmp_path / "vms.db")
        for model in (database, "../vms.db", "/etc/passwd", "models/../../vms.db", "missing.onnx", "notes.txt"):
            body = {"objects": {"model": model, "labels": ["person"]}}
            response = await system.client.put(URL, json=body, headers=tech)
            assert response.status_code == 422 and response.json()["type"] == "/problems/model-not-allowed", model
        models = tmp_path / "models"
        models.mkdir(exist_ok=True)
        (models / "people.onnx").write_bytes(b"onnx")
        (tmp_path / "outside.onnx").write_bytes(b"onnx")
        (models / "escape.onnx").symlink_to(tmp_path / "outside.onnx")
        refused = await system.client.put(URL, json={"objects": {"model": "escape.onnx", "labels": ["person"]}}, headers=tech)
        assert refused.status_code == 422  # a link out of the folder does not count as inside it
        ok = await system.client.put(URL, json={"objects": {"model": "people.onnx", "labels": ["person"]}}, headers=tech)
        assert ok.status_code == 200, ok.text
        assert ok.json()["config"]["objects"]["model"] == "people.onnx"
        settings = system.runtime.settings
        effective = DetectionSettings(system.db, settings.detection, models_dir=settings.models_dir).effective("tun-1")
        assert effective.objects.model == (models / "people.onnx").resolve()
