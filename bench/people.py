"""Person counting on OpenCV's sample ``vtest.avi`` against the hand-made counts in
``bench/vtest_people.json``: the HOG people detector (``detector: hog_people``) as configured
for a camera, frame by frame, and the ratio against counting motion blobs (the obvious
alternative: one MOG2 foreground blob per person).

    nice -n 10 python3 bench/people.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRUTH = Path(__file__).with_name("vtest_people.json")


def truth() -> tuple[Path, dict[int, int]]:
    data = json.loads(TRUTH.read_text())
    return Path(data["clip"]), {int(k): v for k, v in data["counts"].items()}


def frames(clip: Path, wanted: set[int] | None = None):
    """(index, BGR picture) of the clip, decoded with PyAV."""
    import av

    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if wanted is None or index in wanted:
                yield index, frame.to_ndarray(format="bgr24")
            if wanted is not None and index >= max(wanted):
                return


def hog_counts(clip: Path, counts: dict[int, int], hog_width: int = 1152, min_score: float = 0.6) -> tuple[dict[int, int], float]:
    from streams.detect.objects import HogPeople
    from vms.config.detection import ObjectModelConfig

    model = HogPeople(ObjectModelConfig(detector="hog_people", hog_width=hog_width, min_score=min_score, nms_iou=0.3))
    found, cpu = {}, 0.0
    for index, picture in frames(clip, set(counts)):
        started = time.process_time()
        found[index] = len(model.detect(picture))
        cpu += time.process_time() - started
    return found, cpu / len(counts)


def blob_counts(clip: Path, counts: dict[int, int]) -> dict[int, int]:
    """Moving blobs of person size after MOG2 (what motion detection would count)."""
    import cv2

    subtractor = cv2.createBackgroundSubtractorMOG2(200, 16, False)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    found = {}
    for index, picture in frames(clip, None):
        mask = subtractor.apply(picture)
        if index in counts:
            mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            found[index] = int(sum(1 for area in stats[1:n, cv2.CC_STAT_AREA] if area >= 300))
        if index >= max(counts):
            break
    return found


def people_table() -> None:
    clip, counts = truth()
    if not clip.is_file():
        print(f"\nPerson counting: {clip} not found (install the Debian package opencv-doc); skipped")
        return
    hog, cpu = hog_counts(clip, counts)
    blobs = blob_counts(clip, counts)
    print(f"\nPerson counting on vtest.avi (hand counts at {len(counts)} frames, bench/vtest_people.json)")
    print(f"{'frame':>6s} {'truth':>6s} {'HOG':>5s} {'motion blobs':>13s}")
    for index in sorted(counts):
        print(f"{index:6d} {counts[index]:6d} {hog[index]:5d} {blobs[index]:13d}")
    for name, found in (("HOG people detector", hog), ("motion blobs (MOG2)", blobs)):
        errors = [abs(found[i] - counts[i]) for i in counts]
        exact = sum(e == 0 for e in errors)
        print(f"{name:22s} exact {exact}/{len(counts)}, within 1: {sum(e <= 1 for e in errors)}/{len(counts)}, "
              f"mean abs error {sum(errors) / len(errors):.2f}")
    print(f"HOG CPU: {cpu:.2f} s per 768x576 frame upscaled to 1152 wide (run it every few seconds, not every frame)")


if __name__ == "__main__":
    people_table()
