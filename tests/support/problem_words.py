"""What the dashboard would show for an API problem, worded only from the locale files.

A Python mirror of ``problemText`` in dashboard/static/app/api.js: the problem's type names a
``problem.<slug>`` sentence, a ``params.reason`` names ``problem.<slug>.<reason>`` (said where
the sentence has ``{detail}``), and field errors name ``validation.<code>``. ``words`` fails
when any piece is missing or a placeholder has no value, which is exactly when the operator
would read the server's English ``detail`` instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

LOCALES = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "app" / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
FIELD_ERRORS = ("invalid-request", "invalid-camera")  # their {detail} is built from each field's code


def locale(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def fill(strings: dict[str, str], key: str, values: dict) -> str:
    assert key in strings, f"no {key!r} in the locale"
    text = strings[key]
    missing = [name for name in PLACEHOLDER.findall(text) if name not in values]
    assert not missing, f"{key!r} needs {missing}, which the server does not send"
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def words(problem: dict, lang: str) -> str:
    """The sentence the dashboard shows for ``problem`` in ``lang`` ("en" or "vi")."""
    strings = locale(lang)
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    params = dict(problem.get("params") or {})
    values = {**params, "retry": "30"}
    if slug in FIELD_ERRORS:
        errors = problem.get("errors") or []
        assert errors, f"{slug} without its field errors"
        values["detail"] = "; ".join(
            f"{e['where']}: " + fill(strings, f"validation.{e['code']}", e.get("params") or {}) for e in errors)
    elif "detail" in PLACEHOLDER.findall(strings.get(f"problem.{slug}", "")):
        assert params.get("reason"), f"problem.{slug} says {{detail}} but the server sent no reason code"
        values["detail"] = fill(strings, f"problem.{slug}.{params['reason']}", params)
    return fill(strings, f"problem.{slug}", values)
