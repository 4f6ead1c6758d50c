"""Benchmark event detection: precision, recall and latency per event type, and CPU per camera.

Accuracy: seeded synthetic tunnel clips (tests/support/scenes.py), every kind of incident
plus quiet and ordinary-traffic clips, encoded to H.264 and fed through the real path
(PacketFanout -> DetectionPipeline -> decode -> detectors). A detection matches a true event
of its type when raised between EARLY seconds before and LATE seconds after it was due.

CPU: process CPU time per second of media for one camera, fed faster than real time, median
of several runs: full decode of a 640x360 sub-stream analysed at 5 fps and keyframes-only on
a 720p stream; then RTSP ingest + recording measured on a real worker with the simulator
(bench/record.py's method) or, without it, the recorder's remux alone; then the estimate for
16 + 104 cameras on this machine.

    python3 bench/detect.py                      # 6 clips per kind (54 clips) and the CPU table
    python3 bench/detect.py --clips 12 --no-cpu
    python3 bench/detect.py --no-accuracy --ingest-cameras 16   # CPU table with real RTSP ingest
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.scenes import KINDS, EncodedScene, Scene, encode, run_scene, scenario, traffic, tunnel_detection  # noqa: E402

EARLY, LATE = 1.0, 2.0
MOTION_TYPES = ("motion",)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- accuracy --------------------------------------------------------------------------------


def score_clip(encoded: EncodedScene, events, config) -> dict[str, dict[str, list]]:
    """Per type: true positives (latencies), false positives, false negatives."""
    scene = encoded.scene
    result: dict[str, dict[str, list]] = defaultdict(lambda: {"tp": [], "fp": [], "fn": []})
    truth = scene.truth(config)
    detected = [e for e in events if e.type not in MOTION_TYPES]
    used: set[int] = set()
    for true in truth:
        match = None
        for event in detected:
            if event.id in used or event.type != true.type or event.zone != true.zone:
                continue
            when = encoded.scene_time(event.detected_at)
            if true.due - EARLY <= when <= true.due + LATE:
                match = event
                break
        if match is None:
            result[true.type]["fn"].append(scene.name)
        else:
            used.add(match.id)
            result[true.type]["tp"].append(encoded.scene_time(match.detected_at) - true.due)
    for event in detected:
        if event.id not in used:
            result[event.type]["fp"].append(f"{scene.name}@{encoded.scene_time(event.detected_at):.1f}")
    # Motion: true intervals (merged across short pauses, cut at tampering) against event spans.
    tampered = min((t for t in (scene.covered_at, scene.blur_at, scene.moved_at) if t is not None), default=scene.duration)
    intervals = []
    for start, end in scene.motion_intervals():
        if start >= tampered:
            continue
        end = min(end, tampered)
        if intervals and start - intervals[-1][1] < config.motion.end_seconds + 1:
            intervals[-1] = (intervals[-1][0], end)
        elif end - start >= 1.0:
            intervals.append((start, end))
    motion = [e for e in events if e.type == "motion"]
    spans = [(encoded.scene_time(e.start), encoded.scene_time(e.end or encoded.packets[-1].wall_time), e) for e in motion]
    for start, end in intervals:
        hits = [e for s, f, e in spans if s <= end and f >= start]
        if hits:
            result["motion"]["tp"].append(encoded.scene_time(min(h.detected_at for h in hits)) - start)
        else:
            result["motion"]["fn"].append(scene.name)
    for s, f, _event in spans:
        if not any(s <= end + LATE and f >= start for start, end in intervals):
            result["motion"]["fp"].append(f"{scene.name}@{s:.1f}")
    return result


def accuracy(clips: int, width: int, height: int) -> None:
    config = tunnel_detection()
    totals: dict[str, dict[str, list]] = defaultdict(lambda: {"tp": [], "fp": [], "fn": []})
    started = time.perf_counter()
    count = 0
    for kind in KINDS:
        for seed in range(clips):
            encoded = encode(scenario(kind, seed, width, height))
            log, _ = run_scene(encoded, config)
            for type_, outcome in score_clip(encoded, log.events, config).items():
                for key in ("tp", "fp", "fn"):
                    totals[type_][key] += outcome[key]
            count += 1
    print(f"\nAccuracy on {count} clips ({len(KINDS)} kinds x {clips} seeds, {width}x{height} at 10 fps, "
          f"analysed at {config.fps:g} fps; match window -{EARLY:g} s .. +{LATE:g} s) in {time.perf_counter() - started:.0f} s")
    print(f"{'event type':18s} {'true':>5s} {'TP':>4s} {'FP':>4s} {'FN':>4s} {'precision':>9s} {'recall':>7s} {'latency mean/max s':>19s}")
    for type_ in sorted(totals):
        tp, fp, fn = len(totals[type_]["tp"]), len(totals[type_]["fp"]), len(totals[type_]["fn"])
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        latencies = totals[type_]["tp"]
        latency = f"{statistics.mean(latencies):5.2f} / {max(latencies):4.2f}" if latencies else "-"
        print(f"{type_:18s} {tp + fn:5d} {tp:4d} {fp:4d} {fn:4d} {precision:9.3f} {recall:7.3f} {latency:>19s}")
        for key in ("fp", "fn"):
            if totals[type_][key]:
                print(f"   {key}: {', '.join(map(str, totals[type_][key][:8]))}")


# -- CPU ---------------------------------------------------------------------------------------


def cpu_clip(width: int, height: int, fps: int, gop: int, seconds: float, seed: int = 7) -> EncodedScene:
    import random

    scene = Scene(name=f"cpu-{width}x{height}", duration=seconds, fps=fps, width=width, height=height, seed=seed, gop=gop, noise=2.0)
    scene.vehicles = traffic(random.Random(seed), seconds, every=1.5)
    return encode(scene)


def measure_detection(encoded: EncodedScene, config, runs: int) -> float:
    """Median CPU seconds per media second (fraction of one core) for one camera."""
    media = encoded.packets[-1].wall_time - encoded.packets[0].wall_time
    values = []
    for _ in range(runs):
        before = cpu_seconds()
        run_scene(encoded, config)
        values.append((cpu_seconds() - before) / media)
    return statistics.median(values)


def measure_recording(encoded: EncodedScene, runs: int) -> float:
    from streams.fanout import PacketFanout
    from streams.recorder import Recorder
    from vms.db import Database
    from vms.recordings.index import SegmentIndex
    from tests.support.scenes import feed

    media = encoded.packets[-1].wall_time - encoded.packets[0].wall_time
    values = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            db = Database(f"sqlite:///{folder}/vms.db")
            db.create_schema()
            fanout = PacketFanout("cpu", "main")
            queue = fanout.subscribe("recorder", 100_000)
            recorder = Recorder("cpu", queue, SegmentIndex(db), Path(folder) / "rec", segment_seconds=10)
            before = cpu_seconds()
            recorder.start()
            feed(fanout, encoded)
            while len(queue):
                time.sleep(0.01)
            recorder.stop()
            values.append((cpu_seconds() - before) / media)
            db.dispose()
    return statistics.median(values)


def measure_ingest_and_recording(cameras: int, seconds: float) -> float | None:
    """Share of one core per camera of a real worker pulling RTSP from the simulator and
    recording (bench/record.py's measurement), or None without the simulator."""
    from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available

    if not simulator_available():
        return None
    from bench.record import run_vms

    mounts = [SimulatedCamera(id=f"mount-{m}", scene="road", width=1280, height=720, fps=25, gop=25,
                              bitrate_kbps=2000, shared=True) for m in range(2)]
    with CameraSimulator(mounts).start() as sim, tempfile.TemporaryDirectory(prefix="vms-bench-") as workdir:
        urls = [sim.url(mounts[i % 2].id) for i in range(cameras)]
        return run_vms(urls, seconds, 25, Path(workdir)).cpu_percent_per_camera / 100


def cpu_table(runs: int, ingest_cameras: int) -> None:
    print("\nCPU per camera (process CPU seconds per media second = share of one core; median of "
          f"{runs} runs, fed faster than real time; this box: {os.cpu_count()} cores, shared)")
    sub = cpu_clip(640, 360, fps=15, gop=30, seconds=20)
    full = measure_detection(sub, tunnel_detection(fps=5, decode="full"), runs)
    main = cpu_clip(1280, 720, fps=25, gop=25, seconds=20)
    keyframes = measure_detection(main, tunnel_detection(fps=5, decode="keyframes"), runs)
    rows = [
        ("full decode 640x360 @15 fps, analysed at 5 fps", full, 16),
        ("keyframes only 1280x720 @25 fps, GOP 1 s", keyframes, 104),
    ]
    ingest = measure_ingest_and_recording(ingest_cameras, 30) if ingest_cameras else None
    if ingest is not None:
        rows.append((f"RTSP ingest + recording 720p 2 Mb/s ({ingest_cameras} cams)", ingest, 120))
        # The 16 detailed cameras also pull a sub-stream: a quarter of the pixels and bitrate.
        rows.append(("RTSP ingest of the 640x360 sub-streams (est. 1/4)", ingest / 4, 16))
    else:
        rows.append(("recording only (remux, no RTSP) 1280x720 @25 fps", measure_recording(main, runs), 120))
    print(f"{'mode':50s} {'per camera':>10s} {'cameras':>8s} {'cores':>6s}")
    total = 0.0
    for name, share, cameras in rows:
        total += share * cameras
        print(f"{name:50s} {share * 100:9.2f}% {cameras:8d} {share * cameras:6.2f}")
    cores = os.cpu_count() or 1
    verdict = "fits" if total < 0.75 * cores else ("tight" if total < cores else "does NOT fit")
    extra = "the API comes on top" if ingest is not None else "RTSP ingest (--ingest-cameras) and the API come on top"
    print(f"{'total':50s} {'':>10s} {'':>8s} {total:6.2f}  of {cores} cores: {verdict} ({extra})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=6, help="clips per kind (9 kinds)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--runs", type=int, default=3, help="repeats of each CPU measurement")
    parser.add_argument("--ingest-cameras", type=int, default=0,
                        help="also measure RTSP ingest + recording with this many simulated cameras (needs the simulator)")
    parser.add_argument("--no-cpu", action="store_true")
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.no_accuracy:
        accuracy(args.clips, args.width, args.height)
    if not args.no_cpu:
        cpu_table(args.runs, args.ingest_cameras)


if __name__ == "__main__":
    main()
