// Synchronized playback of 1–9 cameras: one wall-clock playhead for all tiles, play/pause, speed,
// frame steps, each tile with its own timeline (its gaps and events) and its picture's timecode,
// cameras added at the same instant ("follow the vehicle"), thumbnails along the main timeline
// and the picture under the playhead while it is dragged.
//
// The master clock is ours, not a video's: wall = anchorWall + (now - anchorPerf) × speed. Every
// tile is steered to it a few times a second: far off (or not loaded) → seek; a little off while
// playing → its playbackRate is nudged so the drift closes within about a second; paused → its
// currentTime is set exactly. While a tile still loads, the clock holds, so nobody runs ahead.

import { api, query } from "./api.js";
import { ZONE, el, fmtTime, notify, option, syncOptions, zoneDay, dayStart } from "./dom.js";
import { dateTimeField, readField } from "./datetime-field.js";
import { t, translate } from "./i18n.js";
import { Turns } from "./newest.js";
import { RecordingPlayer } from "./player.js";
import { DragPreview, ThumbnailStrip } from "./preview.js";
import { store } from "./store.js";
import { Timeline } from "./timeline.js";
import { timelineLegend, transportBar } from "./transport.js";

const MAX_TILES = 9;
const SPEEDS = [0.5, 1, 2, 4, 8];
const STEER_MS = 100;
const SEEK_BEYOND_S = 1.0; // farther off than this: seek instead of nudging the rate
const EXACT_S = 0.02; // closer than this counts as on time (half a frame at 25 fps)
const MAX_NUDGE = 0.25; // the most a tile's rate is changed to catch up
const DAY_MS = 24 * 3600 * 1000;
const TILE_TIMELINE_HEIGHT = 40;

class Tile {
  constructor(screen, cameraId) {
    this.screen = screen;
    this.cameraId = cameraId;
    this.data = { recordings: [], gaps: [], events: [] };
    this.loading = false;
    this.timelines = new Turns(); // only the newest day asked for is drawn
    this.placings = new Turns(); // only the newest move of the tile ends its loading
    this.video = el("video", { muted: true, playsInline: true });
    this.code = el("output", { class: "tile-timecode" });
    this.gap = el("div", { class: "tile-gap", i18n: "sync.no_recording", hidden: true });
    this.stage = el("div", { class: "sync-stage" }, this.video, this.code, this.gap);
    this.preview = new DragPreview(this.stage);
    this.canvas = el("canvas", { class: "timeline tile-timeline" });
    this.node = el("figure", { class: "sync-tile", dataset: { camera: cameraId } },
      this.stage,
      el("figcaption", {},
        el("span", { text: store.name(cameraId) }),
        el("button", { type: "button", class: "tile-remove", text: "✕", title: "sync.remove",
                       on: { click: () => screen.remove(this) } })),
      this.canvas);
    this.timeline = new Timeline(this.canvas, (ms) => screen.seek(ms), {
      onDrag: (ms) => screen.dragging(ms), height: TILE_TIMELINE_HEIGHT });
    this.player = new RecordingPlayer(this.video, {
      onError: (text) => { this.gap.textContent = text; this.gap.hidden = false; },
      nextRecording: () => null, // the master clock decides where a tile goes next
    });
  }

  async loadTimeline(day) {
    const start = dayStart(day);
    this.timeline.setDay(start, dayStart(zoneDay(start + DAY_MS + 3600e3)));
    // Two seeks across midnight (or a tile added while the day changes): the older day's
    // answer, drawn last, showed that day's recordings and put the tile in a wrong gap.
    const current = this.timelines.take();
    let data = null;
    try {
      data = await api(`/api/cameras/${encodeURIComponent(this.cameraId)}/timeline` + query({ day, tz: ZONE }));
    } catch { /* no timeline: the tile counts as not recorded */ }
    if (!current()) return;
    if (!data) {
      this.data = { recordings: [], gaps: [], events: [] };
      return;
    }
    this.data = data;
    this.timeline.setData(data, data.available_from ? Date.parse(data.available_from) : null);
  }

  /** Is there a recording of this camera at wall time ms? */
  recordedAt(ms) {
    return (this.data.recordings || []).some(([a, b]) => Date.parse(a) <= ms && ms < Date.parse(b));
  }

  wallTime() {
    return this.player.wallTime();
  }

  destroy() {
    this.player.stop();
    this.node.remove();
  }
}

/** Resolves (with null) once the tile shows the picture at wall time ms, or once wanted() says
 * the answer no longer matters (a newer move of the tile, or the load ended first): else it
 * polled on for ever, every 20 ms, once per move of a tile. */
function onScreen(tile, ms, wanted) {
  return new Promise((resolve) => {
    const check = () => {
      const wall = tile.wallTime();
      if (!wanted() || (tile.video.readyState >= 2 && !tile.video.seeking && wall !== null
                         && Math.abs(wall - ms) <= EXACT_S * 1000)) {
        resolve(null);
      } else {
        setTimeout(check, 20);
      }
    };
    check();
  });
}

export const sync = {
  tiles: [],
  wall: null, // the master playhead (ms) while paused, or the anchor while playing
  anchorPerf: 0,
  speed: 1,
  playing: false,
  day: null,
  lastSeek: null, // {target, started, pictured}: how long the last seek took to show every picture
  showings: new Turns(),
  seeks: new Turns(),

  init(section, ctx) {
    this.ctx = ctx;
    this.cameraSelect = el("select", { id: "sync-camera" });
    this.grid = el("div", { class: "sync-grid", id: "sync-grid", dataset: { count: "0" } });
    this.clock = el("output", { id: "sync-clock", class: "clock", text: "–" });
    this.playButton = el("button", { type: "button", id: "sync-play", i18n: "playback.play", on: { click: () => this.toggle() } });
    this.speedSelect = el("select", { id: "sync-speed", on: { change: () => this.setSpeed(Number(this.speedSelect.value)) } },
      ...SPEEDS.map((s) => option(String(s), `${s}×`)));
    this.speedSelect.value = "1";
    this.gotoInput = dateTimeField({ id: "sync-goto" });
    this.canvas = el("canvas", { id: "sync-timeline", class: "timeline" });
    this.strip = new ThumbnailStrip();
    section.append(
      el("div", { class: "toolbar" },
        el("label", { class: "inline" }, el("span", { i18n: "playback.camera" }), this.cameraSelect),
        el("button", { type: "button", id: "sync-add", class: "primary", i18n: "sync.add",
                       on: { click: () => this.add(this.cameraSelect.value) } }),
        el("span", { class: "sep" }),
        el("button", { type: "button", text: "−", title: "playback.zoom_out", on: { click: () => this.timeline.zoom(4) } }),
        el("button", { type: "button", text: "+", title: "playback.zoom_in", on: { click: () => this.timeline.zoom(0.25) } })),
      this.grid,
      transportBar("sync", { step: (d) => this.step(d), playButton: this.playButton, speed: this.speedSelect, clock: this.clock,
                              gotoInput: this.gotoInput, goto: () => this.gotoTyped() }),
      this.strip.node,
      this.canvas,
      timelineLegend(),
    );
    this.timeline = new Timeline(this.canvas, (ms) => this.seek(ms), { onDrag: (ms) => this.dragging(ms) });
    this.gotoInput.addEventListener("keydown", (e) => { if (e.key === "Enter") this.gotoTyped(); });
    store.subscribe(() => this.onCameras());
    window.vmsSync = {
      state: () => this.state(),
      seek: (when) => this.seek(Date.parse(when)),
      add: (camera) => this.add(camera),
    };
  },

  onCameras() {
    const cameras = store.cameras.filter((c) => (c.capabilities || []).includes("playback"));
    syncOptions(this.cameraSelect, cameras.map((c) => [c.id, c.name || c.id]));
  },

  /** The master playhead now (ms). */
  now() {
    if (this.wall === null) return null;
    return this.playing ? this.wall + (performance.now() - this.anchorPerf) * this.speed : this.wall;
  },

  /** Re-anchor the clock at its current reading (before changing speed, pausing, holding). */
  reanchor() {
    this.wall = this.now();
    this.anchorPerf = performance.now();
  },

  state() {
    return {
      wallTime: this.wall === null ? null : new Date(this.now()).toISOString(),
      playing: this.playing,
      speed: this.speed,
      lastSeek: this.lastSeek,
      tiles: this.tiles.map((tile) => {
        const wall = tile.wallTime();
        const quality = tile.video.getVideoPlaybackQuality ? tile.video.getVideoPlaybackQuality() : {};
        return {
          camera: tile.cameraId,
          wallTime: wall === null ? null : new Date(wall).toISOString(),
          wallMs: wall,
          shown: tile.code.dataset.time || null,
          inGap: !tile.gap.hidden,
          readyState: tile.video.readyState,
          paused: tile.video.paused,
          framesDecoded: quality.totalVideoFrames || 0,
        };
      }),
    };
  },

  async show(params = {}) {
    this.active = true;
    // Opened again while the first opening added its tiles: only the newest opening goes on.
    const current = this.showings.take();
    const cameras = (params.cameras || "").split(",").filter(Boolean);
    for (const camera of cameras) {
      if (!this.tiles.some((tile) => tile.cameraId === camera)) await this.add(camera);
      if (!current()) return;
    }
    if (params.t) await this.seek(Date.parse(params.t));
    if (current()) this.steer();
  },

  hide() {
    this.active = false;
    clearTimeout(this.timer);
    this.pause();
  },

  async setDay(day) {
    if (day === this.day) return;
    this.day = day;
    const start = dayStart(day);
    this.timeline.setDay(start, dayStart(zoneDay(start + DAY_MS + 3600e3)));
    await Promise.all(this.tiles.map((tile) => tile.loadTimeline(day)));
    this.mergeTimelines();
  },

  /** The main timeline shows what any tile recorded, and every tile's events. */
  mergeTimelines() {
    const runs = this.tiles.flatMap((tile) => tile.data.recordings || []).map(([a, b]) => [Date.parse(a), Date.parse(b)]);
    runs.sort((x, y) => x[0] - y[0]);
    const merged = [];
    for (const [a, b] of runs) {
      if (merged.length && a <= merged.at(-1)[1] + 500) merged.at(-1)[1] = Math.max(merged.at(-1)[1], b);
      else merged.push([a, b]);
    }
    const iso = (ms) => new Date(ms).toISOString();
    this.timeline.setData({
      recordings: merged.map(([a, b]) => [iso(a), iso(b)]),
      events: this.tiles.flatMap((tile) => tile.data.events || []),
    }, null);
  },

  async add(cameraId) {
    if (!cameraId || this.tiles.length >= MAX_TILES || this.tiles.some((tile) => tile.cameraId === cameraId)) return;
    const tile = new Tile(this, cameraId);
    this.tiles.push(tile);
    this.grid.append(tile.node);
    this.grid.dataset.count = String(this.tiles.length);
    if (this.day === null) await this.setDay(zoneDay(Date.now()));
    await tile.loadTimeline(this.day);
    this.mergeTimelines();
    if (this.wall === null) {
      // Start at the most recent recording of what is shown, its last minute.
      const last = tile.data.recordings?.at(-1);
      if (last) {
        this.wall = Math.max(Date.parse(last[0]), Date.parse(last[1]) - 60 * 1000);
        this.timeline.frame(this.wall, 3600 * 1000);
      }
    }
    // At the same instant as the others: the steering loop places the new tile on the clock.
    this.steer();
  },

  remove(tile) {
    tile.destroy();
    this.tiles = this.tiles.filter((other) => other !== tile);
    this.grid.dataset.count = String(this.tiles.length);
    this.mergeTimelines();
  },

  async seek(ms) {
    if (ms === null || Number.isNaN(ms)) return;
    // Two seeks in a row: the first, ending last, wrote its own target as the last seek and
    // re-anchored the clock after the second had (a late "lastSeek" for the wrong moment).
    const current = this.seeks.take();
    for (const tile of this.tiles) tile.preview.hide();
    const started = performance.now();
    this.wall = ms;
    this.anchorPerf = performance.now();
    if (zoneDay(ms) !== this.day) await this.setDay(zoneDay(ms));
    if (!current()) return;
    this.timeline.setPlayhead(ms);
    await Promise.all(this.tiles.map((tile) => this.place(tile, ms)));
    if (!current()) return;
    this.lastSeek = { target: new Date(ms).toISOString(), ms: Math.round(performance.now() - started) };
    this.anchorPerf = performance.now(); // the clock held while the pictures came
    this.steer();
  },

  /** Load or move one tile to wall time ms (paused or playing, as the clock is). */
  async place(tile, ms) {
    // Moved again before this move's picture came: the older move, ending last, marked the tile
    // loaded while the newer one still loaded (and its poll for the picture never ended).
    const current = tile.placings.take();
    if (!tile.recordedAt(ms)) {
      tile.loading = false; // a load still on its way was for an older moment
      tile.video.pause();
      tile.gap.hidden = false;
      translate(tile.gap, "sync.no_recording");
      return;
    }
    tile.gap.hidden = true;
    tile.loading = true;
    // The player's promise settles once it has placed the picture (it goes on reading ahead);
    // the tile counts as placed as soon as the picture at ms is decoded on screen, if sooner.
    const loading = tile.player.seek(tile.cameraId, ms, { play: false }).then(() => null, (error) => error);
    let decided = false;
    const error = await Promise.race([loading, onScreen(tile, ms, () => current() && !decided)]);
    decided = true;
    if (!current()) return;
    tile.loading = false;
    if (error) {
      tile.gap.textContent = error.message || String(error);
      tile.gap.hidden = false;
      return;
    }
    tile.video.playbackRate = this.speed;
    if (this.playing) tile.video.play().catch(() => {});
  },

  dragging(ms) {
    this.timeline.setPlayhead(ms);
    for (const tile of this.tiles) tile.preview.show(tile.cameraId, ms);
  },

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  },

  play() {
    if (this.wall === null || !this.tiles.length) return;
    this.anchorPerf = performance.now();
    this.playing = true;
    translate(this.playButton, "playback.pause");
    for (const tile of this.tiles) {
      tile.video.playbackRate = this.speed;
      if (!tile.loading && tile.recordedAt(this.wall)) tile.video.play().catch(() => {});
    }
    this.steer();
  },

  pause() {
    if (this.playing) this.reanchor();
    this.playing = false;
    translate(this.playButton, "playback.play");
    for (const tile of this.tiles) tile.video.pause();
    this.align();
  },

  setSpeed(speed) {
    this.reanchor();
    this.speed = speed;
    for (const tile of this.tiles) tile.video.playbackRate = speed;
  },

  step(direction) {
    if (this.wall === null) return;
    this.pause();
    const first = store.camera(this.tiles[0]?.cameraId);
    const measured = Math.round(first?.status?.main?.fps || 0);
    const fps = measured >= 1 && measured <= 120 ? measured : 25;
    this.wall += (direction * 1000) / fps;
    this.align();
  },

  /** Go to dd/mm/yyyy HH:mm[:ss], or HH:mm[:ss] on the day shown. */
  gotoTyped() {
    const ms = readField(this.gotoInput, { day: this.day });
    if (ms === null) return;
    if (Number.isNaN(ms)) {
      notify(t("field.bad_stamp", { text: this.gotoInput.value }), "error");
      return;
    }
    this.seek(ms);
  },

  /** Paused: put every loaded tile exactly on the clock. */
  align() {
    for (const tile of this.tiles) {
      if (!tile.player.loaded || tile.loading || !tile.recordedAt(this.wall)) continue;
      tile.video.currentTime = Math.max(0, (this.wall - tile.player.origin) / 1000);
    }
  },

  /** A few times a second: keep every tile on the master clock, and the clock on the tiles. */
  steer() {
    clearTimeout(this.timer);
    if (!this.active) return;
    if (this.playing && this.tiles.some((tile) => tile.loading)) this.reanchor(); // hold the clock
    const now = this.now();
    if (now !== null) {
      if (this.playing && zoneDay(now) !== this.day) this.setDay(zoneDay(now));
      for (const tile of this.tiles) this.steerTile(tile, now);
      this.clock.textContent = fmtTime(now, { withMs: true });
      this.clock.dataset.time = new Date(Math.round(now)).toISOString();
      this.timeline.setPlayhead(now);
      this.strip.update(this.tiles[0]?.cameraId, this.timeline.viewStart, this.timeline.viewEnd);
    }
    this.timer = setTimeout(() => this.steer(), STEER_MS);
  },

  steerTile(tile, now) {
    if (tile.timeline.viewStart !== this.timeline.viewStart || tile.timeline.viewEnd !== this.timeline.viewEnd) {
      // Every tile's timeline spans what the main one does, so gaps line up under each other.
      tile.timeline.viewStart = this.timeline.viewStart;
      tile.timeline.viewEnd = this.timeline.viewEnd;
    }
    tile.timeline.setPlayhead(now);
    const wall = tile.wallTime();
    if (wall !== null) {
      tile.code.textContent = fmtTime(wall, { withMs: true, date: false });
      tile.code.dataset.time = new Date(Math.round(wall)).toISOString();
    }
    if (tile.loading) return;
    if (!tile.recordedAt(now)) {
      if (!tile.video.paused) tile.video.pause();
      if (tile.gap.hidden) {
        translate(tile.gap, "sync.no_recording");
        tile.gap.hidden = false;
      }
      return;
    }
    const drift = wall === null ? Infinity : (wall - now) / 1000;
    if (!tile.player.loaded || Math.abs(drift) > SEEK_BEYOND_S || !tile.gap.hidden) {
      this.place(tile, now);
      return;
    }
    if (!this.playing) {
      if (Math.abs(drift) > EXACT_S) tile.video.currentTime = Math.max(0, (now - tile.player.origin) / 1000);
      return;
    }
    if (tile.video.paused) tile.video.play().catch(() => {});
    // Close the drift within about a second by running a little faster or slower.
    const nudge = Math.abs(drift) <= EXACT_S ? 0 : Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, -drift));
    tile.video.playbackRate = this.speed * (1 + nudge);
  },
};
