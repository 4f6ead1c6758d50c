"""Request-scoped access to the process runtime."""

from __future__ import annotations

from fastapi import Request

from vmsapp.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime
