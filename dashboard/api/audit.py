"""Reading the audit log (admins). There is no route that changes or deletes an entry."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response

from dashboard.api.deps import get_runtime
from dashboard.api.params import offset_query
from dashboard.api.responses import AuditEntryOut
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require
from vms.auth.audit import AuditQuery, audit, audit_csv, entry_dict, query_audit
from vms.auth.roles import Capability

router = APIRouter(tags=["audit"])
AUDITOR = require(Capability.AUDIT_READ)


def _query(
    user: str | None = Query(None, max_length=64, description="username"),
    action: str | None = Query(None, max_length=64, description="an action, or a family ending in '.' (e.g. 'camera.')"),
    target: str | None = Query(None, max_length=200),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = offset_query(),
) -> AuditQuery:
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise Problem(400, "naive-time", "give times with a time zone, e.g. 2026-05-01T08:00:00+07:00")
    return AuditQuery(user, action, target, since, until, limit, offset)


@router.get("/audit", response_model=list[AuditEntryOut], response_model_exclude_unset=True)
def read_audit(user: Principal = AUDITOR, query: AuditQuery = Depends(_query),
               runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Entries, newest first."""
    return [entry_dict(e) for e in query_audit(runtime.db, query)]


@router.get("/audit.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}, "description": "the audit entries as CSV"}})
def audit_as_csv(request: Request, user: Principal = AUDITOR, query: AuditQuery = Depends(_query),
                 runtime: Services = Depends(get_runtime)) -> Response:
    """The same entries as CSV (up to 100 000 when ``limit`` is not given)."""
    if "limit" not in request.query_params:
        query.limit = 100_000
    entries = query_audit(runtime.db, query)
    audit(runtime.db, user, "audit.export", "", {"entries": len(entries)}, client_ip(request))
    return Response(
        audit_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="vms-audit.csv"', "Cache-Control": "no-store"},
    )
