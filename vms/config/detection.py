"""Typed configuration of event detection (zones, masks, directions, thresholds) and of events.

Coordinates are fractions of the picture (0..1, x right, y down), so a zone drawn on the
sub-stream also fits the main stream. Areas are fractions of the picture's area.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from vms.config.cameras import ID_PATTERN

Point = tuple[float, float]

EVENT_TYPES = (
    "motion",
    "stopped_vehicle",
    "wrong_way",
    "pedestrian",
    "congestion",
    "tamper_covered",
    "tamper_defocus",
    "tamper_moved",
    "camera_offline",
    "camera_online",
    "object",
    "slowdown",
    "smoke",
    "debris",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:  # c lies on segment ab
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def check_polygon(points: list[Point]) -> list[Point]:
    """A simple polygon inside the picture.

    Raises PydanticCustomError (code + parameters, so the UI can say it in the user's language)
    saying what is wrong with it.
    """
    if len(points) < 3:
        raise PydanticCustomError("polygon_too_few_points", "a polygon needs at least 3 points, got {count}",
                                  {"count": len(points)})
    for i, (x, y) in enumerate(points):
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise PydanticCustomError(
                "polygon_point_outside",
                "point {index} ({x}, {y}) is outside the picture: coordinates are fractions of "
                "the width and height, from 0 to 1",
                {"index": i, "x": f"{x:g}", "y": f"{y:g}"},
            )
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a corner
            if _segments_cross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                raise PydanticCustomError(
                    "polygon_self_intersecting",
                    "polygon is self-intersecting: edge {a}-{a_next} crosses edge {b}-{b_next}; "
                    "list the points in order around the area",
                    {"a": i, "a_next": i + 1, "b": j, "b_next": (j + 1) % n},
                )
    area = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n)) / 2
    if abs(area) < 1e-6:
        raise PydanticCustomError("polygon_no_area", "polygon has no area (its points are on one line or repeated)")
    return points


Polygon = Annotated[list[Point], AfterValidator(check_polygon)]


class MaskConfig(_Strict):
    """An area ignored by every detector (clock overlay, trees moving in the wind)."""

    name: str = ""
    polygon: Polygon


class ZoneConfig(_Strict):
    """An area of the picture with the rules that apply to it."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    polygon: Polygon
    motion: bool = True
    # Expected direction of travel, e.g. [1, 0] = left to right; traffic against it is wrong-way.
    direction: Point | None = None
    # Only vehicles belong here: a smaller moving or standing object raises "pedestrian".
    vehicle_only: bool = False
    # A vehicle standing still longer than this raises "stopped_vehicle"; None turns the rule off.
    stopped_seconds: float | None = Field(default=None, gt=0, le=3600)
    # Fraction of the zone covered by vehicles above which, for congestion_seconds, it is congested.
    congestion_occupancy: float | None = Field(default=None, gt=0, lt=1)
    congestion_seconds: float = Field(default=10, gt=0, le=3600)
    # A small new object (debris) standing on the road this long raises "debris"; None: off.
    debris_seconds: float | None = Field(default=None, gt=0, le=3600)
    # Vehicles in the zone slower than this (km/h, median over ``slowdown_seconds``) raise
    # "slowdown"; needs a calibrated camera. None: off.
    slowdown_kmh: float | None = Field(default=None, gt=0, le=200)
    slowdown_seconds: float = Field(default=6, gt=0, le=600)

    @field_validator("direction")
    @classmethod
    def _unit(cls, value: Point | None) -> Point | None:
        if value is None:
            return None
        length = (value[0] ** 2 + value[1] ** 2) ** 0.5
        if length < 1e-6:
            raise PydanticCustomError("direction_zero",
                                      "direction must be a non-zero vector such as [1, 0] (left to right)")
        return (value[0] / length, value[1] / length)


# A calibration is refused when 1 px of click error (on the editor's 640 px wide snapshot) could
# make its metres nonsense. Measured with four points clicked 1 px rms off (decision 120): lane
# stretches whose nearest point-to-line distance is 0.048-0.065 of the picture measure their sides
# within 14-16 % (95th percentile), at 0.033 within 52 %, at 0.02 within 65 %, at 0.01 within 780 %.
PICTURE_MIN_OFF_LINE = 0.04
# Road positions are typed, not clicked: only a typo makes one nearly fall on the line through two
# others. A triangle of three of them must hold this share of the marked area (a rectangle's
# hold 1/2 each; a trapezoid's min(a, b) / (a + b) of its parallel sides a, b).
GROUND_MIN_TRIANGLE_SHARE = 0.05


def _quad_turns(points: list[Point]) -> list[float]:
    """Twice the signed area of the triangle at each corner i (corners i - 1, i, i + 1)."""
    return [_cross(points[i - 1], points[i], points[(i + 1) % 4]) for i in range(4)]


class CalibrationConfig(_Strict):
    """Ground-plane calibration: four points marked on a snapshot and where they lie on the road.

    ``picture`` holds the four points as fractions of the picture; ``ground`` the same points
    in metres on the road plane (any origin, e.g. X across the road, Y along it), measured or
    read off lane markings (a lane is 3.5 m wide; a dashed line's dash and gap are standard
    lengths). The homography between them makes sizes, distances and speeds metric.

    Refused (PydanticCustomError, code + parameters; point numbers are list indexes from 0):
    a picture point outside the picture (``calibration_point_outside``); three points on one
    line (``calibration_collinear``); points not going round a convex area in order, in the
    picture or on the road (``calibration_crossed``: the outline crosses itself;
    ``calibration_concave``: a point inside the triangle of the other three); a picture point
    nearer than ``PICTURE_MIN_OFF_LINE`` (fraction of the picture) to the line through two others
    (``calibration_picture_near_line``: nearly on a line, or bunched); three road positions
    holding less than ``GROUND_MIN_TRIANGLE_SHARE`` of the marked area
    (``calibration_ground_near_line``); the road a mirror image of the picture
    (``calibration_mirrored``: the points go round the other way on the road, X and Y as on a
    map seen from above, than on the picture).
    """

    picture: list[Point] = Field(min_length=4, max_length=4)
    ground: list[tuple[float, float]] = Field(min_length=4, max_length=4)

    @model_validator(mode="after")
    def _usable(self) -> "CalibrationConfig":
        for i, (x, y) in enumerate(self.picture):
            if not (0 <= x <= 1 and 0 <= y <= 1):
                raise PydanticCustomError("calibration_point_outside",
                                          "picture point {index} ({x}, {y}) is outside the picture (fractions 0..1)",
                                          {"index": i, "x": f"{x:g}", "y": f"{y:g}"})
        planes: tuple[tuple[str, list[Point]], ...] = (("picture", self.picture), ("ground", self.ground))
        for name, points in planes:
            _check_collinear(name, points)
        for name, points in planes:
            _check_convex(name, points)
        _check_picture_spread(self.picture)
        _check_ground_spread(self.ground)
        # The picture's y runs down, a map's Y up: a camera seeing the road from above shows its
        # corners going round the same way as on the map only once the picture's y is turned up.
        if (_quad_turns(self.picture)[0] > 0) == (_quad_turns(self.ground)[0] > 0):
            raise PydanticCustomError(
                "calibration_mirrored",
                "the points go round the road the other way than round the picture (a mirror image): with X "
                "to the right and Y away from the camera, as on a map, type the metres again or number the "
                "points the other way round")
        return self


def _check_collinear(plane: str, points: list[Point]) -> None:
    scale = (1 + max(abs(v) for p in points for v in p)) ** 2
    for a in range(4):
        for b in range(a + 1, 4):
            for c in range(b + 1, 4):
                if abs(_cross(points[a], points[b], points[c])) < 1e-9 * scale:
                    raise PydanticCustomError(
                        "calibration_collinear",
                        "{plane} points {a}, {b} and {c} lie on one line: mark four corners of an area",
                        {"plane": plane, "a": a, "b": b, "c": c})


def _check_convex(plane: str, points: list[Point]) -> None:
    """The outline 0-1-2-3 turns the same way at every corner: a convex area, gone round in order.

    A bow-tie turns two ways at two corners each; a concave outline one way at a single corner,
    the point inside the triangle of the other three. Both map part of the area beyond the horizon.
    """
    turns = [turn > 0 for turn in _quad_turns(points)]
    if turns.count(True) == 2:
        # Edges 0-1 and 2-3 cross, or 1-2 and 3-0.
        a = 0 if _segments_cross(points[0], points[1], points[2], points[3]) else 1
        raise PydanticCustomError(
            "calibration_crossed",
            "{plane} outline crosses itself (edge {a}-{a_next} crosses edge {b}-{b_next}): "
            "number the points in order around the area",
            {"plane": plane, "a": a, "a_next": a + 1, "b": a + 2, "b_next": (a + 3) % 4})
    if turns.count(True) in (1, 3):
        odd = turns.index(turns.count(True) == 1)
        raise PydanticCustomError(
            "calibration_concave",
            "{plane} point {index} lies inside the triangle of the other three: mark four corners of an area",
            {"plane": plane, "index": odd})


def _check_picture_spread(points: list[Point]) -> None:
    """Every point at least PICTURE_MIN_OFF_LINE from the line through any two others (the nearest said)."""
    nearest = min(
        (abs(_cross(points[a], points[b], points[c])) / ((points[b][0] - points[a][0]) ** 2 + (points[b][1] - points[a][1]) ** 2) ** 0.5,
         c, a, b)
        for a in range(4) for b in range(a + 1, 4) for c in range(4) if c not in (a, b))
    off, c, a, b = nearest
    if off < PICTURE_MIN_OFF_LINE:
        raise PydanticCustomError(
            "calibration_picture_near_line",
            "picture point {index} is {distance} % of the picture from the line through points "
            "{a} and {b} (at least {minimum} %): mark points farther apart, not nearly in a line",
            {"index": c, "a": a, "b": b, "distance": round(100 * off, 1), "minimum": round(100 * PICTURE_MIN_OFF_LINE, 1)})


def _check_ground_spread(points: list[Point]) -> None:
    """Every triangle of three road positions at least GROUND_MIN_TRIANGLE_SHARE of the marked area."""
    turns = _quad_turns(points)
    area = abs(turns[0] + turns[2]) / 2  # triangles 3-0-1 and 1-2-3 make the quadrilateral
    share, corner = min((abs(turn) / 2 / area, i) for i, turn in enumerate(turns))
    if share < GROUND_MIN_TRIANGLE_SHARE:
        a, b, c = sorted(((corner - 1) % 4, corner, (corner + 1) % 4))
        raise PydanticCustomError(
            "calibration_ground_near_line",
            "road positions of points {a}, {b} and {c} hold {share} % of the marked area (at least "
            "{minimum} %): one is nearly on the line through the other two; check the metres typed",
            {"a": a, "b": b, "c": c, "share": round(100 * share, 1), "minimum": round(100 * GROUND_MIN_TRIANGLE_SHARE, 1)})


class MotionConfig(_Strict):
    enabled: bool = True
    # Smallest moving area that counts, as a fraction of the picture.
    min_area: float = Field(default=0.002, gt=0, lt=1)
    start_frames: int = Field(default=2, ge=1, le=100)
    end_seconds: float = Field(default=3, ge=0, le=600)
    # MOG2 variance threshold: lower is more sensitive.
    sensitivity: float = Field(default=16, ge=4, le=100)


class TrafficConfig(_Strict):
    enabled: bool = True
    # Blob areas (fraction of the picture) telling vehicles from pedestrians and objects.
    vehicle_min_area: float = Field(default=0.005, gt=0, lt=1)
    object_min_area: float = Field(default=0.0004, gt=0, lt=1)
    # Grey levels between the picture and the reference background that count as "something there".
    difference_threshold: int = Field(default=28, ge=5, le=128)
    # A vehicle slower than this (fraction of the picture width per second) is standing still.
    stopped_speed: float = Field(default=0.02, gt=0, le=1)
    # Distance a vehicle must travel against the zone's direction (fraction of the width).
    wrong_way_distance: float = Field(default=0.08, gt=0, le=1)
    pedestrian_seconds: float = Field(default=1.0, ge=0, le=60)
    # Seconds of quiet before a traffic event ends (absorbs tracking hiccups).
    end_seconds: float = Field(default=2.0, ge=0, le=600)
    # Something standing unchanged this long becomes background (e.g. a parked car, new sign).
    absorb_seconds: float = Field(default=600, ge=10)
    # Brightness gains per cell of road, fitted on the zones (streams/detect/road_gain.py): for
    # tunnels lit in sections, sun and shade at gateways. Off by default: on the AID bench it
    # removes the tunnel's false stopped vehicles after a step on half the picture and finds
    # as many stopped vehicles as one gain, but loses a wrong-way driver and a slowdown and
    # raises one false alarm more in all (docs/decisions.md 140-143, 160-164).
    road_gains: bool = False
    # With a calibrated camera, what counts as a vehicle and as a person, in metres and km/h.
    vehicle_width_m: tuple[float, float] = (1.3, 3.8)
    vehicle_min_height_m: float = Field(default=0.9, gt=0)
    # A vehicle must have been followed over this distance before it can be stopped or wrong-way.
    vehicle_travel_m: float = Field(default=8.0, ge=0)
    wrong_way_m: float = Field(default=8.0, gt=0)
    person_height_m: tuple[float, float] = (1.0, 2.4)
    person_max_width_m: float = Field(default=1.2, gt=0)
    person_max_kmh: float = Field(default=12.0, gt=0)
    debris_width_m: tuple[float, float] = (0.25, 2.0)
    debris_max_height_m: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _sizes(self) -> "TrafficConfig":
        if self.object_min_area >= self.vehicle_min_area:
            raise PydanticCustomError(
                "object_area_not_below_vehicle",
                "object_min_area ({object_min_area}) must be smaller than vehicle_min_area ({vehicle_min_area})",
                {"object_min_area": f"{self.object_min_area:g}", "vehicle_min_area": f"{self.vehicle_min_area:g}"},
            )
        return self


class TamperConfig(_Strict):
    enabled: bool = True
    # Covered or black: mean grey below this and contrast (standard deviation) below covered_contrast.
    covered_brightness: float = Field(default=40, ge=0, le=255)
    covered_contrast: float = Field(default=10, ge=0, le=128)
    covered_seconds: float = Field(default=1.0, ge=0, le=600)
    # Defocus: sharpness below this fraction of the camera's learned baseline.
    defocus_ratio: float = Field(default=0.4, gt=0, lt=1)
    defocus_seconds: float = Field(default=1.0, ge=0, le=600)
    # Moved: the view shifted by more than moved_shift (fraction of the picture), or, when nothing
    # in it can be recognised, its similarity to the reference view is below moved_similarity.
    moved_similarity: float = Field(default=0.4, gt=0, lt=1)
    moved_shift: float = Field(default=0.04, gt=0, lt=1)
    moved_seconds: float = Field(default=1.0, ge=0, le=600)
    learn_seconds: float = Field(default=5, ge=1, le=3600)
    # After the camera has stayed moved this long the new view becomes the reference.
    relearn_after_seconds: float = Field(default=300, ge=10)


class ObjectModelConfig(_Strict):
    """An object detector: an ONNX model run through OpenCV's DNN module, or OpenCV's built-in
    HOG people detector (``detector: hog_people``, no model file, label "person").

    ONNX output layouts (boxes are then filtered by ``min_score`` and non-maximum suppression
    per label at ``nms_iou``):

    - ``boxes``: (1, N, 4 + classes) of [x1, y1, x2, y2] in 0..1, then class scores;
    - ``yolov8``: (1, 4 + classes, N) of [cx, cy, w, h] in input pixels, then class scores
      (YOLOv8 and YOLO11 exports; e.g. [1, 84, 8400] for the 80 COCO classes at 640);
    - ``yolov5``: (1, N, 5 + classes) of [cx, cy, w, h] in input pixels, objectness, class scores;
    - ``yolox``: (1, N, 5 + classes) as yolov5; raw exports (N = the anchor points of strides
      8, 16, 32) are decoded on the grid. YOLOX expects 0..255 BGR input: ``pixel_scale: 1``,
      ``rgb: false``;
    - ``ssd``: (1, 1, N, 7) of [image, class, score, x1, y1, x2, y2] in 0..1 (TensorFlow / Caffe
      SSD exports); class indexes ``labels`` directly (include "background" at 0 if the model does).
    """

    detector: Literal["onnx", "hog_people"] = "onnx"
    model: Path | None = None
    layout: Literal["boxes", "yolov8", "yolov5", "yolox", "ssd"] = "boxes"
    input_size: int = Field(default=320, ge=16, le=2048)
    pixel_scale: float = Field(default=1 / 255, gt=0, le=1)
    rgb: bool = True
    labels: list[str] = Field(default_factory=list)
    # Labels that raise "object" events; empty means all.
    detect: list[str] = Field(default_factory=list)
    min_score: float = Field(default=0.5, gt=0, le=10)
    nms_iou: float = Field(default=0.45, gt=0, le=1)
    every_seconds: float = Field(default=1.0, ge=0, le=60)
    # HOG people detector: picture width it runs at (people must be at least 128 px tall there).
    hog_width: int = Field(default=640, ge=128, le=1920)

    @model_validator(mode="after")
    def _known_labels(self) -> "ObjectModelConfig":
        if self.detector == "hog_people":
            self.labels = self.labels or ["person"]
            if self.labels != ["person"]:
                raise PydanticCustomError("hog_labels", "the HOG people detector has one label: person")
        else:
            if self.model is None:
                raise PydanticCustomError("onnx_model_missing", "an ONNX detector needs `model`, the path of its .onnx file")
            if not self.labels:
                raise PydanticCustomError("onnx_labels_missing", "labels must name the model's classes in order")
        unknown = sorted(set(self.detect) - set(self.labels))
        if unknown:
            raise PydanticCustomError("detect_unknown_labels", "detect names labels the model does not have: {unknown}",
                                      {"unknown": ", ".join(unknown), "labels": ", ".join(self.labels)})
        return self


class SmokeConfig(_Strict):
    """Smoke: the picture loses its edges (contrast) over a region, more than its brightness
    change explains, and stays so."""

    enabled: bool = False
    # A cell is smoky when its edges fall below this share of what its brightness predicts.
    edge_ratio: float = Field(default=0.45, gt=0, lt=1)
    min_cells: int = Field(default=4, ge=1, le=500)
    seconds: float = Field(default=8, gt=0, le=600)
    learn_seconds: float = Field(default=10, ge=1, le=600)


class CameraDetection(_Strict):
    """Detection settings of one camera."""

    enabled: bool = True
    # "auto" uses the sub-stream when the camera has one.
    stream: Literal["auto", "main", "sub"] = "auto"
    # "keyframes" decodes only keyframes: far cheaper, good for tamper, motion and congestion.
    decode: Literal["full", "keyframes"] = "full"
    fps: float = Field(default=5, gt=0, le=30)
    analysis_width: int = Field(default=320, ge=64, le=1920)
    zones: list[ZoneConfig] = Field(default_factory=list)
    masks: list[MaskConfig] = Field(default_factory=list)
    motion: MotionConfig = MotionConfig()
    traffic: TrafficConfig = TrafficConfig()
    tamper: TamperConfig = TamperConfig()
    smoke: SmokeConfig = SmokeConfig()
    objects: ObjectModelConfig | None = None
    calibration: CalibrationConfig | None = None

    @model_validator(mode="after")
    def _zone_ids(self) -> "CameraDetection":
        seen: set[str] = set()
        for zone in self.zones:
            if zone.id in seen:
                raise PydanticCustomError("zone_id_twice", "zone id '{zone}' is defined twice", {"zone": zone.id})
            seen.add(zone.id)
        return self


class DetectionConfig(_Strict):
    enabled: bool = True
    # Used for cameras not listed in ``cameras``; None means those cameras run no detection.
    default: CameraDetection | None = None
    cameras: dict[Annotated[str, Field(pattern=ID_PATTERN)], CameraDetection] = Field(default_factory=dict)
    # A stream down longer than this raises "camera_offline".
    offline_after_seconds: float = Field(default=30, gt=0, le=86400)
    # The only folder object models set through the API may come from (relative to data_dir
    # unless absolute); the API names a model by its path inside this folder.
    models_dir: Path = Path("models")

    def for_camera(self, camera_id: str) -> CameraDetection | None:
        if not self.enabled:
            return None
        config = self.cameras.get(camera_id, self.default)
        return config if config is not None and config.enabled else None


class WebhookConfig(_Strict):
    """An HTTP endpoint that receives every event as a signed JSON POST."""

    url: str
    # Key of the X-VMS-Signature HMAC-SHA256 header; share it with the receiver only.
    secret: SecretStr = SecretStr("")
    types: list[str] = Field(default_factory=list)  # empty: all types
    cameras: list[str] = Field(default_factory=list)  # empty: all cameras
    groups: list[str] = Field(default_factory=list)  # empty: all groups
    timeout_seconds: float = Field(default=5, gt=0, le=120)
    max_attempts: int = Field(default=6, ge=1, le=100)
    backoff_initial_seconds: float = Field(default=1, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=300, gt=0, le=86400)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError("webhook_url", "webhook URL must be http:// or https:// with a host, got '{scheme}:'",
                                      {"scheme": parts.scheme or "-"})
        return url

    @field_validator("types")
    @classmethod
    def _types(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - set(EVENT_TYPES))
        if unknown:
            raise PydanticCustomError("unknown_event_types", "unknown event types {unknown} (known: {known})",
                                      {"unknown": ", ".join(unknown), "known": ", ".join(EVENT_TYPES)})
        return types


class EventsConfig(_Strict):
    # Events (rows and snapshots) older than this are deleted.
    retention_days: float = Field(default=90, gt=0)
    # Recording segments covering an event's clip are kept at least this long; None: no event lock.
    keep_recordings_days: float | None = Field(default=None, gt=0)
    pre_event_seconds: float = Field(default=10, ge=0, le=600)
    post_event_seconds: float = Field(default=10, ge=0, le=600)
    snapshot_width: int = Field(default=640, ge=64, le=3840)
    snapshot_quality: int = Field(default=85, ge=10, le=100)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
