"""Events: the live feed (server-sent events), search, acknowledgement and snapshots.

Every route names its access rule; events are shown only for cameras in groups where the
user has ``event.view``, and acknowledged only with ``event.ack`` on the event's group. An
event the user may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from dashboard.api import detection
from dashboard.api.deps import get_runtime
from dashboard.api.params import RowId, offset_query
from dashboard.api.responses import EventOut
from dashboard.api.sse import bus_stream
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.db.events import EventRow
from vms.events import EVENTS_TOPIC, EventQuery, EventStore, event_message
from vms.events.store import EventNotFound

router = APIRouter(tags=["events"])
router.include_router(detection.router)

VIEW = require(Capability.EVENT_VIEW)
ACK = require(Capability.EVENT_ACK)


def get_store(runtime: Services = Depends(get_runtime)) -> EventStore:
    return EventStore(runtime.db)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _may(user: Principal, group_id: str | None, capability: Capability) -> bool:
    # An event of a camera without a group (removed since) is for those who see all groups.
    return user.access.on_group(group_id, capability) if group_id is not None else user.access.all_groups


def _visible_event(store: EventStore, event_id: int, user: Principal, capability: Capability = Capability.EVENT_VIEW) -> EventRow:
    try:
        row = store.get(event_id)
    except EventNotFound:
        raise Problem(404, "event-not-found", f"event {event_id} does not exist") from None
    if not _may(user, row.group_id, Capability.EVENT_VIEW):
        raise Problem(404, "event-not-found", f"event {event_id} does not exist")
    if not _may(user, row.group_id, capability):
        raise Problem(403, "not-allowed", f"your role ({user.role.value}) may not use '{capability.value}' on this event",
                      params={"reason": "capability", "role": user.role.value, "capability": capability.value})
    return row


def _groups_filter(user: Principal, wanted: list[str]) -> list[str] | None:
    """Groups to search: [] for no restriction, None when the user may see none of them."""
    visible = user.access.visible_groups()
    if visible is None:
        return wanted
    allowed = {g for g in visible if user.access.on_group(g, Capability.EVENT_VIEW)}
    groups = sorted(allowed & set(wanted)) if wanted else sorted(allowed)
    return groups or None


@router.get("/events", response_model=list[EventOut], response_model_exclude_unset=True)
def list_events(
    camera: list[str] = Query([], description="camera ids (repeat for several)"),
    group: list[str] = Query([], description="camera groups"),
    type: list[str] = Query([], description="event types, e.g. stopped_vehicle"),
    zone: list[str] = Query([], description="detection zones, e.g. lane-2 (repeat for several)"),
    since: datetime | None = Query(None, description="events still going on at or after this time (UTC if no zone)"),
    until: datetime | None = Query(None, description="events that started at or before this time"),
    unacknowledged: bool = Query(False, description="only events nobody has acknowledged yet"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = offset_query(),
    user: Principal = VIEW,
    store: EventStore = Depends(get_store),
) -> list[dict]:
    """Events, newest first."""
    groups = _groups_filter(user, group)
    if groups is None:
        return []
    query = EventQuery(cameras=camera, groups=groups, types=type, zones=zone, since=_utc(since), until=_utc(until),
                       unacknowledged=unacknowledged, limit=limit, offset=offset)
    return [event_message(row) for row in store.query(query)]


@router.get("/events/stream", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events, one event message (EventOut) each"}})
async def stream_events(
    request: Request,
    camera: list[str] = Query([]),
    group: list[str] = Query([]),
    type: list[str] = Query([]),
    user: Principal = VIEW,
    runtime: Services = Depends(get_runtime),
) -> StreamingResponse:
    """Live events as server-sent events: one ``data:`` line of JSON per event change
    (``phase`` is "start", "end" or "ack"), and a comment every 15 s to keep proxies open."""

    def wanted(message: dict) -> bool:
        return (
            (not camera or message.get("camera_id") in camera)
            and (not group or message.get("group") in group)
            and (not type or message.get("type") in type)
            and _may(user, message.get("group"), Capability.EVENT_VIEW)
        )

    return bus_stream(request, runtime.bus, EVENTS_TOPIC, wanted, user_id=user.user.id)


@router.get("/events/{event_id}", response_model=EventOut, response_model_exclude_unset=True)
def get_event(event_id: RowId, user: Principal = VIEW, store: EventStore = Depends(get_store)) -> dict:
    return event_message(_visible_event(store, event_id, user))


@router.post("/events/{event_id}/ack", response_model=EventOut, response_model_exclude_unset=True)
def acknowledge_event(
    event_id: RowId, request: Request, user: Principal = ACK, store: EventStore = Depends(get_store),
    runtime: Services = Depends(get_runtime),
) -> dict:
    """Mark the event seen and handled; the first acknowledgement is kept (and audited)."""
    row = _visible_event(store, event_id, user, Capability.EVENT_ACK)
    first = row.acknowledged_at is None
    message = event_message(store.acknowledge(event_id, user.username), "ack")
    if first:
        audit(runtime.db, user, "event.ack", row.camera_id, {"event": event_id, "type": row.type}, client_ip(request))
    runtime.bus.publish(EVENTS_TOPIC, message)
    return message


@router.get("/events/{event_id}/snapshot.jpg", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}, "description": "a JPEG picture"}})
def event_snapshot(event_id: RowId, user: Principal = VIEW, store: EventStore = Depends(get_store),
                   runtime: Services = Depends(get_runtime)) -> FileResponse:
    row = _visible_event(store, event_id, user)
    events_dir = (Path(runtime.settings.data_dir) / "events").resolve()
    path = (Path(runtime.settings.data_dir) / row.snapshot_path).resolve() if row.snapshot_path else None
    if path is None or events_dir not in path.parents or not path.is_file():
        raise Problem(404, "snapshot-not-found", f"event {event_id} has no snapshot")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
