// The recorded picture under a dragged playhead, and thumbnails along a timeline: small JPEGs of
// the keyframe at a moment (GET /api/cameras/{id}/picture.jpg), requested at most a few per second.

import { el } from "./dom.js";

const PREVIEW_EVERY_MS = 150;

export function pictureUrl(cameraId, ms, width = 320) {
  return `/api/cameras/${encodeURIComponent(cameraId)}/picture.jpg`
    + `?at=${encodeURIComponent(new Date(Math.round(ms)).toISOString())}&width=${width}`;
}

/** An <img> laid over a video while its playhead is dragged. */
export class DragPreview {
  constructor(stage) {
    this.img = el("img", { class: "drag-preview", alt: "", hidden: true });
    this.img.addEventListener("error", () => { this.img.hidden = true; }); // a gap: nothing to show
    this.img.addEventListener("load", () => { if (this.active) this.img.hidden = false; });
    stage.append(this.img);
    this.last = 0;
    this.pending = null;
    this.active = false;
  }

  show(cameraId, ms) {
    if (!cameraId) return;
    this.active = true;
    this.pending = [cameraId, ms];
    const wait = PREVIEW_EVERY_MS - (performance.now() - this.last);
    if (wait <= 0) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), wait);
  }

  flush() {
    this.timer = null;
    if (!this.pending || !this.active) return;
    const [cameraId, ms] = this.pending;
    this.pending = null;
    this.last = performance.now();
    this.img.src = pictureUrl(cameraId, ms);
  }

  hide() {
    this.active = false;
    this.pending = null;
    this.img.hidden = true;
  }
}

/** A row of thumbnails spread over a timeline's visible span. */
export class ThumbnailStrip {
  constructor(count = 8) {
    this.count = count;
    this.node = el("div", { class: "thumb-strip" });
    this.key = "";
  }

  update(cameraId, start, end) {
    const key = `${cameraId}|${Math.round(start / 1000)}|${Math.round(end / 1000)}`;
    if (!cameraId || key === this.key) return;
    this.key = key;
    const step = (end - start) / this.count;
    const now = Date.now();
    this.node.replaceChildren(...Array.from({ length: this.count }, (_, i) => {
      const at = start + step * (i + 0.5);
      const img = el("img", { class: "thumb", alt: "", loading: "lazy" });
      if (at < now) img.src = pictureUrl(cameraId, at, 160);
      else img.classList.add("missing"); // time still to come
      img.addEventListener("error", () => img.classList.add("missing")); // a gap
      return img;
    }));
  }
}
