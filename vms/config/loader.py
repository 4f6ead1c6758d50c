"""Load settings and turn every failure into one message naming the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vms.config.settings import Settings, build_settings


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is a message meant for the person who wrote it."""


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load ``path`` (YAML) under ``VMS_*`` environment variables, or raise ConfigError."""
    yaml_file = Path(path) if path is not None else None
    source = str(yaml_file) if yaml_file else "environment"
    raw: Any = {}
    if yaml_file is not None:
        if not yaml_file.is_file():
            raise ConfigError(f"{yaml_file}: config file not found")
        try:
            raw = yaml.safe_load(yaml_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{yaml_file}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{yaml_file}: top level must be a mapping of keys, got {type(raw).__name__}")
    try:
        return build_settings(yaml_file, **overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc, raw)) from None


def _describe(source: str, exc: ValidationError, raw: dict[str, Any]) -> str:
    lines = [f"{source}: invalid configuration"]
    for error in exc.errors():
        key = _key_path(error["loc"], raw)
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {source}: {key or '(top level)'}: {reason}")
    return "\n".join(lines)


def _key_path(loc: tuple[int | str, ...], raw: Any) -> str:
    """Render a pydantic location like ``cameras.2.main_url`` as ``cameras[2] (id=x).main_url``."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and "id" in node:
                label += f" (id={node['id']})"
            parts.append(label)
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)
