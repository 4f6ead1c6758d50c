"""Saved video-wall layouts, each user's own: list, save (by name, replacing), delete.

A layout only names cameras; which of them a user may watch is decided when the wall plays
them (WHEP and snapshots check the camera's group), so a layout grants nothing.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dashboard.api.deps import get_runtime
from dashboard.api.params import RowId
from dashboard.api.responses import LayoutOut
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, require
from vms.auth.roles import Capability
from vms.config.cameras import ID_PATTERN
from vms.db.layouts import WallLayoutRow
from vms.walls.layouts import LayoutNotFound, TooManyLayouts, WallLayouts

router = APIRouter(tags=["layouts"])
ACCOUNT = require(Capability.ACCOUNT)
TILES = (1, 4, 9, 16)
_CAMERA_ID = re.compile(ID_PATTERN)


class LayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    tiles: int
    # One entry per tile in reading order: a camera id, or null for an empty tile.
    cameras: list[str | None] = Field(max_length=16)

    @model_validator(mode="after")
    def _fits(self) -> LayoutIn:
        if self.tiles not in TILES:
            raise ValueError(f"tiles must be one of {', '.join(map(str, TILES))}")
        if len(self.cameras) > self.tiles:
            raise ValueError(f"{len(self.cameras)} cameras do not fit in {self.tiles} tiles")
        for camera_id in self.cameras:
            if camera_id is not None and not _CAMERA_ID.match(camera_id):
                raise ValueError("a camera id is not valid")
        return self


def _layout(row: WallLayoutRow) -> dict:
    return {"id": row.id, "name": row.name, "tiles": row.tiles, "cameras": list(row.cameras or []),
            "updated_at": row.updated_at.isoformat()}


@router.get("/layouts", response_model=list[LayoutOut], response_model_exclude_unset=True)
def list_layouts(user: Principal = ACCOUNT, runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Your saved wall layouts, by name."""
    return [_layout(row) for row in WallLayouts(runtime.db).of_user(user.user.id)]


@router.put("/layouts", response_model=LayoutOut, response_model_exclude_unset=True)
def save_layout(body: LayoutIn, user: Principal = ACCOUNT, runtime: Services = Depends(get_runtime)) -> dict:
    """Save a layout under its name; a layout of yours with that name is replaced."""
    cameras = body.cameras + [None] * (body.tiles - len(body.cameras))
    try:
        return _layout(WallLayouts(runtime.db).save(user.user.id, body.name, body.tiles, cameras))
    except TooManyLayouts as exc:
        raise Problem(409, "too-many-layouts", str(exc)) from None


@router.delete("/layouts/{layout_id}", status_code=204)
def delete_layout(layout_id: RowId, user: Principal = ACCOUNT, runtime: Services = Depends(get_runtime)) -> Response:
    try:
        WallLayouts(runtime.db).delete(user.user.id, layout_id)
    except LayoutNotFound as exc:
        raise Problem(404, "layout-not-found", str(exc)) from None
    return Response(status_code=204)
