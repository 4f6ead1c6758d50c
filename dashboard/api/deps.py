"""Request-scoped access to the process runtime."""

from __future__ import annotations

from fastapi import Request

from dashboard.services import Services


def get_runtime(request: Request) -> Services:
    return request.app.state.runtime
