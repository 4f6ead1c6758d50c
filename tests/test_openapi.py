"""The OpenAPI document is the contract: every route answering JSON declares what it answers."""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from vms.config import Settings
from vmsapp.runtime import Runtime

# Routes whose answer is not JSON, by what they send instead.
NOT_JSON = {"application/sdp", "application/zip", "image/jpeg", "video/mp4", "text/csv", "text/event-stream", "text/plain"}
# Successful answers with no body at all, as their protocol says (WHEP: DELETE answers 200, empty).
EMPTY = {("delete", "/api/cameras/{camera_id}/whep/{session_id}"), ("patch", "/api/cameras/{camera_id}/whep/{session_id}")}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory) -> dict:
    runtime = Runtime.build(Settings(data_dir=tmp_path_factory.mktemp("data")), with_worker=False)
    try:
        yield create_app(runtime).openapi()
    finally:
        runtime.stop()


def test_every_json_answer_has_a_schema(openapi):
    untyped = []
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = response.get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if (method, path) in EMPTY:
                    continue
                if not content or (not schema and not set(content) & NOT_JSON):
                    untyped.append(f"{method.upper()} {path} {status}: {sorted(content)}")
                elif schema is not None and schema in ({}, {"type": "object"}, {"items": {}, "type": "array"}):
                    untyped.append(f"{method.upper()} {path} {status}: answers an untyped {schema}")
    assert untyped == []


def test_camera_and_health_contracts_name_their_fields(openapi):
    schemas = openapi["components"]["schemas"]
    assert {"status", "storage", "capabilities"} <= set(schemas["CameraOut"]["properties"])
    assert set(schemas["StreamStatusOut"]["properties"]["state"]["enum"]) == {"connecting", "online", "offline", "error", "stopped"}
    assert "recording" in schemas["HealthOut"]["properties"]
