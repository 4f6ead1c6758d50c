// Motion search on the playback screen: draw a rectangle over the picture, search the visible
// span of the timeline (POST /api/cameras/{id}/motion-search), follow its progress, list the
// moments found; a click on one plays it.

import { api } from "./api.js";
import { el, fmtTime, iso, notify } from "./dom.js";
import { t, translate } from "./i18n.js";
import { Turns } from "./newest.js";

const POLL_MS = 500;

export class MotionSearchPanel {
  /** stage: the element over the video; range(): [startMs, endMs]; seek(ms): play a moment. */
  constructor(stage, { cameraId, range, seek }) {
    this.stage = stage;
    this.cameraId = cameraId;
    this.range = range;
    this.seek = seek;
    this.box = el("div", { class: "motion-region", hidden: true });
    this.layer = el("div", { class: "motion-layer", hidden: true }, this.box);
    stage.append(this.layer);
    this.status = el("span", { id: "motion-status" });
    this.results = el("ol", { class: "motion-results", id: "motion-results" });
    this.node = el("div", { class: "export-panel", id: "motion-panel" },
      el("strong", { i18n: "motion.title" }),
      el("button", { type: "button", id: "motion-draw", i18n: "motion.draw", on: { click: () => this.drawing(true) } }),
      el("button", { type: "button", id: "motion-search", class: "primary", i18n: "motion.search",
                     on: { click: () => this.search() } }),
      this.status, this.results);
    this.region = null;
    this.searches = new Turns();
    this.layer.addEventListener("pointerdown", (e) => this.begin(e));
    this.layer.addEventListener("pointermove", (e) => this.move(e));
    this.layer.addEventListener("pointerup", (e) => this.end(e));
  }

  /** Lay the drawing layer exactly over the picture (the video is letterboxed in its stage),
   * so the region's fractions are fractions of the camera's picture. */
  drawing(on) {
    const video = this.stage.querySelector("video");
    if (on && video?.videoWidth) {
      const sw = this.stage.clientWidth;
      const sh = this.stage.clientHeight;
      const scale = Math.min(sw / video.videoWidth, sh / video.videoHeight);
      const w = video.videoWidth * scale;
      const h = video.videoHeight * scale;
      Object.assign(this.layer.style, { left: `${(sw - w) / 2}px`, top: `${(sh - h) / 2}px`, width: `${w}px`, height: `${h}px` });
    }
    this.layer.hidden = !on;
  }

  point(e) {
    const r = this.layer.getBoundingClientRect();
    return [Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)), Math.max(0, Math.min(1, (e.clientY - r.top) / r.height))];
  }

  begin(e) {
    this.layer.setPointerCapture(e.pointerId);
    this.from = this.point(e);
    this.setRegion(this.from, this.from);
  }

  move(e) {
    if (this.from) this.setRegion(this.from, this.point(e));
  }

  end(e) {
    if (!this.from) return;
    this.setRegion(this.from, this.point(e));
    this.from = null;
    this.drawing(false);
  }

  /** The region as fractions of the picture (the video is shown edge to edge in the stage). */
  setRegion([x0, y0], [x1, y1]) {
    const x = Math.min(x0, x1);
    const y = Math.min(y0, y1);
    const w = Math.max(0.01, Math.abs(x1 - x0));
    const h = Math.max(0.01, Math.abs(y1 - y0));
    this.region = { x, y, w: Math.min(w, 1 - x), h: Math.min(h, 1 - y) };
    Object.assign(this.box.style, { left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${h * 100}%` });
    this.box.hidden = false;
  }

  async search() {
    const cameraId = this.cameraId();
    if (!cameraId || !this.region) {
      notify(t("motion.draw_first"), "error");
      return;
    }
    const [start, end] = this.range();
    clearTimeout(this.timer);
    // Searched again (another region, another span) before the first search ended: its
    // progress, answered late, overwrote the new search's moments and kept its own poll going.
    const current = this.searches.take();
    delete this.status.dataset.state; // "done" belongs to the search before: this one has not ended
    try {
      const started = await api(`/api/cameras/${encodeURIComponent(cameraId)}/motion-search`, { method: "POST",
        body: { start: iso(start), end: iso(Math.min(end, Date.now())), region: this.region } });
      if (current()) this.follow(started.id, current);
    } catch (error) {
      if (current()) notify(error.message, "error");
    }
  }

  /** current(): whether this search is still the newest (see search). */
  async follow(id, current) {
    let found;
    try {
      found = await api(`/api/motion-searches/${id}`);
    } catch (error) {
      if (current()) notify(error.message, "error");
      return;
    }
    if (!current()) return;
    // A failed search (the server restarted during it, or a recording could not be read) says so.
    translate(this.status, found.state === "failed" ? "motion.failed" : "motion.progress",
              { percent: Math.round(found.progress * 100), count: found.moments.length });
    this.results.replaceChildren(...found.moments.map((m) => el("li", {},
      el("button", { type: "button", class: "motion-moment", dataset: { start: m.start },
                     text: `${fmtTime(m.start, { date: false })} → ${fmtTime(m.end, { date: false })}`,
                     on: { click: () => this.seek(Date.parse(m.start)) } }))));
    if (found.state === "queued" || found.state === "running") this.timer = setTimeout(() => this.follow(id, current), POLL_MS);
    else this.status.dataset.state = found.state;
  }
}
