// One day of a camera on a canvas: recorded runs, gaps, time still to come (drawn apart from
// gaps), event markers coloured by type and bookmarks (named on hover), the playhead and the range
// marked for export. Click or drag to seek (onDrag follows the pointer while dragging, for a preview); the
// wheel or the zoom buttons change the span.

import { fmtTime } from "./dom.js";

const COLORS = {
  background: "#1d232b", recorded: "#2e9d58", gap: "#3a2326", event: "#f0a020", eventAck: "#8c7440",
  playhead: "#ff4d4d", selection: "rgba(80, 160, 255, 0.30)", text: "#c8d0da", grid: "#3b4552", unavailable: "#101418",
  future: "#161b22", futureStripe: "#232a33", bookmark: "#4da3ff",
};
// Event types keep their colour wherever they are drawn.
const EVENT_COLORS = ["#f0a020", "#e05d5d", "#5da9e9", "#b07be0", "#58c4a8", "#e0d35d"];
const EVENT_HIT_PX = 5;

export function eventColor(type) {
  let hash = 0;
  for (const c of String(type)) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return EVENT_COLORS[hash % EVENT_COLORS.length];
}
const HEIGHT = 64;
const BAR_TOP = 18;
const BAR_HEIGHT = 26;

export class Timeline {
  /** onSeek(ms) is called when the user clicks or drags to a moment. */
  constructor(canvas, onSeek, { onDrag = () => {}, height = HEIGHT } = {}) {
    this.canvas = canvas;
    this.onSeek = onSeek;
    this.onDrag = onDrag;
    this.height = height;
    this.dayStart = 0;
    this.dayEnd = 0;
    this.viewStart = 0;
    this.viewEnd = 0;
    this.data = { recordings: [], gaps: [], events: [] };
    this.availableFrom = null;
    this.playhead = null;
    this.selection = null;
    this.bookmarks = []; // [{id, start, end (ms or null: a moment), title}]
    this.dragging = false;
    canvas.height = height;
    canvas.addEventListener("pointerdown", (e) => {
      this.dragging = true;
      canvas.setPointerCapture(e.pointerId);
      this.playhead = this.timeAt(e.offsetX);
      this.onDrag(this.playhead);
      this.draw();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (this.dragging) {
        this.playhead = this.timeAt(e.offsetX);
        this.onDrag(this.playhead);
        this.draw();
      }
      const event = this.eventNear(e.offsetX);
      const bookmark = event ? null : this.bookmarkNear(e.offsetX);
      canvas.title = event ? `${event.type}${event.zone ? ` (${event.zone})` : ""} ${fmtTime(event.start)}`
        : bookmark ? `★ ${bookmark.title} ${fmtTime(bookmark.start)}` : fmtTime(this.timeAt(e.offsetX));
    });
    canvas.addEventListener("pointerup", (e) => {
      if (!this.dragging) return;
      this.dragging = false;
      this.onSeek(this.timeAt(e.offsetX));
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 0.5 : 2, this.timeAt(e.offsetX));
    }, { passive: false });
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setDay(start, end) {
    this.dayStart = this.viewStart = start;
    this.dayEnd = this.viewEnd = end;
    this.draw();
  }

  setData(data, availableFrom) {
    this.data = data;
    this.availableFrom = availableFrom;
    this.draw();
  }

  /** Span the view over `span` ms around `center` (within the day). */
  zoom(factor, center = this.playhead ?? (this.viewStart + this.viewEnd) / 2) {
    const day = this.dayEnd - this.dayStart;
    const span = Math.min(day, Math.max(60 * 1000, (this.viewEnd - this.viewStart) * factor));
    let start = center - span / 2;
    start = Math.max(this.dayStart, Math.min(start, this.dayEnd - span));
    this.viewStart = start;
    this.viewEnd = start + span;
    this.draw();
  }

  /** Show `span` ms around `center`. */
  frame(center, span) {
    this.viewStart = this.dayStart;
    this.viewEnd = this.dayEnd;
    this.zoom(span / (this.dayEnd - this.dayStart), center);
  }

  setPlayhead(ms) {
    if (this.dragging) return;
    this.playhead = ms;
    // Keep the playhead in view when zoomed in.
    const span = this.viewEnd - this.viewStart;
    if (ms !== null && (ms < this.viewStart || ms > this.viewEnd) && ms >= this.dayStart && ms <= this.dayEnd) {
      this.viewStart = Math.max(this.dayStart, Math.min(ms - span / 4, this.dayEnd - span));
      this.viewEnd = this.viewStart + span;
    }
    this.draw();
  }

  eventNear(x) {
    return (this.data.events || []).find((event) => Math.abs(this.xOf(Date.parse(event.start)) - x) <= EVENT_HIT_PX) || null;
  }

  /** The bookmark whose flag (or range) is under x, or null. */
  bookmarkNear(x) {
    return this.bookmarks.find((b) => {
      const x0 = this.xOf(b.start);
      const x1 = b.end === null ? x0 : this.xOf(b.end);
      return x >= x0 - EVENT_HIT_PX && x <= x1 + EVENT_HIT_PX;
    }) || null;
  }

  setBookmarks(bookmarks) {
    this.bookmarks = bookmarks;
    this.draw();
  }

  timeAt(x) {
    const width = this.canvas.clientWidth || 1;
    return this.viewStart + (Math.max(0, Math.min(x, width)) / width) * (this.viewEnd - this.viewStart);
  }

  xOf(ms) {
    const width = this.canvas.clientWidth || 1;
    return ((ms - this.viewStart) / (this.viewEnd - this.viewStart)) * width;
  }

  draw() {
    const canvas = this.canvas;
    const width = canvas.clientWidth;
    if (!width || this.viewEnd <= this.viewStart) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    const height = this.height;
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = COLORS.background;
    g.fillRect(0, 0, width, height);
    g.fillStyle = COLORS.gap;
    g.fillRect(0, BAR_TOP, width, BAR_HEIGHT);
    this.drawFuture(g, width);
    if (this.availableFrom) {
      g.fillStyle = COLORS.unavailable;
      g.fillRect(0, BAR_TOP, Math.max(0, this.xOf(this.availableFrom)), BAR_HEIGHT);
    }
    g.fillStyle = COLORS.recorded;
    for (const [start, end] of this.data.recordings || []) {
      const x0 = this.xOf(Date.parse(start));
      const x1 = this.xOf(Date.parse(end));
      if (x1 >= 0 && x0 <= width) g.fillRect(x0, BAR_TOP, Math.max(1, x1 - x0), BAR_HEIGHT);
    }
    this.drawTicks(g, width);
    for (const event of this.data.events || []) {
      const x = this.xOf(Date.parse(event.start));
      if (x < 0 || x > width) continue;
      g.fillStyle = eventColor(event.type);
      g.beginPath();
      g.moveTo(x, BAR_TOP + BAR_HEIGHT + 2);
      g.lineTo(x - 4, height - 2);
      g.lineTo(x + 4, height - 2);
      g.fill();
    }
    this.drawBookmarks(g, width);
    if (this.selection) {
      const x0 = this.xOf(this.selection[0]);
      const x1 = this.xOf(this.selection[1]);
      g.fillStyle = COLORS.selection;
      g.fillRect(Math.min(x0, x1), 0, Math.max(2, Math.abs(x1 - x0)), height);
    }
    if (this.playhead !== null) {
      const x = this.xOf(this.playhead);
      g.fillStyle = COLORS.playhead;
      g.fillRect(x - 1, 0, 2, height);
    }
  }

  /** Bookmarks above the bar: a flag at the start, a line along a range (drawn apart from events below). */
  drawBookmarks(g, width) {
    g.fillStyle = COLORS.bookmark;
    for (const b of this.bookmarks) {
      const x0 = this.xOf(b.start);
      const x1 = b.end === null ? x0 : this.xOf(b.end);
      if (x1 < 0 || x0 > width) continue;
      g.fillRect(x0, BAR_TOP - 4, Math.max(2, x1 - x0), 3);
      g.fillRect(x0 - 1, BAR_TOP - 4, 2, BAR_HEIGHT + 4);
      g.beginPath();
      g.moveTo(x0, BAR_TOP - 10);
      g.lineTo(x0 + 7, BAR_TOP - 7);
      g.lineTo(x0, BAR_TOP - 4);
      g.fill();
    }
  }

  /** Time that has not happened yet: striped, so it is never mistaken for a gap in recording. */
  drawFuture(g, width) {
    const x0 = Math.max(0, this.xOf(Date.now()));
    if (x0 >= width) return;
    g.fillStyle = COLORS.future;
    g.fillRect(x0, BAR_TOP, width - x0, BAR_HEIGHT);
    g.save();
    g.beginPath();
    g.rect(x0, BAR_TOP, width - x0, BAR_HEIGHT);
    g.clip();
    g.strokeStyle = COLORS.futureStripe;
    g.lineWidth = 3;
    for (let x = x0 - BAR_HEIGHT; x < width; x += 8) {
      g.beginPath();
      g.moveTo(x, BAR_TOP + BAR_HEIGHT);
      g.lineTo(x + BAR_HEIGHT, BAR_TOP);
      g.stroke();
    }
    g.restore();
  }

  drawTicks(g, width) {
    const span = this.viewEnd - this.viewStart;
    const steps = [60e3, 5 * 60e3, 10 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3, 3 * 3600e3];
    const step = steps.find((s) => (span / s) * 70 <= width) || 6 * 3600e3;
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "top";
    const first = this.dayStart + Math.ceil((this.viewStart - this.dayStart) / step) * step;
    for (let ms = first; ms <= this.viewEnd; ms += step) {
      const x = Math.round(this.xOf(ms)) + 0.5;
      g.fillStyle = COLORS.grid;
      g.fillRect(x, 12, 1, BAR_TOP + BAR_HEIGHT - 12);
      g.fillStyle = COLORS.text;
      g.fillText(fmtTime(ms, { date: false }).slice(0, 5), x + 3, 2);
    }
  }
}
