"""RTCP receiver reports and RTSP keep-alives of the built-in client (streams/rtsp/rtcp.py, session.py).

The unit tests read back the bytes RFC 3550 defines; the others put a strict session timeout
(tests/support/strict_session.py) between the GStreamer simulator and the client, and check
that the session outlives several timeouts and what the client sent to keep it.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from streams.rtsp.rtcp import BYE, RR, SDES, SR, Reception, ReceiverReports, report_interval
from streams.rtsp.rtp import AccessUnitAssembler
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import wait_for
from tests.support.rtsp_proxy import _play, read_message
from tests.support.strict_session import strict_session_proxy
from tests.support.system import FAST_INGEST, camera_entry, make_settings, running_worker
from tests.test_recording_rtsp import SMALL, check_segments

needs_simulator = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")


def packets(compound: bytes) -> list[tuple[int, int, bytes]]:
    """(packet type, count field, body after the 4-byte header) of each packet; checks lengths."""
    found, pos = [], 0
    while pos < len(compound):
        flags, kind, words = struct.unpack_from("!BBH", compound, pos)
        assert flags >> 6 == 2, "RTCP version must be 2"
        end = pos + 4 * (words + 1)
        assert end <= len(compound), "length field runs past the packet"
        found.append((kind, flags & 0x1F, compound[pos + 4:end]))
        pos = end
    assert pos == len(compound)
    return found


def report_block(rr_body: bytes) -> dict[str, int]:
    reporter, ssrc, lost, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIIII", rr_body)
    return {"reporter": reporter, "ssrc": ssrc, "fraction": lost >> 24, "cumulative": lost & 0xFFFFFF,
            "highest": highest, "jitter": jitter, "lsr": lsr, "dlsr": dlsr}


def cname(sdes_body: bytes) -> tuple[int, str]:
    ssrc, item, length = struct.unpack_from("!IBB", sdes_body)
    assert item == 1, "the first SDES item must be CNAME"
    assert sdes_body[6 + length] == 0, "the item list ends with a null octet"
    return ssrc, sdes_body[6:6 + length].decode()


def sender_report(ssrc: int, ntp_seconds: int, ntp_fraction: int) -> bytes:
    """An SR with no report blocks: SSRC, NTP time, RTP time, packet and octet counts."""
    return struct.pack("!BBHIIIIII", 0x80, SR, 6, ssrc, ntp_seconds, ntp_fraction, 0, 0, 0)


def test_receiver_report_fields_follow_rfc_3550():
    reports = ReceiverReports(ssrc=0x11111111, cname="abc")
    media = 0xCAFEBABE
    # 0xFFF0 + 100 received + 16 lost: the sequence wrapped once, extended highest 0x1_0063.
    first = packets(reports.report(Reception(media, 0xFFF0, 100, 16), now=10.0))
    assert [kind for kind, _, _ in first] == [RR, SDES]
    (kind, count, body), (_, chunks, sdes) = first
    block = report_block(body)
    assert count == 1 and chunks == 1
    assert block == {"reporter": 0x11111111, "ssrc": media, "fraction": 16 * 256 // 116, "cumulative": 16,
                     "highest": 0xFFF0 + 116 - 1, "jitter": 0, "lsr": 0, "dlsr": 0}
    assert cname(sdes) == (0x11111111, "abc")

    # A sender report, then 1.5 s later 200 more packets, none lost: LSR is the middle 32
    # bits of its NTP time, DLSR the delay in 1/65536 s, fraction lost of the interval 0.
    reports.sender_report(sender_report(media, 0x12345678, 0x9ABCDEF0), now=20.0)
    (_, _, body), _ = packets(reports.report(Reception(media, 0xFFF0, 300, 16), now=21.5))
    block = report_block(body)
    assert (block["lsr"], block["dlsr"], block["fraction"], block["cumulative"]) == (0x56789ABC, 98304, 0, 16)


def test_report_before_any_rtp_and_goodbye():
    reports = ReceiverReports(ssrc=7, cname="x" * 9)  # a CNAME whose chunk needs padding
    (kind, count, body), (sdes_kind, _, sdes) = packets(reports.report(None, now=0.0))
    assert (kind, count, body, sdes_kind) == (RR, 0, struct.pack("!I", 7), SDES)
    assert cname(sdes) == (7, "x" * 9) and len(sdes) % 4 == 0
    assert [kind for kind, _, _ in packets(reports.goodbye(None, now=0.0))] == [RR, SDES, BYE]


def test_cname_is_random_per_session_and_names_nothing_of_this_machine():
    first, second = ReceiverReports(), ReceiverReports()
    assert first.cname != second.cname and first.ssrc != second.ssrc
    assert socket.gethostname() not in first.cname and len(first.cname) == 16


def test_report_interval_is_rfc_3550_minimum_randomised():
    later = [report_interval(first=False) for _ in range(2000)]
    firsts = [report_interval(first=True) for _ in range(2000)]
    compensation = 2.71828 - 1.5
    assert 2.5 / compensation <= min(later) and max(later) <= 7.5 / compensation
    assert 1.25 / compensation <= min(firsts) and max(firsts) <= 3.75 / compensation
    assert 3.9 < sum(later) / len(later) < 4.3  # 5 s / (e - 3/2): the mean RFC 3550 aims at


def test_assembler_reception_counts_and_padding_only_packets_are_no_loss():
    units: list[int] = []
    assembler = AccessUnitAssembler("h264", 96, lambda data, pts, key, arrival: units.append(pts) if data else None)
    assert assembler.reception() is None

    def rtp(seq: int, ts: int, payload: bytes, pad: bool = False) -> bytes:
        return struct.pack("!BBHII", 0xA0 if pad else 0x80, 0x80 | 96, seq, ts, 0xABCD) + payload

    assembler.push(rtp(65534, 0, b"\x41\x01"))
    assembler.push(rtp(65535, 0, b"\x00\x00\x03", pad=True))  # all padding: a keep-alive packet
    assembler.push(rtp(0, 3600, b"\x41\x02"))  # not taken for a loss after the padding
    assembler.push(rtp(3, 7200, b"\x41\x03"))  # 1 and 2 lost: this unit is damaged
    assembler.read_done(1.0, 0.05)
    assert units == [0, 3600]
    assert assembler.reception() == Reception(0xABCD, 65534, 4, 2)
    assert assembler.lost_packets == 2 and assembler.dropped_units == 1


@needs_simulator
def test_a_silent_client_is_dropped_by_the_strict_session_timeout():
    """The strict proxy does drop a client that keeps quiet: the next test's survival means something."""
    camera = SimulatedCamera(id="strict", **SMALL)
    with CameraSimulator([camera]).start() as sim, strict_session_proxy(sim.url(camera.id), timeout=2) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
            reader = sock.makefile("rb")
            _play(sock, reader, proxy.url(sim.url(camera.id)))
            started = time.monotonic()
            with pytest.raises((EOFError, OSError)):
                while time.monotonic() - started < 20:
                    read_message(reader)
        (client,) = proxy.clients
        assert client.dropped and client.rtcp == []


@needs_simulator
@pytest.mark.parametrize("public, keep_alive", [
    (None, "GET_PARAMETER"),  # GStreamer's Public header lists GET_PARAMETER
    ("OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN", "OPTIONS"),  # a camera that does not
], ids=["get-parameter", "options"])
def test_builtin_client_outlives_a_strict_session_timeout_with_reports_and_keep_alives(tmp_path, public, keep_alive):
    timeout = 4
    camera = SimulatedCamera(id="strict", **SMALL)
    with CameraSimulator([camera]).start() as sim, strict_session_proxy(sim.url(camera.id), timeout, public) as proxy:
        entry = camera_entry(sim, camera.id, segment_seconds=3, main_url=proxy.url(sim.url(camera.id)))
        settings = make_settings(tmp_path, [entry], ingest={**FAST_INGEST, "rtsp_client": "builtin"})
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=30)
            client = proxy.clients[0]

            def outlived() -> bool:
                since = client.playing_since
                return since is not None and time.monotonic() - since > 3 * timeout and len(client.rtcp) >= 3

            wait_for(outlived, 60, "three session timeouts and three receiver reports")
            last = [m for m in statuses.messages if m["camera_id"] == camera.id][-1]
    assert len(proxy.clients) == 1 and not client.dropped, "the session was dropped and the camera reconnected"
    assert (last["state"], last["session"], last["reconnects"]) == ("online", 1, 0)
    # The method the Public header allows, one every timeout / 2 (and no other).
    assert client.requests[:4] == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]
    kept = client.requests[4:]
    assert kept.count(keep_alive) >= 3 and set(kept) <= {keep_alive, "TEARDOWN"}, kept
    # The client leaves with a last report and BYE (RFC 3550 6.6), before TEARDOWN.
    wait_for(lambda: client.rtcp and packets(client.rtcp[-1][1])[-1][0] == BYE, 5, "RTCP BYE at the stop")
    timed = [(at, compound) for at, compound in client.rtcp if packets(compound)[-1][0] != BYE]
    reports = [packets(compound) for _, compound in timed]
    highest = []
    for (kind, count, body), (sdes_kind, _, sdes) in (report[:2] for report in reports):
        block = report_block(body)
        assert (kind, count, sdes_kind) == (RR, 1, SDES)
        assert block["ssrc"] == client.media_ssrc and block["cumulative"] == 0 and block["fraction"] == 0
        assert cname(sdes)[0] == block["reporter"] == report_block(reports[0][0][2])["reporter"]
        highest.append(block["highest"])
    assert highest == sorted(highest) and highest[-1] > highest[0]  # they follow the stream
    gaps = [b - a for (a, _), (b, _) in zip(timed, timed[1:])]
    assert min(gaps) > 1.5, f"receiver reports closer than RFC 3550 allows: {gaps}"
    assert check_segments(worker.index, worker.recordings_dir, camera.id)
