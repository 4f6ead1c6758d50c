// Metric calibration on a camera's snapshot, a mode of the zone editor: the technician clicks
// four points on the road (numbered, draggable), types where each lies on the road in metres
// or fills them from a lane preset, and checks the result before trusting it: the road's grid
// drawn over the snapshot through the homography, and a measure tool (two clicks -> metres on
// the road). Saved with the camera's detection settings as
// `calibration: {picture: [[u, v] x 4], ground: [[x, y] x 4]}` (picture in fractions 0..1,
// ground in metres); the server validates it (points outside, on or near one line, not going
// round a convex area, a mirror image) and the refusal is said in words.

import { fieldError, problemText } from "./api.js";
import { el, fill } from "./dom.js";
import { homography, invert, project, groundDistance } from "./homography.js";
import { lang, t, translate } from "./i18n.js";

const STEPS = [0.5, 1, 2, 5, 10, 20, 50];
const MAX_LINES = 120; // more grid lines than this are a blur: the step grows instead
const SAMPLES = 48; // points per grid line, so a line is cut where it leaves the picture or the road
const round4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

/** Metres with two decimals in the UI's language (3,50 in Vietnamese, 3.50 in English). */
function metres(value) {
  return new Intl.NumberFormat(lang() === "vi" ? "vi-VN" : "en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

/** A problem found before asking the server (points missing, a metre left empty). */
export class CalibrationIncomplete extends Error {}

export const calibration = {
  active: false,
  picture: [], // [u, v] fractions, in the order clicked
  ground: [["", ""], ["", ""], ["", ""], ["", ""]], // what was typed, metres as text
  measuring: null, // {points: [[u, v]...]} while the measure tool is on

  /** Build once: `stage` is the snapshot's box (handles go over it), `svg` the drawing (viewBox 0..1). */
  build(stage, svg) {
    if (this.panel) return;
    this.svg = svg;
    this.layer = el("svg:g", { class: "calib-layer", id: "calib-layer" });
    this.marks = el("div", { class: "calib-marks", id: "calib-marks", hidden: true });
    stage.append(this.marks);
    this.status = el("p", { class: "hint", id: "calib-status", attrs: { "aria-live": "polite" } });
    this.rows = el("div", { class: "calib-rows", id: "calib-rows" });
    this.laneWidth = el("input", { type: "number", id: "calib-lane-width", min: 0.5, max: 50, step: "any", value: "3.5" });
    this.laneLength = el("input", { type: "number", id: "calib-lane-length", min: 0.5, max: 500, step: "any", value: "12" });
    this.step = el("select", { id: "calib-step", on: { change: () => this.render() } },
      el("option", { value: "auto", i18n: "calibration.step_auto" }),
      ...STEPS.map((s) => el("option", { value: String(s), text: `${s} m` })));
    this.result = el("output", { id: "calib-measure-result", class: "calib-result" });
    this.cursor = el("output", { id: "calib-cursor", class: "calib-cursor muted" });
    svg.addEventListener("pointermove", (event) => this.hover(event));
    svg.addEventListener("pointerleave", () => { this.cursor.textContent = ""; });
    const button = (id, key, fn, cls = "") => el("button", { type: "button", id, class: cls, i18n: key, on: { click: fn } });
    this.measureButton = button("calib-measure", "calibration.measure", () => this.toggleMeasure());
    this.panel = el("div", { class: "calib-panel", id: "calib-panel", hidden: true },
      el("div", { class: "toolbar" },
        button("calib-restart", "calibration.restart", () => { this.picture = []; this.measuring = null; this.render(); }),
        button("calib-undo", "zones.undo_point", () => { this.picture.pop(); this.render(); }),
        this.measureButton,
        this.result,
        el("label", { class: "inline" }, el("span", { i18n: "calibration.grid_step" }), this.step),
        button("calib-clear", "calibration.clear", () => this.clear(), "danger"),
        this.cursor),
      this.status,
      this.rows,
      el("div", { class: "toolbar calib-lane" },
        el("span", { class: "toolbar-label", i18n: "calibration.lane_preset" }),
        el("label", { class: "inline" }, el("span", { i18n: "calibration.lane_width" }), this.laneWidth),
        el("label", { class: "inline" }, el("span", { i18n: "calibration.lane_length" }), this.laneLength),
        button("calib-lane-fill", "calibration.lane_fill", () => this.fillLane())));
    window.addEventListener("vms:langchange", () => { if (this.active) this.render(); });
  },

  /** Take the camera's saved calibration (or none) as the starting point; leaves the mode. */
  load(config) {
    this.picture = (config?.picture || []).map(([u, v]) => [u, v]);
    this.ground = [0, 1, 2, 3].map((i) => (config?.ground?.[i] || ["", ""]).map((v) => (v === "" ? "" : String(v))));
    this.measuring = null;
    this.setActive(false);
  },

  setActive(active) {
    this.active = active;
    this.panel.hidden = !active;
    this.marks.hidden = !active;
    if (!active) this.measuring = null;
    this.render();
  },

  clear() {
    this.picture = [];
    this.ground = [["", ""], ["", ""], ["", ""], ["", ""]];
    this.measuring = null;
    this.render();
    translate(this.status, "calibration.cleared");
  },

  fillLane() {
    const w = Number(this.laneWidth.value);
    const l = Number(this.laneLength.value);
    if (!(w > 0) || !(l > 0)) {
      translate(this.status, "calibration.lane_needs_sizes");
      return;
    }
    // Point 1 and 2 across the lane at one dash, 3 and 4 across at the other, going round.
    this.ground = [[0, 0], [w, 0], [w, l], [0, l]].map(([x, y]) => [String(x), String(y)]);
    this.render();
  },

  toggleMeasure() {
    this.measuring = this.measuring ? null : { points: [] };
    this.render();
  },

  /** A click on the snapshot at [u, v] (fractions): the next calibration point, or a measure end. */
  clicked(point) {
    if (this.measuring) {
      if (this.measuring.points.length === 2) this.measuring.points = [];
      this.measuring.points.push(point);
    } else if (this.picture.length < 4) {
      this.picture.push(point.map(round4));
    }
    this.render();
  },

  /** Where the pointer is on the road, so a technician can read off any point of the grid. */
  hover(event) {
    const toGround = this.active ? this.matrix() : null;
    if (!toGround) return;
    const box = this.svg.getBoundingClientRect();
    const point = [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
    const { x, y, w } = project(toGround, point);
    if (w * Math.sign(project(toGround, this.picture[0]).w) <= 0) {
      translate(this.cursor, "calibration.beyond_horizon");
      return;
    }
    translate(this.cursor, "calibration.cursor", { x: metres(x), y: metres(y) });
  },

  /** Numbers typed for the ground, or null while one is missing or not a number. */
  groundNumbers() {
    const numbers = this.ground.map(([x, y]) => [x, y].map((v) => (String(v).trim() === "" ? NaN : Number(v))));
    return numbers.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) ? numbers : null;
  },

  /** The homography picture -> ground of what is on the screen now, or null. */
  matrix() {
    const ground = this.groundNumbers();
    return this.picture.length === 4 && ground ? homography(this.picture, ground) : null;
  },

  /**
   * What to save: {picture, ground}, null when nothing is marked (no calibration), or
   * CalibrationIncomplete (its message in words) when half done.
   */
  value() {
    const typed = this.ground.some(([x, y]) => String(x).trim() !== "" || String(y).trim() !== "");
    if (!this.picture.length && !typed) return null;
    if (this.picture.length < 4) throw new CalibrationIncomplete(t("calibration.need_four", { n: this.picture.length }));
    const ground = this.groundNumbers();
    if (!ground) throw new CalibrationIncomplete(t("calibration.need_ground"));
    return { picture: this.picture.map((p) => [...p]), ground };
  },

  /** The server's refusal of a calibration in our words (points numbered from 1 as on the screen), else null. */
  problemText(error) {
    const mine = (error?.problem?.errors || []).filter((e) => String(e.code || "").startsWith("calibration_"));
    if (!mine.length) return null;
    // The other refusals in the same answer (a zone's polygon...) as every screen words them.
    const others = error.problem.errors.filter((e) => !mine.includes(e));
    return [...mine.map(fieldError), ...(others.length ? [problemText(error.status, { ...error.problem, errors: others })] : [])].join("; ");
  },

  render() {
    if (!this.panel) return;
    this.measureButton.classList.toggle("active", Boolean(this.measuring));
    this.measureButton.setAttribute("aria-pressed", String(Boolean(this.measuring)));
    this.renderRows();
    if (!this.active) {
      fill(this.layer);
      this.marks.replaceChildren();
      return;
    }
    const toGround = this.matrix();
    const shapes = [];
    if (toGround) shapes.push(...this.grid(toGround));
    if (this.picture.length > 1) {
      shapes.push(el("svg:polygon", { class: this.picture.length === 4 ? "calib-quad" : "calib-quad open",
                                      attrs: { points: this.picture.map((p) => p.join(",")).join(" "), "vector-effect": "non-scaling-stroke" } }));
    }
    shapes.push(...this.measureShapes(toGround));
    fill(this.layer, ...shapes);
    this.marks.replaceChildren(...this.picture.map((p, i) => this.handle(p, i)));
    this.marks.classList.toggle("measuring", Boolean(this.measuring)); // clicks then go through the handles
    this.renderStatus(toGround);
  },

  renderStatus(toGround) {
    if (this.measuring) {
      translate(this.status, toGround ? "calibration.hint_measure" : "calibration.hint_measure_none");
    } else if (this.picture.length < 4) {
      translate(this.status, "calibration.hint_point", { n: this.picture.length + 1 });
    } else if (!this.groundNumbers()) {
      translate(this.status, "calibration.hint_ground");
    } else if (!toGround) {
      translate(this.status, "calibration.hint_no_homography");
    } else {
      translate(this.status, "calibration.hint_check", { step: this.layer.dataset.step });
    }
  },

  renderRows() {
    // Typing in a field redraws the grid but not the fields: rebuilding them would drop the focus.
    const signature = JSON.stringify([this.picture, this.ground, lang()]);
    if (this.rows.dataset.signature === signature) return;
    this.rows.dataset.signature = signature;
    const metre = (i, axis) => el("input", {
      type: "number", step: "any", class: axis ? "calib-y" : "calib-x", value: this.ground[i][axis],
      title: axis ? "calibration.ground_y" : "calibration.ground_x",
      on: { input: (e) => { this.ground[i][axis] = e.target.value; this.rows.dataset.signature = JSON.stringify([this.picture, this.ground, lang()]); this.render(); } },
    });
    fill(this.rows, ...[0, 1, 2, 3].map((i) => {
      const p = this.picture[i];
      return el("div", { class: "calib-row", dataset: { index: String(i) } },
        el("strong", { i18n: "calibration.point", vars: { n: i + 1 } }),
        el("span", { class: "calib-picture muted", text: p ? `(${(p[0] * 100).toFixed(1)} %, ${(p[1] * 100).toFixed(1)} %)` : "–" }),
        el("label", { class: "inline" }, el("span", { text: "X" }), metre(i, 0), el("span", { text: "m" })),
        el("label", { class: "inline" }, el("span", { text: "Y" }), metre(i, 1), el("span", { text: "m" })));
    }));
  },

  /** A numbered handle over the snapshot; dragging it moves the point. */
  handle([u, v], index) {
    const node = el("div", { class: "calib-handle", text: String(index + 1), dataset: { index: String(index) } });
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    node.style.left = `${u * 100}%`;
    node.style.top = `${v * 100}%`;
    node.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      event.stopPropagation();
      node.setPointerCapture(event.pointerId);
      const move = (e) => {
        const box = this.svg.getBoundingClientRect();
        this.picture[index] = [round4((e.clientX - box.left) / box.width), round4((e.clientY - box.top) / box.height)];
        node.style.left = `${this.picture[index][0] * 100}%`;
        node.style.top = `${this.picture[index][1] * 100}%`;
        this.renderLive();
      };
      const up = () => {
        node.removeEventListener("pointermove", move);
        node.removeEventListener("pointerup", up);
        node.removeEventListener("pointercancel", up);
        this.render();
      };
      node.addEventListener("pointermove", move);
      node.addEventListener("pointerup", up);
      node.addEventListener("pointercancel", up);
    });
    node.addEventListener("click", (event) => event.stopPropagation()); // a handle is not a new point
    // The arrow keys nudge it a pixel or so (Shift: ten), for the last bit of precision.
    node.tabIndex = 0;
    node.setAttribute("aria-label", t("calibration.handle", { n: index + 1 }));
    node.title = node.getAttribute("aria-label");
    node.addEventListener("keydown", (event) => {
      const step = event.shiftKey ? 0.01 : 0.001;
      const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
      if (!move) return;
      event.preventDefault();
      this.picture[index] = [round4(this.picture[index][0] + move[0]), round4(this.picture[index][1] + move[1])];
      this.render();
      this.marks.children[index]?.focus();
    });
    return node;
  },

  // While dragging: the grid, outline and figures follow, the handle being dragged is kept.
  renderLive() {
    const handles = this.marks;
    this.marks = document.createElement("div"); // render() rebuilds the handles into this throwaway
    try {
      this.render();
    } finally {
      this.marks = handles;
    }
  },

  /** The road's grid lines (every `step` metres across and along) as picture polylines. */
  grid(toGround) {
    const toPicture = invert(toGround);
    if (!toPicture) return [];
    const ground = this.groundNumbers();
    const xs = ground.map((p) => p[0]);
    const ys = ground.map((p) => p[1]);
    const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
    // The calibrated stretch and as much again around it: far enough to see the lines run
    // true, near enough that the grid stays where the calibration can be trusted.
    const [x0, x1, y0, y1] = [Math.min(...xs) - span, Math.max(...xs) + span, Math.min(...ys) - span, Math.max(...ys) + span];
    const chosen = this.step.value === "auto" ? STEPS.find((s) => span / s <= 20) ?? STEPS.at(-1) : Number(this.step.value);
    let step = chosen;
    while (((x1 - x0) + (y1 - y0)) / step > MAX_LINES) step = STEPS.find((s) => s > step) ?? step * 10;
    this.layer.dataset.step = String(step);
    // Which side of the horizon the road is: the sign of w at a calibration point.
    const side = Math.sign(project(toPicture, ground[0]).w);
    const lines = [];
    for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) lines.push([[x, y0], [x, y1], x === 0]);
    for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) lines.push([[x0, y], [x1, y], y === 0]);
    const shapes = [];
    for (const [[ax, ay], [bx, by], axis] of lines) {
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          shapes.push(el("svg:polyline", { class: axis ? "calib-grid calib-axis" : "calib-grid",
                                           attrs: { points: run.join(" "), "vector-effect": "non-scaling-stroke" } }));
        }
        run = [];
      };
      for (let i = 0; i <= SAMPLES; i += 1) {
        const f = i / SAMPLES;
        const q = project(toPicture, [ax + (bx - ax) * f, ay + (by - ay) * f]);
        const seen = q.w * side > 0 && q.x >= -0.05 && q.x <= 1.05 && q.y >= -0.05 && q.y <= 1.05;
        if (seen) run.push(`${q.x.toFixed(4)},${q.y.toFixed(4)}`);
        else flush();
      }
      flush();
    }
    return shapes;
  },

  measureShapes(toGround) {
    const points = this.measuring?.points || [];
    const shapes = points.map(([u, v]) => el("svg:circle", { class: "calib-measure-end", attrs: { cx: u, cy: v, r: 0.006 } }));
    if (points.length === 2) {
      const [[u1, v1], [u2, v2]] = points;
      shapes.unshift(el("svg:line", { class: "calib-measure", attrs: { x1: u1, y1: v1, x2: u2, y2: v2, "vector-effect": "non-scaling-stroke" } }));
    }
    // A point above the horizon has no place on the road (its w has the other sign than the marked points').
    const side = toGround ? Math.sign(project(toGround, this.picture[0]).w) : 0;
    const onRoad = points.every((p) => project(toGround || [[0, 0, 0], [0, 0, 0], [0, 0, 0]], p).w * side > 0);
    if (points.length === 2 && toGround && !onRoad) {
      delete this.result.dataset.metres;
      translate(this.result, "calibration.beyond_horizon");
    } else if (points.length === 2 && toGround) {
      const distance = groundDistance(toGround, points[0], points[1]);
      this.result.dataset.metres = String(distance);
      translate(this.result, "calibration.measured", { metres: metres(distance) });
    } else {
      delete this.result.dataset.metres;
      this.result.textContent = "";
    }
    return shapes;
  },
};
