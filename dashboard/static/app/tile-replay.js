// Instant replay inside a wall tile: "back 10 s / 30 s" plays the camera's recent past over the
// tile (the recording, through /playback.mp4) and returns to live by itself when it reaches the
// moment of the click, or at once with "live". The live session keeps running underneath, so
// the return is instant and the operator never leaves the wall.

import { el, fmtTime, notify } from "./dom.js";
import { translate } from "./i18n.js";
import { RecordingPlayer } from "./player.js";
import { store } from "./store.js";

const BACK_SECONDS = [10, 30];
const STUCK_MS = 2500; // no progress this long at the end of the recording: back to live
const TICK_MS = 250;

export class TileReplay {
  constructor(tile) {
    this.tile = tile;
    this.video = el("video", { class: "replay-video", muted: true, playsInline: true, hidden: true });
    this.clock = el("span", { class: "replay-clock", hidden: true });
    this.liveButton = el("button", { type: "button", class: "replay-live", i18n: "replay.live", hidden: true,
                                     on: { click: (event) => { event.stopPropagation(); this.end("button"); } } });
    this.buttons = el("div", { class: "replay-buttons" },
      ...BACK_SECONDS.map((seconds) => el("button", {
        type: "button", class: "replay-back", dataset: { seconds: String(seconds) }, i18n: "replay.back", vars: { seconds },
        title: "replay.back_title",
        on: { click: (event) => { event.stopPropagation(); this.start(seconds); }, dblclick: (event) => event.stopPropagation() },
      })),
      this.liveButton);
    this.player = null;
    this.state = null;
  }

  /** The elements to put in the tile. */
  nodes() {
    return [this.video, this.clock, this.buttons];
  }

  get active() {
    return this.player !== null;
  }

  start(seconds) {
    const cameraId = this.tile.cameraId;
    if (!cameraId || !store.can("playback")) return;
    this.end("restart");
    const clickedAt = Date.now();
    this.player = new RecordingPlayer(this.video, { onError: (error) => this.failed(error) });
    this.state = { cameraId, seconds, clickedAt, from: clickedAt - seconds * 1000, shownAt: null, lastTime: -1, lastMove: clickedAt };
    this.video.hidden = this.clock.hidden = this.liveButton.hidden = false;
    this.tile.el.dataset.replay = String(seconds);
    translate(this.clock, "replay.loading");
    this.player.seek(cameraId, this.state.from, { play: true }).catch((error) => this.failed(error));
    this.timer = setInterval(() => this.watch(), TICK_MS);
  }

  watch() {
    const s = this.state;
    const wall = this.player?.wallTime();
    if (!s || wall === null || wall === undefined) return;
    const now = Date.now();
    if (this.video.readyState >= 2 && s.shownAt === null) s.shownAt = now;
    if (this.video.currentTime !== s.lastTime) {
      s.lastTime = this.video.currentTime;
      s.lastMove = now;
    }
    translate(this.clock, "replay.clock", { time: fmtTime(wall, { date: false }) });
    // Caught up with the click, or the recording ends short of it (its newest seconds are still
    // being written): live again.
    if (wall >= s.clickedAt - 500 || this.video.ended || (s.shownAt !== null && now - s.lastMove > STUCK_MS)) this.end("caught-up");
  }

  failed(error) {
    if (!this.player) return;
    notify(error.message || String(error), "error");
    this.end("error");
  }

  /** Back to live (the live picture was never stopped). */
  end(reason) {
    clearInterval(this.timer);
    if (this.player) {
      this.lastReplay = { ...this.state, endedAt: Date.now(), reason };
      this.player.stop();
    }
    this.player = null;
    this.state = null;
    this.video.hidden = this.clock.hidden = this.liveButton.hidden = true;
    delete this.tile.el.dataset.replay;
  }

  stats() {
    const s = this.state;
    return s ? { seconds: s.seconds, from: s.from, clickedAt: s.clickedAt, shownAt: s.shownAt, wallTime: this.player.wallTime() }
      : null;
  }
}
