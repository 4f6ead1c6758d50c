"""The built-in client's RTSP connection matches answers to requests by CSeq (RFC 2326 12.17).

A camera that never answers one keep-alive must not shift every later answer onto the request
before it; answers that come out of order still reach their own request.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from streams.rtsp.connection import RtspConnection


def answer(cseq: int, note: str) -> bytes:
    return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nX-Note: {note}\r\n\r\n".encode()


async def camera(script):
    """A TCP server on a free port that reads requests and lets ``script(cseqs, writer)`` answer."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cseqs: list[int] = []
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            cseqs.append(int(re.search(rb"CSeq: (\d+)", head).group(1)))
            script(cseqs, writer)
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_an_unanswered_keep_alive_does_not_take_the_next_answer():
    async def run() -> list[str]:
        # The first request (a keep-alive) is never answered; the later ones are, each its own.
        server, port = await camera(lambda cseqs, w: w.write(answer(cseqs[-1], f"#{cseqs[-1]}")) if cseqs[-1] > 1 else None)
        async with server:
            connection = await RtspConnection.open("127.0.0.1", port, 5.0)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(connection.send("GET_PARAMETER", "rtsp://x/", {}), 0.3)
            notes = []
            for method in ("GET_PARAMETER", "TEARDOWN"):
                response = await asyncio.wait_for(connection.send(method, "rtsp://x/", {}), 5.0)
                notes.append(response.header("x-note"))
            connection.close()
            return notes

    assert asyncio.run(run()) == ["#2", "#3"]


def test_answers_out_of_order_reach_their_own_requests():
    async def run() -> tuple[str, str]:
        def script(cseqs: list[int], writer: asyncio.StreamWriter) -> None:
            if len(cseqs) == 2:  # both asked: answer the second first
                writer.write(answer(2, "second") + answer(1, "first"))

        server, port = await camera(script)
        async with server:
            connection = await RtspConnection.open("127.0.0.1", port, 5.0)
            first = connection.send("OPTIONS", "rtsp://x/", {})
            second = connection.send("GET_PARAMETER", "rtsp://x/", {})
            got = await asyncio.wait_for(asyncio.gather(first, second), 5.0)
            connection.close()
            return got[0].header("x-note"), got[1].header("x-note")

    assert asyncio.run(run()) == ("first", "second")
