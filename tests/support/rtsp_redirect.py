"""An RTSP server that answers every request with a redirect, as some camera front-ends and
stream gateways do: ``302 Moved Temporarily`` with ``Location`` (the camera's real URL)."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator


class RtspRedirect:
    """Listens on a random free port of 127.0.0.1; ``answered`` counts the requests redirected."""

    def __init__(self, location: str, status: int = 302) -> None:
        self.location = location
        self.status = status
        self.answered = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rtsp-redirect", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self._server.getsockname()[1]}/moved"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        client.settimeout(10)
        with client, client.makefile("rb") as reader:
            try:
                while not self._stop.is_set():
                    cseq = None
                    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        if name.strip().lower() == "cseq":
                            cseq = value.strip()
                    if cseq is None:
                        return  # the client hung up (or sent no request)
                    client.sendall(f"RTSP/1.0 {self.status} Moved\r\nCSeq: {cseq}\r\n"
                                   f"Location: {self.location}\r\n\r\n".encode())
                    self.answered += 1
            except OSError:
                return


@contextmanager
def rtsp_redirect(location: str, status: int = 302) -> Iterator[RtspRedirect]:
    server = RtspRedirect(location, status)
    try:
        yield server
    finally:
        server.close()
