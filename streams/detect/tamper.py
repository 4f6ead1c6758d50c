"""Camera tampering: lens covered or blacked out, defocused, or camera moved.

The camera's normal view is learned over ``learn_seconds``: a small blurred reference picture
and the median sharpness. Then, per frame:

- covered: dark and flat (mean and standard deviation of grey below thresholds);
- moved: ORB features of the reference view are described again at the same places in the
  picture; while enough of them still look the same (``STAYED_ENOUGH``) the camera has not
  moved, however much traffic hides. Otherwise features are matched and the displacement
  estimated with RANSAC (partial affine, vehicles are outliers): moved when shifted by more
  than ``moved_shift`` of the picture or rotated by more than ``MOVED_DEGREES``. With nothing
  recognisable, a different view when hardly any feature stayed or the low frequencies differ
  (similarity below ``moved_similarity``). A reference view with too few features to judge by
  (a plain scene, or one whose only corners lie in the border ORB leaves out) is judged by the
  low frequencies alone: no feature "staying" there says nothing. Phase correlation alone was tried and rejected:
  tunnel walls are periodic (lights, tiles, lane dashes) and it locks onto the wrong period;
- defocus: sharpness (the squared Laplacian of the brightness-normalised picture, over the
  pixels not clipped now) below ``defocus_ratio`` of the learned per-pixel baseline at the same
  pixels, while the view still matches.

Covered wins over the others, and a blurred picture is reported as defocus, never as moved
(its few features match by chance). While any of them is suspected the picture is flagged
unreliable and the pipeline skips motion and traffic analysis. The reference follows slow changes while
nothing is suspected; a view that stays moved for ``relearn_after_seconds`` becomes the new
reference (the event then ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.latch import Latch
from vms.config.detection import CameraDetection

SMALL = (64, 36)
REFERENCE_RATE = 0.02
BASELINE_RATE = 0.01
END_SECONDS = 1.0
MOVED_DEGREES = 3.0
# Grey levels at which a pixel is clipped (no detail left to be sharp).
CLIPPED = (3, 252)
# Feature matching costs a few milliseconds: the view is checked at most this often.
VIEW_CHECK_SECONDS = 0.4
MIN_INLIERS = 10
# With this share of the reference's features still in place the camera has not moved.
STAYED_ENOUGH = 0.4
# With less than this share in place and no displacement found, the view is another one.
STAYED_GONE = 0.1
# Low-frequency similarity above which the view is the same one, whatever its features say.
SAME_VIEW = 0.85
# A reference feature whose descriptor differs by at most this many bits (of 256) is still there.
STAY_HAMMING = 64
# While nothing is suspected the reference view's features are refreshed this often.
REFRESH_SECONDS = 60.0


def detail(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the squared Laplacian of the picture scaled to mean 1 (float32, H x W, so
    independent of the lighting level), and where it can be judged (bool: not clipped).

    Clipped pixels (and their neighbours) cannot be judged: a lighting step that saturates
    part of the picture flattens it there, which is exposure, not focus."""
    picture = grey.astype(np.float32)
    mean = float(picture.mean())
    if mean < 1:
        return np.zeros_like(picture), np.zeros(picture.shape, bool)
    laplacian = cv2.Laplacian(picture / mean, cv2.CV_32F)
    clipped = cv2.dilate(((picture >= CLIPPED[1]) | (picture <= CLIPPED[0])).astype(np.uint8), np.ones((3, 3), np.uint8))
    return laplacian * laplacian, clipped == 0


def sharpness(energy: np.ndarray, usable: np.ndarray, baseline: np.ndarray) -> float:
    """Sharpness against the learned view, over the pixels that can be judged now: the mean
    ``energy`` there over the ``baseline`` energy (per pixel, learned) at the same pixels; 1.0
    when unchanged, 0.0 when too little can be judged.

    Like for like: a x1.6 lighting step saturates the tunnel's bright tiles, whose grout lines
    carry most of the picture's detail; a sharpness summed over whatever is not clipped now,
    against a baseline summed over everything, fell to 0.35 of it and read as defocus."""
    if usable.sum() < 0.2 * usable.size:
        return 0.0
    expected = float(baseline[usable].mean())
    return float(energy[usable].mean()) / expected if expected > 0 else 1.0


def _small(grey: np.ndarray) -> np.ndarray:
    small = cv2.resize(grey, SMALL, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.GaussianBlur(small, (0, 0), 1.0)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Zero-mean normalised cross-correlation, -1..1."""
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


class ViewMatcher:
    """Estimates how the camera's view moved against a reference picture, from ORB features."""

    def __init__(self) -> None:
        self.orb = cv2.ORB.create(nfeatures=600, fastThreshold=8)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.keypoints: Sequence[cv2.KeyPoint] = ()
        self.descriptors: np.ndarray | None = None

    def set_reference(self, grey: np.ndarray) -> None:
        self.size = (grey.shape[1], grey.shape[0])
        self.keypoints, self.descriptors = self.orb.detectAndCompute(grey, None)

    def displacement(self, grey: np.ndarray, still: np.ndarray | None = None) -> "ViewCheck":
        """How the view moved against the reference. ``still`` masks where features may be
        taken (not on moving vehicles)."""
        check = ViewCheck()
        reference = self.descriptors
        if reference is None or len(self.keypoints) < MIN_INLIERS:
            # Too few features to say anything (a plain scene, or its only corners lie in the
            # border ORB leaves out): "none stayed" would be read as "moved".
            check.stayed = None
            return check
        check.stayed = stayed = self._stayed(grey, reference)
        if stayed >= STAYED_ENOUGH:
            return check  # no need to look further (and cheaper)
        keypoints, descriptors = self.orb.detectAndCompute(grey, still)
        if descriptors is None or len(keypoints) < MIN_INLIERS:
            return check
        good = []
        for pair in self.matcher.knnMatch(reference, descriptors, k=2):
            # The ratio test drops features that look like many others (lane dashes, lights).
            if len(pair) == 2 and pair[0].distance < 0.8 * pair[1].distance:
                good.append(pair[0])
        if len(good) < MIN_INLIERS:
            return check
        source = np.array([self.keypoints[m.queryIdx].pt for m in good], dtype=np.float32)
        target = np.array([keypoints[m.trainIdx].pt for m in good], dtype=np.float32)
        matrix, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        if matrix is None or int(inliers.sum()) < MIN_INLIERS:
            return check
        width, height = self.size
        centre = np.array([width / 2, height / 2])
        dx, dy = matrix[:, :2] @ centre + matrix[:, 2] - centre
        check.shift = max(abs(dx) / width, abs(dy) / height)
        check.angle = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        check.inliers = int(inliers.sum())
        return check

    def _stayed(self, grey: np.ndarray, reference_descriptors: np.ndarray) -> float:
        """Share of the reference's features that look the same at the same place now.

        Descriptors are computed at the reference's keypoints rather than detected afresh, so
        strong corners of passing vehicles cannot crowd the wall's out of the count."""
        keypoints, descriptors = self.orb.compute(grey, list(self.keypoints))
        if descriptors is None or not keypoints:
            return 0.0
        # compute() may drop keypoints near the border; match the survivors by position.
        index = {k.pt: i for i, k in enumerate(self.keypoints)}
        reference = reference_descriptors[[index[k.pt] for k in keypoints]]
        bits = np.unpackbits(np.bitwise_xor(reference, descriptors), axis=1).sum(axis=1)
        return float((bits <= STAY_HAMMING).sum() / len(self.keypoints))


@dataclass
class ViewCheck:
    # Share of reference features still in place; None when the reference view has too few
    # features to judge by (then only the low frequencies can tell).
    stayed: float | None = 0.0
    shift: float | None = None  # displacement found by matching features, fraction of the picture
    angle: float | None = None
    inliers: int = 0


class TamperDetector(Detector):
    name = "tamper"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config.tamper
        c = self.config
        self.covered = Latch(on_seconds=c.covered_seconds, off_seconds=END_SECONDS)
        self.moved = Latch(on_seconds=c.moved_seconds, off_seconds=END_SECONDS)
        self.defocus = Latch(on_seconds=c.defocus_seconds, off_seconds=END_SECONDS)
        self.view = ViewMatcher()
        self.reference: np.ndarray | None = None  # small, blurred: the low frequencies of the view
        self.average: np.ndarray | None = None  # analysis size: the view with traffic averaged out
        self.baseline: np.ndarray | None = None  # analysis size: each pixel's learned detail (``detail``)
        self.known: np.ndarray | None = None  # where the baseline has been learned (bool)
        self._learning: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._learn_started: float | None = None
        self._checked_at: float | None = None
        self._refreshed_at = 0.0
        self._moved_now = False
        self._previous: np.ndarray | None = None
        self.last: dict[str, float] = {}
        self.last_view: ViewCheck | None = None

    @property
    def picture_unreliable(self) -> bool:
        """Covered, moved or blurred right now, even before the event is confirmed: analyses
        of this picture would see fragments and ghosts, so the pipeline skips them."""
        return bool(self.last.get("suspect"))

    def on_gap(self) -> None:
        # The reference survives a reconnect: a camera turned while it was unplugged is still moved.
        for latch in (self.covered, self.moved, self.defocus):
            latch.reset()
        self._checked_at = None

    def process(self, frame: Frame) -> list[EventSignal]:
        if not self.config.enabled:
            return []
        c, t, grey = self.config, frame.wall_time, frame.array
        mean, std = (float(v[0][0]) for v in cv2.meanStdDev(grey))
        covered = mean < c.covered_brightness and std < c.covered_contrast
        small = _small(grey)
        energy, usable = detail(grey)
        reference, baseline = self.reference, self.baseline  # both set once learning ends
        if reference is None or baseline is None or baseline.shape != energy.shape:
            if not covered:
                self._learn(grey, small, energy, usable, t)
            return []
        match = similarity(small, reference)
        sharp = sharpness(energy, usable & self.known if self.known is not None else usable, baseline)
        blurred = sharp < c.defocus_ratio
        if covered or blurred:
            # Features of a blurred picture match by chance; a blurred view is reported as defocus.
            self._moved_now = False
        elif self._checked_at is None or t - self._checked_at >= VIEW_CHECK_SECONDS or self.moved.since is not None:
            # Checked every frame while a move is suspected, so it is confirmed without delay.
            self._checked_at = t
            self._moved_now = self._view_moved(grey, match)
        moved = not covered and self._moved_now
        defocused = not covered and not moved and blurred
        self.covered.update(t, covered)
        self.moved.update(t, moved)
        self.defocus.update(t, defocused)
        if self.moved.active and t - (self.moved.onset or t) > c.relearn_after_seconds:
            self._set_reference(grey, small, t)  # the new view is here to stay: watch it from now on
            self.moved.reset()
        suspect = covered or moved or defocused
        self._previous = grey
        self.last = {"brightness": mean, "contrast": std, "similarity": match, "sharpness": sharp, "suspect": suspect}
        if not (suspect or self.covered.active or self.moved.active or self.defocus.active):
            self._follow(grey, small, energy, usable, t)
        return self._signals(mean, std, match, sharp)

    def _follow(self, grey: np.ndarray, small: np.ndarray, energy: np.ndarray, usable: np.ndarray, t: float) -> None:
        """Let the reference drift with slow, harmless changes of the view (light, dirt, season)."""
        if self.reference is None or self.average is None or self.baseline is None:
            raise RuntimeError("tamper reference followed before it was learned")
        self.reference += REFERENCE_RATE * (small - self.reference)
        self.average += REFERENCE_RATE * (grey.astype(np.float32) - self.average)
        # Only where the picture can be judged: a clipped area keeps the detail it had; a pixel
        # judged for the first time starts from what it shows.
        if self.known is not None:
            fresh = usable & ~self.known
            self.baseline[fresh] = energy[fresh]
            self.known |= usable
        cv2.accumulateWeighted(energy, self.baseline, BASELINE_RATE, mask=usable.astype(np.uint8))
        if t - self._refreshed_at >= REFRESH_SECONDS:
            self.view.set_reference(self.average.astype(np.uint8))
            self._refreshed_at = t

    def _view_moved(self, grey: np.ndarray, match: float) -> bool:
        still = None
        if self._previous is not None and self._previous.shape == grey.shape:
            # Features on moving vehicles only add outliers; take them from what stands still.
            previous = cv2.convertScaleAbs(self._previous, alpha=(grey.mean() + 1) / (self._previous.mean() + 1))
            moving = cv2.dilate((cv2.absdiff(grey, previous) > 20).astype(np.uint8), np.ones((7, 7), np.uint8))
            still = (1 - moving) * 255
        check = self.view.displacement(grey, still)
        self.last_view = check
        if check.stayed is None:
            return match < self.config.moved_similarity  # nothing to recognise: the low frequencies alone
        if check.stayed >= STAYED_ENOUGH:
            return False  # enough of the reference view is where it was
        if self.moved.active:
            return True  # once moved, only the reference view clearly back ends it
        if check.shift is not None and check.angle is not None:  # found together
            return check.shift > self.config.moved_shift or abs(check.angle) > MOVED_DEGREES
        # Nothing recognisable: a different view if it looks unlike the reference, or if hardly
        # any feature stayed and the low frequencies do not say it is the same view (sensor
        # noise and heavy compression change the descriptors of every feature in place).
        return match < self.config.moved_similarity or (check.stayed < STAYED_GONE and match < SAME_VIEW)

    def _signals(self, mean: float, std: float, match: float, sharp: float) -> list[EventSignal]:
        signals = []
        if self.covered.active:
            signals.append(EventSignal("tamper_covered", since=self.covered.onset,
                                       details={"brightness": round(mean, 1), "contrast": round(std, 1)}))
        if self.moved.active:
            view = self.last_view
            details = {"similarity": round(match, 3),
                       "features_in_place": round(view.stayed, 3) if view and view.stayed is not None else None}
            if view is not None and view.shift is not None and view.angle is not None:
                details.update(shift=round(view.shift, 3), angle=round(view.angle, 1))
            signals.append(EventSignal("tamper_moved", since=self.moved.onset, details=details))
        if self.defocus.active:
            ratio = sharp
            signals.append(EventSignal("tamper_defocus", since=self.defocus.onset, score=round(max(0.0, 1 - ratio), 3),
                                       details={"sharpness_ratio": round(ratio, 3)}))
        return signals

    def _learn(self, grey: np.ndarray, small: np.ndarray, energy: np.ndarray, usable: np.ndarray, t: float) -> None:
        if self._learn_started is None:
            self._learn_started = t
        if self._learning and self._learning[0][0].shape != grey.shape:
            self._learning.clear()
        self._learning.append((grey.astype(np.float32), small, energy, usable))
        if t - self._learn_started >= self.config.learn_seconds and len(self._learning) >= 3:
            # The median leaves out vehicles that passed while learning.
            average = np.median([g for g, _, _, _ in self._learning], axis=0).astype(np.float32)
            # The mean, not the median: a squared Laplacian of noise is skewed, and what it is
            # compared with, the mean over pixels of one picture, is a mean too. Only where the
            # pixel could be judged: a clipped clock or timecode has edges, not focus.
            seen = np.sum([u for _, _, _, u in self._learning], axis=0)
            total = np.sum([e * u for _, _, e, u in self._learning], axis=0)
            self.known = seen > 0
            self.baseline = np.where(self.known, total / np.maximum(seen, 1), 0.0).astype(np.float32)
            self._set_reference(average, np.mean([s for _, s, _, _ in self._learning], axis=0).astype(np.float32), t)
            self._learning.clear()

    def _set_reference(self, grey: np.ndarray, small: np.ndarray, t: float) -> None:
        self.reference = small.astype(np.float32)
        self.average = grey.astype(np.float32)
        self.view.set_reference(grey.astype(np.uint8))
        self._refreshed_at = t
