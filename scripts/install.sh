#!/usr/bin/env bash
# Install everything vms and its tests need on a fresh Debian machine (idempotent).
# Debian packages: GStreamer's RTSP server for the camera simulator (run by Debian's own
# python3, which has `gi`), ffmpeg for the benchmarks' reference recorder, Chromium for
# the browser tests, Redis for the scale-out tests, opencv-doc for its sample pedestrian clip. Python packages go into the current python3.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gir1.2-gst-rtsp-server-1.0 python3-gi python3-gi-cairo python3-cairo gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-plugins-bad gstreamer1.0-libav
  ffmpeg chromium fonts-dejavu-core redis-server
  opencv-doc  # its sample vtest.avi: person counting in bench/people.py and tests/test_detect_people.py
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[test,postgres]'
