"""Serve the API with limits, so a flood of clients costs the API at most, never the machine.

uvicorn alone times out neither a connection that never sends a request nor one that sends
half its headers and stalls; each such connection holds a file descriptor forever, and about
20 000 of them exhausted a process's descriptors (issue 11). Here:

* ``GuardedH11Protocol``: a request's headers must arrive within ``header_timeout_seconds`` of
  the connection opening (or of the previous response); beyond ``max_connections`` open
  connections a new one is closed at once, before it costs more than its accept;
* ``dashboard.body_limit.BodyLimit`` (installed by ``create_app``): oversized bodies get 413;
* ``raise_fd_limit``: the soft ``RLIMIT_NOFILE`` is raised to the hard one and the connection cap is
  kept ``reserved_fds`` below it, so segment files, RTSP sockets and the database always find a
  descriptor.
"""

from __future__ import annotations

import logging
import resource

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from vms.config.settings import HttpConfig

log = logging.getLogger(__name__)

def raise_fd_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the file-descriptor limit from %d to %d: %s", soft, hard, exc)
    return soft


def connection_cap(config: HttpConfig, fd_limit: int) -> int:
    """Open connections allowed: the configured cap, but never into the reserved descriptors."""
    return max(16, min(config.max_connections, fd_limit - config.reserved_fds))


def guarded_protocol(header_timeout: float, max_connections: int) -> type[H11Protocol]:
    """An h11 protocol class with a header deadline and a connection cap (uvicorn's ``http=``)."""

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer = None
            if len(self.connections) > max_connections:
                # Refused before any request is read: the peer sees a reset, we keep the descriptor.
                GuardedH11Protocol.refused += 1
                transport.abort()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                self._arm()  # a next request on a kept-alive connection has begun: same deadline
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # uvicorn's keep-alive timeout covers the idle time after a response

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None and not self.transport.is_closing():
                self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            timer, self._header_timer = getattr(self, "_header_timer", None), None
            if timer is not None:
                timer.cancel()

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                GuardedH11Protocol.timed_out += 1
                self.transport.abort()

    GuardedH11Protocol.refused = 0
    GuardedH11Protocol.timed_out = 0
    return GuardedH11Protocol


def server_config(app, config: HttpConfig, host: str, port: int, **extra):
    """A ``uvicorn.Config`` with the limits of ``config`` (the file-descriptor limit raised first)."""
    import uvicorn

    fd_limit = raise_fd_limit()
    cap = connection_cap(config, fd_limit)
    log.info("HTTP: at most %d connections (descriptor limit %d, %d reserved)", cap, fd_limit, config.reserved_fds)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(config.header_timeout_seconds, cap),
        timeout_keep_alive=int(max(1, config.keep_alive_seconds)),
        limit_concurrency=cap,
        h11_max_incomplete_event_size=64 * 1024,  # request line and headers
        **extra,
    )


def serve(app, config: HttpConfig, host: str, port: int) -> None:
    """Run uvicorn in the calling thread until interrupted."""
    import uvicorn

    # log_config=None: uvicorn's records go through our handler (credentials masked, control characters escaped).
    uvicorn.Server(server_config(app, config, host, port, log_level="warning", log_config=None)).run()
