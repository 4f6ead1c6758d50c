"""The evidence manifest: what an export holds, said exactly, built in one place.

One ``EvidenceManifest`` is made per export by ``build_manifest`` and written as JSON beside
the MP4. It states the requested range and what the file really contains: the first and last
picture (wall-clock UTC of their presentation), the lead-in before the requested start (the
keyframe the first pictures need to decode), every gap and every discontinuity inside, and the
SHA-256 of the file. Anything that signs or verifies exports works on ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vms.recordings.playback import RangePlan, RemuxResult

MANIFEST_FORMAT = "vms-evidence-export/2"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class EvidenceManifest:
    export_id: str
    camera: dict[str, Any]  # id, name, group
    requested: dict[str, Any]  # start, end (ISO 8601 UTC)
    contained: dict[str, Any]  # first_frame, last_frame, frames, keyframes, frame_interval_seconds, media_start
    lead_in: dict[str, Any]  # keyframe (ISO), seconds before the requested start (0 when none)
    gaps: list[dict[str, Any]]  # start, end, seconds: no picture for longer than a join threshold
    discontinuities: list[dict[str, Any]]  # at, kind, seconds, action
    truncated_at: str | None
    exported_at: str
    exported_by: dict[str, Any]  # username, role, client_ip
    reason: str
    segments: list[dict[str, Any]]
    file: dict[str, Any]  # name, bytes, sha256
    evidence_lock: dict[str, Any]  # id, start, end
    method: str
    tool: dict[str, Any]
    format: str = field(default=MANIFEST_FORMAT)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": data.pop("format"), **data}


def build_manifest(
    *, export_id: str, camera: dict[str, Any], start: datetime, end: datetime, plan: RangePlan,
    result: RemuxResult, exported_at: datetime, exported_by: dict[str, Any], reason: str, file: dict[str, Any],
    evidence_lock: dict[str, Any], tool: dict[str, Any],
) -> EvidenceManifest:
    """The manifest of one export. ``plan``: the ``RangePlan``; ``result``: the ``RemuxResult``
    of writing the file (its frame times, gaps and discontinuities)."""
    return EvidenceManifest(
        export_id=export_id,
        camera=camera,
        requested={"start": start.isoformat(), "end": end.isoformat()},
        **clip_contents(plan, result, start),
        exported_at=exported_at.isoformat(),
        exported_by=exported_by,
        reason=reason,
        segments=result.segments,
        file=file,
        evidence_lock=evidence_lock,
        method="remux (no re-encoding): the camera's compressed pictures copied unchanged",
        tool=tool,
    )


def clip_contents(plan: RangePlan, result: RemuxResult, start: datetime) -> dict[str, Any]:
    """What one remuxed clip really holds, as the manifest states it: ``contained`` (first and last
    picture, frames, keyframes, frame interval, media start), ``lead_in`` (the keyframe before
    ``start`` and how many seconds before it), ``gaps``, ``discontinuities`` and ``truncated_at``.
    Used by single exports and by each clip of a case package, so both say the same things."""
    lead_seconds = max(0.0, (start - (result.first_frame or start)).total_seconds())
    return {
        "contained": {
            "first_frame": _iso(result.first_frame),
            "last_frame": _iso(result.last_frame),
            "frames": result.frames,
            "keyframes": result.keyframes,
            "frame_interval_seconds": result.frame_interval,
            # Media time t of the file shows the wall clock (UTC) media_start + t.
            "media_start": plan.media_start.isoformat(),
        },
        "lead_in": {"keyframe": _iso(result.first_frame), "seconds": round(lead_seconds, 3)},
        "gaps": [{"start": a.isoformat(), "end": b.isoformat(), "seconds": round((b - a).total_seconds(), 3)}
                 for a, b in result.gaps],
        "discontinuities": list(result.discontinuities),
        "truncated_at": _iso(plan.truncated_at),
    }
