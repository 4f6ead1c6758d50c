"""Simulated camera streams shared by many benchmark cameras (2 cores cannot encode 120 live)."""

from __future__ import annotations

import argparse

from streams.simulator import SimulatedCamera


def add_stream_arguments(parser: argparse.ArgumentParser, width: int = 1280, height: int = 720, bitrate: int = 2000) -> None:
    parser.add_argument("--mounts", type=int, default=2, help="distinct encoded streams the cameras share")
    parser.add_argument("--width", type=int, default=width)
    parser.add_argument("--height", type=int, default=height)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--bitrate", type=int, default=bitrate, help="kbit/s of each simulated stream")


def shared_mounts(args: argparse.Namespace) -> list[SimulatedCamera]:
    """One simulated camera per mount, keyframe every second; benchmark cameras pull them in turn."""
    return [
        SimulatedCamera(
            id=f"mount-{m}",
            scene="road" if m % 2 else "tunnel",
            width=args.width,
            height=args.height,
            fps=args.fps,
            gop=args.fps,
            bitrate_kbps=args.bitrate,
            shared=True,
        )
        for m in range(args.mounts)
    ]


def sub_stream_mounts(args: argparse.Namespace) -> list[SimulatedCamera]:
    """The sub-streams of the shared mounts: 640x360 at ~500 kb/s, as cameras ship them for detection."""
    return [
        SimulatedCamera(
            id=f"mount-{m}-sub",
            scene="road" if m % 2 else "tunnel",
            width=640,
            height=360,
            fps=args.fps,
            gop=args.fps,
            bitrate_kbps=500,
            shared=True,
        )
        for m in range(args.mounts)
    ]
