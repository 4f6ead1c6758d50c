"""Benchmark: CPU per stream of three ways to pull RTSP over TCP into access units.

    python -m bench.rtsp_client --cameras 32 --seconds 20

(a) ``pyav``: PyAV's ``container.demux()`` in a thread per stream, joining packets into access
    units as streams/ingest.py does (FFmpeg's RTSP demuxer, what ingest runs today);
(b) ``own``: streams/rtsp, one asyncio loop for every stream, reads paced by ``--read-interval``
    (0 reads as data comes), RTP depacketized into the same access units;
(c) ``ffmpeg``: one ``ffmpeg -rtsp_transport tcp -i URL -c copy -f null -`` per stream;
(b') ``own-threads`` (only when named in ``--variants``): our client as ingest runs it, a thread
    per stream that sets up and waits, packets handled on one shared loop (streams/rtsp/pull.py).

(a) and (b) run in a child process each (``--child``), and report the access units they got, so
a variant that falls behind shows as fewer frames per second. CPU is user+system of the process
tree over ``--seconds`` after a warm-up, from /proc. The simulated cameras share encoded mounts
(bench/mounts.py); every stream is its own RTSP session. The machine is shared: the load average
is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import av

from bench.mounts import add_stream_arguments, shared_mounts
from bench.procstat import usage
from streams.rtsp.session import RtspSession
from streams.simulator import CameraSimulator

VARIANTS = ("pyav", "own", "ffmpeg", "own-threads")


class Counter:
    """Access units and bytes received, over all streams of a child."""

    def __init__(self) -> None:
        self.units = 0
        self.bytes = 0
        self.keyframes = 0

    def line(self) -> str:
        return f"{self.units} {self.bytes} {self.keyframes}"


def _pyav_stream(url: str, counter: Counter, lock: threading.Lock) -> None:
    with av.open(url, format="rtsp", options={"rtsp_transport": "tcp", "allowed_media_types": "video"},
                 timeout=(20, None)) as container:
        video = container.streams.video[0]
        pending: bytes | None = None
        pending_pts: int | None = None
        keyframe = False
        for packet in container.demux(video):
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                continue
            if pending is not None and pts == pending_pts:
                pending += bytes(packet)  # the join streams/ingest.py does for equal timestamps
                continue
            if pending is not None:
                with lock:
                    counter.units += 1
                    counter.bytes += len(pending)
                    counter.keyframes += keyframe
            pending, pending_pts, keyframe = bytes(packet), pts, packet.is_keyframe


def child_pyav(urls: list[str]) -> None:
    counter, lock = Counter(), threading.Lock()
    for url in urls:
        threading.Thread(target=_pyav_stream, args=(url, counter, lock), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    while signal.sigwait({signal.SIGUSR1, signal.SIGTERM}) == signal.SIGUSR1:
        with lock:
            print(counter.line(), flush=True)


def child_own(urls: list[str], read_interval: float) -> None:
    counter = Counter()

    async def run() -> None:
        def sink(data: bytes, pts: int, keyframe: bool, arrival: float) -> None:
            counter.units += 1
            counter.bytes += len(data)
            counter.keyframes += keyframe

        sessions = [RtspSession(url, timeout=20, read_interval=read_interval) for url in urls]
        await asyncio.gather(*(session.play(sink) for session in sessions))
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, lambda: print(counter.line(), flush=True))
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for session in sessions:
            await session.close()

    asyncio.run(run())


def child_own_threads(urls: list[str], read_interval: float) -> None:
    """(b'): our client as ingest runs it: a thread per stream that sets up and waits, the
    packets handled on the one shared loop (streams/rtsp/pull.py)."""
    from streams.rtsp.pull import RtspPull

    counter, lock = Counter(), threading.Lock()
    stop = threading.Event()

    def sink(data: bytes, pts: int, keyframe: bool, arrival: float) -> None:
        with lock:
            counter.units += 1
            counter.bytes += len(data)
            counter.keyframes += keyframe

    def pull(url: str) -> None:
        puller = RtspPull(url, timeout=20, read_interval=read_interval)
        puller.open(sink)
        try:
            puller.wait(stop, 20)
        finally:
            puller.close()

    for url in urls:
        threading.Thread(target=pull, args=(url,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    while signal.sigwait({signal.SIGUSR1, signal.SIGTERM}) == signal.SIGUSR1:
        with lock:
            print(counter.line(), flush=True)
    stop.set()


@dataclass
class Result:
    variant: str
    streams: int
    cpu_percent_per_stream: float
    units_per_second_per_stream: float | None


def _read_counts(process: subprocess.Popen[str]) -> tuple[int, int]:
    process.send_signal(signal.SIGUSR1)
    assert process.stdout is not None
    fields = process.stdout.readline().split()
    if not fields:
        sys.exit("a benchmark child ended early (see its error above)")
    return int(fields[0]), int(fields[1])


def run_variant(variant: str, urls: list[str], seconds: float, warmup: float, read_interval: float) -> Result:
    if variant == "ffmpeg":
        processes = [
            subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                              "-c", "copy", "-f", "null", "-"], stdout=subprocess.DEVNULL)
            for url in urls
        ]
        try:
            time.sleep(warmup)
            before = usage([p.pid for p in processes]).cpu_seconds
            time.sleep(seconds)
            cpu = usage([p.pid for p in processes]).cpu_seconds - before
        finally:
            for p in processes:
                p.terminate()
            for p in processes:
                p.wait(30)
        return Result(variant, len(urls), 100 * cpu / seconds / len(urls), None)
    command = [sys.executable, "-m", "bench.rtsp_client", "--child", variant, "--read-interval", str(read_interval), *urls]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(warmup)
        units_before, _ = _read_counts(child)
        before = usage([child.pid]).cpu_seconds
        started = time.monotonic()
        time.sleep(seconds)
        cpu = usage([child.pid]).cpu_seconds - before
        units_after, _ = _read_counts(child)
        elapsed = time.monotonic() - started
    finally:
        child.terminate()
        child.wait(30)
    return Result(variant, len(urls), 100 * cpu / seconds / len(urls), (units_after - units_before) / elapsed / len(urls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="32", help="comma-separated stream counts")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=8, help="seconds for every stream to connect before measuring")
    parser.add_argument("--variants", default=",".join(VARIANTS[:3]))
    parser.add_argument("--read-interval", type=float, default=0.05, help="(b): seconds between paced reads, 0 for none")
    parser.add_argument("--child", choices=("pyav", "own", "own-threads"), help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    add_stream_arguments(parser)
    args = parser.parse_args()
    if args.child == "pyav":
        return child_pyav(args.urls)
    if args.child == "own":
        return child_own(args.urls, args.read_interval)
    if args.child == "own-threads":
        return child_own_threads(args.urls, args.read_interval)

    results: list[Result] = []
    with CameraSimulator(shared_mounts(args)).start() as sim:
        mounts = shared_mounts(args)
        for count in [int(c) for c in args.cameras.split(",")]:
            urls = [sim.url(mounts[i % len(mounts)].id) for i in range(count)]
            for variant in args.variants.split(","):
                load = os.getloadavg()[0]
                result = run_variant(variant, urls, args.seconds, args.warmup, args.read_interval)
                results.append(result)
                rate = f", {result.units_per_second_per_stream:5.1f} frames/s per stream" if result.units_per_second_per_stream else ""
                print(f"  {variant:7s} {count:4d} streams: {result.cpu_percent_per_stream:6.3f} % CPU/stream{rate}"
                      f" (load average {load:.2f} before)", flush=True)
    print(f"\n{args.width}x{args.height}@{args.fps}, ~{args.bitrate} kb/s, {args.seconds:g} s measured, "
          f"(b) read interval {args.read_interval:g} s, load average now {os.getloadavg()[0]:.2f}\n")
    print("| streams | variant | CPU % of a core per stream | frames/s per stream |")
    print("|---:|---|---:|---:|")
    for r in results:
        print(f"| {r.streams} | {r.variant} | {r.cpu_percent_per_stream:.3f} | "
              f"{'' if r.units_per_second_per_stream is None else f'{r.units_per_second_per_stream:.1f}'} |")
    by_key = {(r.streams, r.variant): r for r in results}
    print("\nratios (CPU per stream):")
    for count in sorted({r.streams for r in results}):
        pyav_result, own, ffmpeg, _ = (by_key.get((count, v)) for v in VARIANTS)
        if own and pyav_result:
            print(f"  {count:4d} streams: own / pyav x{own.cpu_percent_per_stream / max(pyav_result.cpu_percent_per_stream, 1e-9):.2f}")
        if own and ffmpeg:
            print(f"  {count:4d} streams: own / ffmpeg x{own.cpu_percent_per_stream / max(ffmpeg.cpu_percent_per_stream, 1e-9):.2f}")


if __name__ == "__main__":
    main()
