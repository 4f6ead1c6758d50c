// Zones and masks drawn on a camera's snapshot: polygons (click the corners, then "finish"),
// a direction arrow per zone for wrong-way detection (click where traffic comes from, then
// where it goes), and masks the detectors ignore. Saved through the camera's detection
// settings (GET/PUT /api/cameras/{id}/detection); the server validates every polygon.
// Coordinates are fractions of the picture (0..1, x right, y down), as the API expects.
// "Calibrate" switches the same snapshot to the metric calibration (calibration.js), saved
// with the zones. The editor is offered to camera.manage only (technicians, admins), as the
// API's PUT requires; operators never see it.

import { api } from "./api.js";
import { calibration, CalibrationIncomplete } from "./calibration.js";
import { el, fill, notify } from "./dom.js";
import { t, translate } from "./i18n.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

export const zoneEditor = {
  opening: new Turns(),

  build() {
    if (this.dialog) return;
    this.img = el("img", { class: "zone-snapshot", id: "zone-snapshot", alt: "" });
    this.svg = el("svg:svg", { class: "zone-canvas", id: "zone-canvas", attrs: { viewBox: "0 0 1 1", preserveAspectRatio: "none" },
                               on: { click: (event) => this.clicked(event) } });
    this.hint = el("p", { class: "hint", id: "zone-hint" });
    this.list = el("div", { class: "zone-list", id: "zone-list" });
    this.shapes = el("svg:g", { class: "zone-layer" });
    this.svg.append(this.shapes);
    this.stage = el("div", { class: "zone-stage" }, this.img, this.svg);
    this.error = el("p", { class: "error-text", id: "zone-error", attrs: { role: "alert" } });
    this.title = el("h2", { id: "zone-title" });
    const button = (id, key, fn, cls = "") => el("button", { type: "button", id, class: cls, i18n: key, on: { click: fn } });
    this.dialog = el("dialog", { id: "zone-editor", class: "zone-editor" },
      this.title,
      el("div", { class: "toolbar" },
        this.zoneTools = el("span", { class: "toolbar zone-tools" },
          button("zone-new", "zones.new_zone", () => this.begin("zone")),
          button("mask-new", "zones.new_mask", () => this.begin("mask")),
          button("zone-finish", "zones.finish", () => this.finish()),
          button("zone-undo", "zones.undo_point", () => this.undo())),
        this.modeButton = button("calib-mode", "calibration.open", () => this.calibrate(!calibration.active))),
      this.stage,
      this.hint,
      this.list,
      this.error,
      el("div", { class: "form-actions" },
        button("zone-cancel", "common.cancel", () => this.dialog.close()),
        button("zone-save", "common.save", () => this.save(), "primary")));
    calibration.build(this.stage, this.svg);
    this.svg.append(calibration.layer);
    this.stage.after(calibration.panel);
    document.body.append(this.dialog);
  },

  /** Switch between drawing zones and calibrating; both stay in what Save sends. */
  calibrate(on) {
    if (this.drawing?.points.length) this.finish();
    this.drawing = null;
    this.arrowFor = null;
    calibration.setActive(on);
    this.zoneTools.hidden = on;
    this.svg.classList.toggle("calibrating", on); // zones stay in view, dimmed
    this.hint.hidden = on;
    this.list.hidden = on;
    translate(this.modeButton, on ? "calibration.back" : "calibration.open");
    this.modeButton.setAttribute("aria-pressed", String(on));
    this.render();
  },

  async open(cameraId) {
    this.build();
    this.cameraId = cameraId;
    this.drawing = null;
    this.arrowFor = null;
    this.error.textContent = "";
    translate(this.title, "zones.title", { camera: store.name(cameraId) });
    // "Zones" clicked on one camera, then on another before the first answered: the first
    // camera's zones, answered last, were drawn under the second's name and saved onto it.
    const current = this.opening.take();
    let detection;
    try {
      detection = await api(`/api/cameras/${encodeURIComponent(cameraId)}/detection`);
    } catch (error) {
      if (current()) notify(error.message, "error");
      return;
    }
    if (!current()) return;
    this.current = detection;
    const config = this.current.config || {};
    this.zones = (config.zones || []).map((z) => ({ ...z }));
    this.masks = (config.masks || []).map((m) => ({ ...m }));
    calibration.load(config.calibration);
    this.calibrate(false);
    this.img.src = `/api/cameras/${encodeURIComponent(cameraId)}/snapshot.jpg?width=640&t=${Date.now()}`;
    this.setHint("zones.hint_idle");
    this.render();
    this.dialog.showModal();
  },

  setHint(key, vars) {
    translate(this.hint, key, vars);
  },

  begin(kind) {
    this.arrowFor = null;
    this.drawing = { kind, points: [] };
    this.setHint("zones.hint_drawing");
    this.render();
  },

  point(event) {
    const box = this.svg.getBoundingClientRect();
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  },

  clicked(event) {
    const p = this.point(event);
    if (calibration.active) {
      calibration.clicked(p);
    } else if (this.arrowFor) {
      const a = this.arrowFor;
      a.points.push(p);
      if (a.points.length === 2) {
        const [[x1, y1], [x2, y2]] = a.points;
        const length = Math.hypot(x2 - x1, y2 - y1);
        if (length > 0.01) a.zone.direction = [Math.round(((x2 - x1) / length) * 1000) / 1000, Math.round(((y2 - y1) / length) * 1000) / 1000];
        this.arrowFor = null;
        this.setHint("zones.hint_idle");
      }
    } else if (this.drawing) {
      this.drawing.points.push(p);
    }
    this.render();
  },

  undo() {
    this.drawing?.points.pop();
    this.render();
  },

  finish() {
    const d = this.drawing;
    if (!d) return;
    if (d.points.length < 3) {
      translate(this.error, "zones.need_three");
      return;
    }
    this.error.textContent = "";
    if (d.kind === "zone") {
      let n = this.zones.length + 1;
      while (this.zones.some((z) => z.id === `zone-${n}`)) n += 1;
      this.zones.push({ id: `zone-${n}`, name: "", polygon: d.points, motion: true, vehicle_only: false, direction: null,
                        stopped_seconds: null });
    } else {
      this.masks.push({ name: "", polygon: d.points });
    }
    this.drawing = null;
    this.setHint("zones.hint_idle");
    this.render();
  },

  render() {
    const shapes = [];
    const poly = (points, cls) => el("svg:polygon", { class: cls, attrs: { points: points.map((p) => p.join(",")).join(" "), "vector-effect": "non-scaling-stroke" } });
    for (const mask of this.masks) shapes.push(poly(mask.polygon, "mask-shape"));
    for (const zone of this.zones) {
      shapes.push(poly(zone.polygon, "zone-shape"));
      if (zone.direction) {
        const cx = zone.polygon.reduce((s, p) => s + p[0], 0) / zone.polygon.length;
        const cy = zone.polygon.reduce((s, p) => s + p[1], 0) / zone.polygon.length;
        const [dx, dy] = zone.direction;
        shapes.push(el("svg:line", { class: "zone-arrow", attrs: { x1: cx - dx * 0.08, y1: cy - dy * 0.08, x2: cx + dx * 0.08,
                                                                    y2: cy + dy * 0.08, "vector-effect": "non-scaling-stroke" } }));
        shapes.push(el("svg:circle", { class: "zone-arrow-head", attrs: { cx: cx + dx * 0.08, cy: cy + dy * 0.08, r: 0.012 } }));
      }
    }
    if (this.drawing) {
      shapes.push(el("svg:polyline", { class: `drawing ${this.drawing.kind}-shape`,
                                       attrs: { points: this.drawing.points.map((p) => p.join(",")).join(" "), "vector-effect": "non-scaling-stroke" } }));
      for (const [x, y] of this.drawing.points) shapes.push(el("svg:circle", { class: "drawing-point", attrs: { cx: x, cy: y, r: 0.008 } }));
    }
    fill(this.shapes, ...shapes);
    fill(this.list,
      ...this.zones.map((zone, index) => this.zoneRow(zone, index)),
      ...this.masks.map((mask, index) => el("div", { class: "zone-row mask-row", dataset: { index: String(index) } },
        el("strong", { i18n: "zones.mask", vars: { n: index + 1 } }),
        el("input", { type: "text", class: "mask-name", value: mask.name, maxLength: 100, placeholder: "zones.name",
                      on: { input: (e) => { mask.name = e.target.value; } } }),
        el("button", { type: "button", class: "danger mask-remove", i18n: "common.delete",
                       on: { click: () => { this.masks.splice(index, 1); this.render(); } } }))));
  },

  zoneRow(zone, index) {
    const number = (value, on) => el("input", { type: "number", min: 1, max: 3600, step: 1, value: value ?? "", on: { input: on } });
    return el("div", { class: "zone-row", dataset: { zone: zone.id } },
      el("input", { type: "text", class: "zone-id", value: zone.id, maxLength: 64, title: "zones.id",
                    on: { input: (e) => { zone.id = e.target.value.trim(); } } }),
      el("input", { type: "text", class: "zone-name", value: zone.name, maxLength: 100, placeholder: "zones.name",
                    on: { input: (e) => { zone.name = e.target.value; } } }),
      el("label", { class: "inline check" },
        el("input", { type: "checkbox", class: "zone-vehicle", checked: zone.vehicle_only,
                      on: { change: (e) => { zone.vehicle_only = e.target.checked; } } }),
        el("span", { i18n: "zones.vehicle_only" })),
      el("label", { class: "inline" }, el("span", { i18n: "zones.stopped_after" }),
        Object.assign(number(zone.stopped_seconds, (e) => { zone.stopped_seconds = e.target.value ? Number(e.target.value) : null; }),
                      { className: "zone-stopped" })),
      el("button", { type: "button", class: "zone-direction", i18n: zone.direction ? "zones.direction_again" : "zones.direction",
                     on: { click: () => { this.drawing = null; this.arrowFor = { zone, points: [] }; this.setHint("zones.hint_arrow"); } } }),
      zone.direction ? el("button", { type: "button", class: "zone-direction-clear", i18n: "zones.direction_clear",
                                      on: { click: () => { zone.direction = null; this.render(); } } }) : null,
      el("button", { type: "button", class: "danger zone-remove", i18n: "common.delete",
                     on: { click: () => { this.zones.splice(index, 1); this.render(); } } }));
  },

  async save() {
    if (this.drawing?.points.length) this.finish();
    const base = this.current?.config || {};
    let config;
    try {
      config = { ...base, zones: this.zones, masks: this.masks, calibration: calibration.value() };
    } catch (error) {
      if (!(error instanceof CalibrationIncomplete)) throw error;
      this.error.textContent = error.message;
      return;
    }
    try {
      this.current = await api(`/api/cameras/${encodeURIComponent(this.cameraId)}/detection`, { method: "PUT", body: config });
      this.dialog.close();
      notify(t(savedKey(base, config), { camera: store.name(this.cameraId) }));
    } catch (error) {
      this.error.textContent = calibration.problemText(error) || error.message;
    }
  },
};

/** The notice after saving: what changed, zones (and masks) or the calibration or both. */
function savedKey(before, after) {
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const zones = !same(before.zones ?? [], after.zones) || !same(before.masks ?? [], after.masks);
  if (same(before.calibration, after.calibration)) return "zones.saved";
  if (!after.calibration) return zones ? "zones.saved_zones_calibration_removed" : "zones.saved_calibration_removed";
  return zones ? "zones.saved_both" : "zones.saved_calibration";
}
