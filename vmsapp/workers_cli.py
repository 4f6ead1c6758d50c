"""``vms workers``: each live scale-out worker, the cameras it records, hands over and stands by
for, asked over the bus RPC the API uses for live video (``describe`` on ``worker.<id>``), and
each worker that is stopping (``draining``: it left the worker set but still records cameras
until their next holders have started; ``vms.cluster.draining``)."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

DESCRIBE_SECONDS = 3.0


def ask_workers(bus, members, timeout: float = DESCRIBE_SECONDS, draining=None) -> list[dict[str, Any]]:
    """Every live and every draining worker's ``describe()`` (``vmsapp.worker.StreamWorker.describe``)
    plus ``host``, ``pid`` and ``state`` (``live`` or ``draining``); a draining worker also has
    ``draining``, its notice (``since``/``until`` UTC epoch s, ``cameras``, ``taken``). A live
    worker that does not answer within ``timeout`` s gets ``{"worker_id", "error"}`` instead; a
    draining one that does not (its RPC closes while its last segments close) is described by
    its notice, ``cameras`` included, with ``answered`` False. ``members``:
    ``vms.cluster.members.Membership``; ``draining``: ``vms.cluster.draining.DrainNotices``.
    Raises ``redis.RedisError`` when Redis does not answer."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from vms.bus.rpc import RpcClient, RpcError, worker_service

    rpc = RpcClient(bus)
    try:
        live = members.live()
        notices: dict[str, dict[str, Any]] = draining.all() if draining is not None else {}
        asked = live + sorted(w for w in notices if w not in live)
        sent: dict[str, Future[dict[str, Any]]] = {w: rpc.send(worker_service(w), "describe", {}, timeout) for w in asked}
        answers = []
        for worker_id, future in sent.items():
            notice = notices.get(worker_id)
            advertised = (members.info(worker_id) if worker_id in live else None) or notice or {}
            where: dict[str, Any] = {"host": advertised.get("host"), "pid": advertised.get("pid"),
                                     "state": "live" if notice is None else "draining"}
            if notice is not None:
                where["draining"] = notice
            try:
                reply = future.result(timeout)
                if "error" in reply:
                    raise RpcError(str(reply["error"].get("type")), str(reply["error"].get("message")))
                answers.append({**reply["result"], **where, "answered": True})
            except (FutureTimeout, RpcError) as exc:
                if notice is not None:
                    # Stopping: its RPC ends before its last segments are closed. Not a fault.
                    answers.append({"worker_id": worker_id, **where, "cameras": notice.get("cameras", []),
                                    "ownership": {"handing_over": notice.get("cameras", []) if notice.get("until") else []},
                                    "answered": False})
                else:
                    answers.append({"worker_id": worker_id, **where, "answered": False,
                                    "error": str(exc) or f"no answer within {timeout:g} s"})
        return answers
    finally:
        rpc.close()


def format_worker(described: dict[str, Any]) -> str:
    """One worker in a few lines an operator reads: what it records, hands over, stands by for."""
    head = f"{described['worker_id']} (host {described.get('host')}, pid {described.get('pid')})"
    if described.get("error"):
        return f"{head}: did not answer: {described['error']}"
    notice = described.get("draining")
    if notice is not None:
        head += " DRAINING: " + _drain_phrase(notice, described.get("answered", True))
    ownership = described.get("ownership", {})
    handing = set(ownership.get("handing_over", []))
    held = [c for c in described.get("cameras", []) if c not in handing]
    standby = described.get("standby", {})
    rings = ", ".join(f"{c} ({ring.get('seconds', 0):.1f} s ring)" for c, ring in sorted(standby.items()))
    lines = [
        head,
        f"  records {len(held)}: {', '.join(held) or '-'}",
        f"  hands over {len(handing)}: {', '.join(sorted(handing)) or '-'}",
        f"  stands by for {len(standby)}: {rings or '-'}",
        f"  RTSP sessions {described.get('rtsp_sessions', 0)}, index rows pending {described.get('index_pending', 0)}"
        + ("" if ownership.get("redis_ok", True) else ", Redis NOT reachable"),
    ]
    if ownership.get("unconfirmed"):
        lines.append(f"  lease not confirmed (may be recorded twice): {', '.join(ownership['unconfirmed'])}")
    return "\n".join(lines)


def _drain_phrase(notice: dict[str, Any], answered: bool, now: float | None = None) -> str:
    """'stopping for 3.2 s, hands its cameras over (gives up in 26.8 s)'."""
    now = time.time() if now is None else now
    parts = []
    if notice.get("since") is not None:
        parts.append(f"stopping for {max(0.0, now - notice['since']):.1f} s")
    if notice.get("until") is not None:
        parts.append(f"hands its cameras over (gives up in {max(0.0, notice['until'] - now):.1f} s)")
    else:
        parts.append("no other worker takes its cameras; it closes them")
    if notice.get("taken"):
        parts.append(f"taken already: {', '.join(notice['taken'])}")
    if not answered:
        parts.append("closing its last segments (no longer answers)")
    return ", ".join(parts)


def workers(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
    as_json: bool = typer.Option(False, "--json", help="Print each worker's describe() as JSON"),
    timeout: float = typer.Option(DESCRIBE_SECONDS, help="Seconds to wait for each worker's answer"),
) -> None:
    """Live scale-out workers: the cameras each records, hands over and stands by for (warm standby,
    with its pre-roll ring), and its RTSP pulls; and the workers stopping (DRAINING) with the
    cameras they still record. Exits 1 when a live worker does not answer."""
    import redis

    from vmsapp.cli import _settings
    from vms.bus import bus_from_url
    from vms.cluster.draining import DrainNotices
    from vms.cluster.members import Membership

    settings = _settings(config)
    if not settings.redis_url:
        err.print("vms workers lists scale-out workers (redis_url is not set); the all-in-one vms run has "
                  "one worker: see its /metrics")
        raise typer.Exit(2)
    prefix = settings.cluster.key_prefix
    bus = bus_from_url(settings.bus_url, prefix)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        answers = ask_workers(bus, Membership(client, prefix), timeout, DrainNotices(client, prefix))
    except redis.RedisError as exc:
        err.print(f"Redis at {settings.redis_url} does not answer: {exc}")
        raise typer.Exit(1) from None
    finally:
        bus.close()
        client.close()
    if as_json:
        console.print_json(json.dumps(answers))
    else:
        for described in answers:
            console.print(format_worker(described), highlight=False, soft_wrap=True, markup=False)
        draining = sum(1 for a in answers if a.get("state") == "draining")
        console.print(f"{len(answers) - draining} live workers" + (f", {draining} draining" if draining else ""),
                      highlight=False)
    if any(a.get("error") for a in answers):
        raise typer.Exit(1)
