"""Server refusals reach the dashboard as codes with parameters, never as English text (issue 14,
"Vietnamese all the way").

Each route below is made to refuse for a reason that used to travel as an English ValueError
message; the answer must be worded entirely from the locale files, in English and in
Vietnamese (``tests.support.problem_words`` mirrors the dashboard's ``problemText``). The
locale test checks every code the server can emit (problem types, their reason codes, field
validation codes, export failure codes) against both locale files.
"""

from __future__ import annotations

import ast
import asyncio
import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.api import api_system
from tests.support.problem_words import PLACEHOLDER, locale, words
from vms.config.alarms import AlarmsConfig
from vms.config.detection import EventsConfig

ROOT = Path(__file__).resolve().parents[1]
GOOD_URL = "rtsp://10.0.0.9/stream1"
CAMERA = {"id": "tun-9", "name": "Hầm 9", "group": "tunnel", "main_url": GOOD_URL}
ONNX_NO_LABELS = {"objects": {"detector": "onnx", "model": "people.onnx"}}
RULE = {"id": "r1", "event_types": ["stopped_vehicle", "ufo_landing"], "priority": "high"}

# (method, path, body, who, expected problem type, expected reason or field code)
REFUSALS = [
    ("post", "/api/users", {"username": "A B", "password": "correct horse battery staple 42", "role": "operator"},
     "admin", "invalid-user", "bad-username"),
    ("post", "/api/grants", {"role": "operator", "group": "nowhere", "capabilities": ["live"]},
     "admin", "invalid-grant", "unknown-group"),
    ("post", "/api/grants", {"role": "operator", "group": "tunnel", "capabilities": ["fly"]},
     "admin", "invalid-grant", "unknown-capability"),
    ("post", "/api/grants", {"role": "operator", "group": "tunnel", "capabilities": ["user.manage"]},
     "admin", "invalid-grant", "capability-not-allowed"),
    ("post", "/api/grants", {"user": "operator", "role": "operator", "group": "tunnel", "capabilities": ["live"]},
     "admin", "invalid-grant", "user-or-role"),
    ("post", "/api/auth/tokens", {"name": "script", "scopes": ["fly"]}, "admin", "bad-scope", "unknown-capability"),
    ("post", "/api/cameras", {**CAMERA, "main_url": "ftp://10.0.0.9/x"}, "admin", "invalid-camera", "camera_url.bad-scheme"),
    ("post", "/api/cameras", {**CAMERA, "main_url": "rtsp:///x"}, "admin", "invalid-camera", "camera_url.no-host"),
    ("post", "/api/cameras", {**CAMERA, "group": "moon"}, "admin", "unknown-group", None),
    ("post", "/api/cameras", {**CAMERA, "main_url": "rtsp://169.254.169.254/x"}, "admin", "camera-address-refused", "denied"),
    ("post", "/api/cameras/probe", {"url": "ftp://10.0.0.9/x"}, "admin", "invalid-url", "bad-scheme"),
    ("patch", "/api/cameras/tun-1", {"main_url": "rtsp://10.0.0.9:0/x"}, "admin", "invalid-camera", "camera_url.port-zero"),
    ("put", "/api/cameras/tun-1/detection", {"objects": {"detector": "onnx", "model": "../db.onnx", "labels": ["car"]}},
     "admin", "model-not-allowed", "not-onnx-in-folder"),
    ("put", "/api/cameras/tun-1/detection", {"objects": {"detector": "onnx", "model": "none.onnx", "labels": ["car"]}},
     "admin", "model-not-allowed", "missing"),
    ("put", "/api/cameras/tun-1/detection", ONNX_NO_LABELS, "admin", "invalid-request", "onnx_labels_missing"),
    ("put", "/api/cameras/tun-1/detection", {"objects": {"detector": "onnx", "model": "people.onnx", "labels": ["car"],
                                                         "detect": ["tank"]}},
     "admin", "invalid-request", "detect_unknown_labels"),
    ("put", "/api/cameras/tun-1/detection", {"objects": {"detector": "onnx", "labels": ["car"]}},
     "admin", "invalid-request", "onnx_model_missing"),
    ("put", "/api/cameras/tun-1/detection", {"objects": {"detector": "hog_people", "labels": ["car"]}},
     "admin", "invalid-request", "hog_labels"),
    ("put", "/api/cameras/tun-1/detection", {}, "operator", "not-allowed", "capability"),
    ("put", "/api/alarm-rules/r1", RULE, "admin", "invalid-request", "unknown_event_types"),
    ("post", "/api/bookmarks", {"camera_id": "tun-1", "start": "2026-05-01T08:00:00Z", "title": "  "},
     "investigator", "bad-bookmark", "title-required"),
    ("post", "/api/cameras/tun-1/motion-search", {"start": "2026-05-01T08:00:00Z", "end": "2026-05-01T08:10:00Z",
                                                  "region": {"x": 0.9, "y": 0, "w": 0.5, "h": 0.5}},
     "investigator", "bad-search", "bad-region"),
]


@pytest.mark.parametrize(("method", "path", "body", "who", "slug", "code"), REFUSALS,
                         ids=[f"{r[4]}:{r[5]}" for r in REFUSALS])
async def test_a_refusal_is_a_code_the_dashboard_words_in_both_languages(tmp_path, method, path, body, who, slug, code):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        response = await system.client.request(method.upper(), path, json=body, headers=system.token(who))
        assert 400 <= response.status_code < 500, response.text
        problem = response.json()
        assert problem["type"] == f"/problems/{slug}", problem
        if slug in ("invalid-request", "invalid-camera"):
            assert code in [e["code"] for e in problem["errors"]], problem
        elif code is not None:
            assert problem["params"]["reason"] == code, problem
        english, vietnamese = words(problem, "en"), words(problem, "vi")
        assert english != vietnamese
        # The Vietnamese sentence holds none of the server's English words (names and numbers may appear).
        assert problem["detail"] not in vietnamese


async def test_a_failed_export_says_why_as_a_code(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        body = {"camera_id": "tun-1", "start": "2026-05-01T08:00:00Z", "end": "2026-05-01T08:05:00Z"}
        created = await system.client.post("/api/exports", json=body, headers=system.token("investigator"))
        assert created.status_code in (200, 201, 202), created.text
        path = f"/api/exports/{created.json()['id']}"
        deadline = time.monotonic() + 30
        while True:
            export = (await system.client.get(path, headers=system.token("investigator"))).json()
            if export["state"] in ("done", "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert export["state"] == "failed" and export["error_code"] == "nothing-recorded", export
        for lang in ("en", "vi"):
            assert f"exports.failure.{export['error_code']}" in locale(lang)


@pytest.mark.parametrize(("config", "section", "code"), [
    (EventsConfig, {"webhooks": [{"url": "ftp://hotline.example/vms"}]}, "webhook_url"),
    (EventsConfig, {"webhooks": [{"url": "https://hotline.example/vms", "types": ["ufo"]}]}, "unknown_event_types"),
    (AlarmsConfig, {"webhooks": [{"url": "file:///etc/passwd"}]}, "webhook_url"),
])
def test_webhook_settings_are_refused_with_codes(config, section, code):
    """Webhooks are set in the YAML file; their refusals carry codes the dashboard can word too."""
    with pytest.raises(ValidationError) as refused:
        config(**section)
    [error] = refused.value.errors()
    assert error["type"] == code
    for lang in ("en", "vi"):
        text = locale(lang)[f"validation.{code}"]
        assert set(PLACEHOLDER.findall(text)) <= set(error.get("ctx") or {})


# --- every code the server can emit has its words -------------------------------------------


def _calls(paths, names: set[str], position: int) -> set[str]:
    """Constant string arguments at ``position`` of calls to ``names`` in the Python files ``paths``."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in names and len(node.args) > position and isinstance(node.args[position], ast.Constant):
                    found.add(node.args[position].value)
    return found


def _python(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def problem_types() -> set[str]:
    """Every problem type the API can answer with."""
    types = _calls(_python("dashboard"), {"Problem", "coded"}, 1)
    types |= _calls(_python("vms/alarms"), {"AlarmRefused"}, 0)  # refusals of a step become 409 problems
    for path in _python("dashboard"):  # the live gateway's table: (status, slug, title, headers)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple) and len(node.elts) == 4 and all(isinstance(e, ast.Constant) for e in node.elts[:3]):
                if isinstance(node.elts[0].value, int) and isinstance(node.elts[1].value, str):
                    types.add(node.elts[1].value)
    return types | {"not-found", "method-not-allowed"}


def reason_codes() -> set[str]:
    """Codes of refusals that travel as ``params.reason``."""
    coded = {"CodedError", "InvalidCameraUrl", "CameraAddressRefused", "ModelNotAllowed", "WeakPassword"}
    return _calls(_python("vms", "vmsapp", "dashboard"), coded, 1)


def field_codes() -> set[str]:
    """pydantic error codes of our own validators (each ``validation.<code>`` in the UI)."""
    return _calls(_python("vms/config"), {"PydanticCustomError"}, 0)


def test_both_locales_hold_the_same_keys():
    assert set(locale("en")) == set(locale("vi"))


def test_every_code_the_server_can_emit_has_english_and_vietnamese_words():
    en, vi = locale("en"), locale("vi")
    missing = []
    for slug in sorted(problem_types()):
        missing += [f"{lang}: problem.{slug}" for lang, strings in (("en", en), ("vi", vi)) if f"problem.{slug}" not in strings]
    for code in sorted(reason_codes()):
        for lang, strings in (("en", en), ("vi", vi)):
            if not any(key.startswith("problem.") and key.endswith(f".{code}") for key in strings):
                missing.append(f"{lang}: problem.<type>.{code}")
    for code in sorted(field_codes()):
        missing += [f"{lang}: validation.{code}" for lang, strings in (("en", en), ("vi", vi)) if f"validation.{code}" not in strings]
    for code in sorted(_calls(_python("vms/cameras"), {"InvalidCameraUrl"}, 1)):
        missing += [f"{lang}: validation.camera_url.{code}" for lang, strings in (("en", en), ("vi", vi))
                    if f"validation.camera_url.{code}" not in strings]
    failures = _calls([ROOT / "vms/recordings/export_failure.py"], {"ExportFailure"}, 0)
    failures |= {"disk-full", "file-missing", "storage"}  # chosen by errno in failure_of
    missing += [f"{lang}: exports.failure.{code}" for code in sorted(failures) for lang, strings in (("en", en), ("vi", vi))
                if f"exports.failure.{code}" not in strings]
    assert not missing, "\n".join(missing)


def test_problem_sentences_never_echo_the_servers_english():
    """``{detail}`` in a problem's sentence is only ever filled from our own words (a reason or field codes)."""
    allowed = {"invalid-request", "invalid-camera"}
    for lang in ("en", "vi"):
        strings = locale(lang)
        for key, text in strings.items():
            if key.startswith("problem.") and key.count(".") == 1 and "detail" in PLACEHOLDER.findall(text):
                slug = key.split(".", 1)[1]
                has_reasons = any(k.startswith(f"problem.{slug}.") for k in strings)
                assert slug in allowed or has_reasons, f"{lang} {key} shows the server's English detail"


def test_locale_files_are_valid_json_objects():
    for lang in ("en", "vi"):
        assert isinstance(json.loads((ROOT / f"dashboard/static/app/locales/{lang}.json").read_text(encoding="utf-8")), dict)


def audit_actions() -> set[str]:
    """Every constant action name passed to ``audit`` (directly or through ``run_in_threadpool``)."""
    actions: set[str] = set()
    for path in _python("vms", "vmsapp", "dashboard"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = node.args[1:] if name == "run_in_threadpool" and node.args and getattr(node.args[0], "id", "") == "audit" \
                else node.args if name == "audit" else []
            if len(args) < 3:
                continue
            candidates = [args[2].body, args[2].orelse] if isinstance(args[2], ast.IfExp) else [args[2]]
            actions |= {c.value for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return actions


def test_every_audit_action_has_words():
    """The audit screen says each action in words, never as its raw code (issue 14, point 7)."""
    actions = audit_actions()
    assert {"alarm.take_over", "live.stop", "export.failed"} <= actions  # the scan finds them
    for lang in ("en", "vi"):
        missing = sorted(a for a in actions if f"audit.action.{a}" not in locale(lang))
        assert not missing, f"{lang}: {missing}"


def test_every_role_and_right_has_words_in_both_languages():
    """'Not allowed' messages name the missing right; a right without words showed its code."""
    from vms.auth.roles import Capability, Role

    for lang in ("en", "vi"):
        words = json.loads((ROOT / f"dashboard/static/app/locales/{lang}.json").read_text(encoding="utf-8"))
        missing = [f"capability.{c.value}" for c in Capability if f"capability.{c.value}" not in words]
        missing += [f"role.{r.value}" for r in Role if f"role.{r.value}" not in words]
        assert not missing, (lang, missing)
