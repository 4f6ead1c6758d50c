// Playback: a camera's day on a timeline (GET /api/cameras/{id}/timeline), the recording at any
// moment (player.js), play/pause, 1x-8x, frame steps, the wall-clock time of the picture shown,
// the camera's bookmarks as markers, and marking a range for an evidence export (POST /api/exports).

import { api, query } from "./api.js";
import { ZONE, dayStart, el, fmtTime, iso, notify, option, syncOptions, zoneDay } from "./dom.js";
import { dateTimeField, readField, writeField } from "./datetime-field.js";
import { t, translate } from "./i18n.js";
import { RecordingPlayer } from "./player.js";
import { MotionSearchPanel } from "./motion.js";
import { Turns } from "./newest.js";
import { DragPreview } from "./preview.js";
import { store } from "./store.js";
import { Timeline } from "./timeline.js";
import { timelineLegend, transportBar } from "./transport.js";

const SPEEDS = [1, 2, 4, 8];
const DAY_MS = 24 * 3600 * 1000;
const TIMELINE_REFRESH_MS = 10000;
const LOOKBACK_MARGIN_MS = 2000; // a request takes a moment to arrive; the window moves meanwhile
const RECENT_MS = 60 * 1000; // Play with nothing loaded starts this far before the newest picture

export const playback = {
  cameraId: null,
  day: null,
  data: null,
  active: false,
  mark: [null, null],
  // Newest answer wins (newest.js), one sequence per kind of request.
  showings: new Turns(),
  seeks: new Turns(),
  timelines: new Turns(),
  bookmarkLists: new Turns(),
  markings: new Turns(),
  caseLists: new Turns(),
  timelineLoad: null, // the timeline answer on its way, if any

  init(section, ctx) {
    this.ctx = ctx;
    this.cameraSelect = el("select", { id: "pb-camera", on: { change: () => this.choose(this.cameraSelect.value, this.day) } });
    this.dayInput = dateTimeField({ id: "pb-day", kind: "date" });
    this.dayInput.addEventListener("change", () => this.chooseTypedDay());
    this.video = el("video", { id: "pb-video", muted: true, playsInline: true });
    this.message = el("div", { class: "pb-message", id: "pb-message", hidden: true });
    this.clock = el("output", { id: "pb-clock", class: "clock", text: "–" });
    this.playButton = el("button", { type: "button", id: "pb-play", i18n: "playback.play", on: { click: () => this.togglePlay() } });
    this.speed = el("select", { id: "pb-speed", on: { change: () => this.player.setRate(Number(this.speed.value)) } },
      ...SPEEDS.map((s) => option(String(s), `${s}×`)));
    this.gotoInput = dateTimeField({ id: "pb-goto" });
    this.canvas = el("canvas", { id: "pb-timeline", class: "timeline" });
    this.rangeText = el("span", { id: "pb-range", class: "range-text" });
    this.reason = el("input", { id: "pb-reason", type: "text", maxLength: 2000, placeholder: "playback.reason_hint" });
    this.exportButton = el("button", { type: "button", id: "pb-export", class: "primary", i18n: "playback.export",
                                       on: { click: () => this.exportRange() } });
    this.exportPanel = el("div", { class: "export-panel", id: "pb-export-panel" },
      el("strong", { i18n: "playback.evidence" }),
      el("button", { type: "button", id: "pb-mark-in", i18n: "playback.mark_in", on: { click: () => this.setMark(0) } }),
      el("button", { type: "button", id: "pb-mark-out", i18n: "playback.mark_out", on: { click: () => this.setMark(1) } }),
      this.rangeText, this.reason, this.exportButton);
    this.bookmarkTitle = el("input", { id: "pb-bookmark-title", type: "text", maxLength: 200, placeholder: "playback.bookmark_title" });
    this.bookmarkLock = el("input", { id: "pb-bookmark-lock", type: "checkbox" });
    this.caseSelect = el("select", { id: "pb-case" });
    this.casePanel = el("div", { class: "export-panel", id: "pb-case-panel" },
      this.bookmarkTitle,
      el("label", { class: "inline" }, this.bookmarkLock, el("span", { i18n: "playback.bookmark_lock" })),
      el("button", { type: "button", id: "pb-bookmark", i18n: "playback.bookmark", on: { click: () => this.bookmark() } }),
      el("span", { class: "sep" }),
      el("label", { class: "inline" }, el("span", { i18n: "playback.case" }), this.caseSelect),
      el("button", { type: "button", id: "pb-add-to-case", i18n: "playback.add_to_case", on: { click: () => this.addToCase() } }));
    section.append(
      el("div", { class: "toolbar" },
        el("label", { class: "inline" }, el("span", { i18n: "playback.camera" }), this.cameraSelect),
        el("button", { type: "button", text: "◀", title: "playback.previous_day", on: { click: () => this.shiftDay(-1) } }),
        el("label", { class: "inline" }, el("span", { i18n: "playback.day" }), this.dayInput),
        el("button", { type: "button", text: "▶", title: "playback.next_day", on: { click: () => this.shiftDay(1) } }),
        el("span", { class: "sep" }),
        el("span", { class: "toolbar-label", i18n: "playback.zoom" }),
        el("button", { type: "button", text: "−", title: "playback.zoom_out", on: { click: () => this.timeline.zoom(4) } }),
        el("button", { type: "button", text: "+", title: "playback.zoom_in", on: { click: () => this.timeline.zoom(0.25) } }),
        el("button", { type: "button", i18n: "playback.whole_day", on: { click: () => this.timeline.zoom(1e9) } })),
      this.stage = el("div", { class: "pb-stage" }, this.video, this.message),
      transportBar("pb", { step: (d) => this.step(d), playButton: this.playButton, speed: this.speed, clock: this.clock,
                              gotoInput: this.gotoInput, goto: () => this.gotoTyped() }),
      this.canvas,
      timelineLegend(),
      this.exportPanel,
      this.casePanel,
    );
    this.preview = new DragPreview(this.stage);
    this.motion = new MotionSearchPanel(this.stage, {
      cameraId: () => this.cameraId,
      range: () => [this.timeline.viewStart, this.timeline.viewEnd],
      seek: (ms) => this.seek(ms),
    });
    section.append(this.motion.node);
    this.timeline = new Timeline(this.canvas, (ms) => this.seek(ms),
                                 { onDrag: (ms) => this.preview.show(this.cameraId, ms) });
    this.player = new RecordingPlayer(this.video, {
      onError: (text) => this.showMessage(text),
      nextRecording: (ms) => this.nextRecording(ms),
    });
    this.video.addEventListener("play", () => translate(this.playButton, "playback.pause"));
    this.video.addEventListener("pause", () => translate(this.playButton, "playback.play"));
    this.gotoInput.addEventListener("keydown", (e) => { if (e.key === "Enter") this.gotoTyped(); });
    store.subscribe(() => this.onCameras());
    window.vmsPlayback = {
      state: () => this.state(),
      seek: (when) => this.seek(Date.parse(when)),
    };
  },

  state() {
    const wall = this.player.wallTime();
    const quality = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : {};
    return {
      camera: this.cameraId,
      day: this.day,
      wallTime: wall === null ? null : new Date(wall).toISOString(),
      shown: this.clock.dataset.time || null,
      currentTime: this.video.currentTime,
      framesDecoded: quality.totalVideoFrames || 0,
      readyState: this.video.readyState,
      paused: this.video.paused,
      message: this.message.hidden ? null : this.message.textContent,
      bookmarks: this.timeline.bookmarks.map((b) => b.id),
      availableFrom: this.lookback ? new Date(this.lookback.from).toISOString() : null,  // the role's look-back limit
    };
  },

  playableCameras() {
    return store.cameras.filter((c) => (c.capabilities || []).includes("playback"));
  },

  onCameras() {
    const cameras = this.playableCameras();
    syncOptions(this.cameraSelect, [["", "", "playback.choose_camera"], ...cameras.map((c) => [c.id, c.name || c.id])]);
    if (this.cameraId && cameras.some((c) => c.id === this.cameraId)) this.cameraSelect.value = this.cameraId;
    this.exportPanel.hidden = !store.can("export");
  },

  async show(params = {}) {
    this.active = true;
    this.exportPanel.hidden = !store.can("export");
    this.casePanel.hidden = !store.can("playback");
    this.loadCases();
    clearTimeout(this.tickTimer);
    clearInterval(this.refreshTimer);
    this.tick();
    this.refreshTimer = setInterval(() => {
      if (this.day === zoneDay(Date.now()) && !this.timelineLoad) this.loadTimeline();
    }, TIMELINE_REFRESH_MS);
    // Opened again (another event clicked) while the timeline of the first came: only the newest
    // opening goes on. A seek the user made meanwhile wins over the address's moment (it came
    // later): the picture jumped back to the address's moment after the user's click.
    const showing = this.showings.take();
    const sought = this.seeks.count;
    if (params.camera) {
      const at = params.t ? Date.parse(params.t) : null;
      await this.choose(params.camera, at !== null ? zoneDay(at) : zoneDay(Date.now()));
      if (!showing()) return;
      if (params.event) this.markEvent(params.event);
      // A bookmarked range arrives marked, ready for an export or a case clip.
      if (at !== null && params.end) {
        this.mark = [at, Date.parse(params.end)];
        this.updateRange();
      }
      if (at !== null && this.seeks.count === sought) {
        this.timeline.frame(at, 20 * 60 * 1000); // twenty minutes around the moment
        await this.seek(at);
      }
    } else if (!this.cameraId) {
      const first = this.playableCameras()[0];
      if (first) {
        await this.choose(first.id, zoneDay(Date.now()));
        if (!showing()) return;
        const last = this.data?.recordings?.at(-1);
        if (last) this.timeline.frame(Date.parse(last[1]), 3600 * 1000); // the last hour
      }
    }
  },

  hide() {
    this.active = false;
    clearInterval(this.refreshTimer);
    clearTimeout(this.tickTimer);
    this.video.pause();
  },

  async choose(cameraId, day) {
    if (!cameraId) return;
    if (cameraId !== this.cameraId) {
      this.player.stop();
      this.mark = [null, null];
      this.updateRange();
    }
    this.cameraId = cameraId;
    this.day = day || zoneDay(Date.now());
    this.cameraSelect.value = cameraId;
    writeField(this.dayInput, this.day);
    const start = dayStart(this.day);
    this.timeline.setDay(start, dayStart(zoneDay(start + DAY_MS + 3600e3)));
    this.hideMessage();
    await this.loadTimeline();
  },

  shiftDay(delta) {
    if (!this.day) return;
    this.choose(this.cameraId, zoneDay(dayStart(this.day) + delta * DAY_MS + 3600e3));
  },

  loadTimeline() {
    if (!this.cameraId) return Promise.resolve();
    const load = (this.timelineLoad = this.fetchTimeline().finally(() => {
      if (this.timelineLoad === load) this.timelineLoad = null;
    }));
    return load;
  },

  async fetchTimeline() {
    const camera = this.cameraId;
    // Day before, then the event's day (or the 10-s refresh crossing a day change): the older
    // day's answer, drawn last, put another day's recordings on the timeline shown.
    const current = this.timelines.take();
    try {
      const data = await api(`/api/cameras/${encodeURIComponent(camera)}/timeline` + query({ day: this.day, tz: ZONE }));
      if (!current() || camera !== this.cameraId) return;
      this.data = data;
      // The look-back window slides with the clock: remember where it began and when we heard,
      // so a seek made minutes later still asks for a moment the server will allow.
      this.lookback = data.available_from ? { from: Date.parse(data.available_from), at: Date.now() } : null;
      this.timeline.setData(data, data.available_from ? Date.parse(data.available_from) : null);
    } catch (error) {
      if (current()) this.showMessage(error.message);
      return;
    }
    await this.loadBookmarks();
  },

  /** The camera's bookmarks on the day shown, as markers on the timeline. */
  async loadBookmarks() {
    const camera = this.cameraId;
    const day = this.day;
    // A bookmark saved while the timeline refreshed: the list asked before it, answered last,
    // took its marker off the timeline.
    const current = this.bookmarkLists.take();
    try {
      const found = await api("/api/bookmarks" + query({ camera_id: camera, start: iso(dayStart(day)),
                                                        end: iso(dayStart(zoneDay(dayStart(day) + DAY_MS + 3600e3))) }));
      if (!current() || camera !== this.cameraId || day !== this.day) return;
      this.timeline.setBookmarks(found.map((b) => ({ id: b.id, title: b.title, start: Date.parse(b.start),
                                                     end: b.end ? Date.parse(b.end) : null })));
    } catch { /* the timeline stays without bookmark markers; playback itself is not affected */ }
  },

  nextRecording(ms) {
    for (const [start] of this.data?.recordings || []) {
      const begin = Date.parse(start);
      if (begin > ms + 500) return begin;
    }
    return null;
  },

  /** The earliest moment this user may play back now (null: no limit), with a margin for the trip. */
  earliest() {
    if (!this.lookback) return null;
    return this.lookback.from + (Date.now() - this.lookback.at) + LOOKBACK_MARGIN_MS;
  },

  /** Where Play begins with nothing loaded: the last minute of the most recent recording. */
  startOfPlay() {
    const last = this.data?.recordings?.at(-1);
    if (!last) return null;
    const begin = Math.max(Date.parse(last[0]), Date.parse(last[1]) - RECENT_MS);
    return Math.max(begin, this.earliest() ?? begin);
  },

  async seek(ms) {
    if (!this.cameraId || ms === null || Number.isNaN(ms)) return;
    // A seek to another day waits for that day's timeline; a click on the timeline meanwhile
    // is newer and must not be undone when the first one goes on.
    const current = this.seeks.take();
    this.preview.hide();
    const earliest = this.earliest();
    this.hideMessage();
    if (earliest !== null && ms < earliest) {
      ms = earliest;
      // Moved, and told why: otherwise the playhead jumps to another moment without a word.
      notify(t("playback.moved_to_limit", { minutes: store.me?.playback_lookback_minutes ?? "", from: fmtTime(ms) }));
    }
    this.timeline.setPlayhead(ms);
    if (zoneDay(ms) !== this.day) await this.choose(this.cameraId, zoneDay(ms));
    if (!current()) return;
    try {
      await this.player.seek(this.cameraId, ms, { play: !this.video.paused });
    } catch (error) {
      this.showMessage(error.message || String(error));
    }
    this.tick(true);
  },

  /** The day typed as dd/mm/yyyy; a text that is not one is said so and the shown day stays. */
  chooseTypedDay() {
    const ms = readField(this.dayInput);
    if (ms === null) return;
    if (Number.isNaN(ms)) {
      notify(t("field.bad_date", { text: this.dayInput.value }), "error");
      return;
    }
    this.choose(this.cameraId, zoneDay(ms));
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

  async togglePlay() {
    if (!this.player.loaded) {
      // Play pressed before the timeline answered did nothing (no recording known yet to
      // start from): wait for the answer on its way, then start.
      while (this.startOfPlay() === null && this.timelineLoad) await this.timelineLoad;
      const start = this.startOfPlay();
      if (start !== null) this.seek(start).then(() => this.video.play().catch(() => {}));
      return;
    }
    if (this.video.paused) this.video.play().catch((error) => this.showMessage(String(error)));
    else this.video.pause();
  },

  step(direction) {
    if (!this.player.loaded) return;
    this.video.pause();
    const measured = Math.round(store.camera(this.cameraId)?.status?.main?.fps || 0);
    const fps = measured >= 1 && measured <= 120 ? measured : 25;
    this.video.currentTime = Math.max(0, this.video.currentTime + direction / fps);
  },

  /** Keep the clock and the playhead on the picture shown, a few times a second. */
  tick(once = false) {
    const wall = this.player.wallTime();
    if (wall !== null) {
      this.clock.textContent = fmtTime(wall, { withMs: true });
      this.clock.dataset.time = new Date(wall).toISOString();
      this.timeline.setPlayhead(wall);
    }
    if (!once && this.active) this.tickTimer = setTimeout(() => this.tick(), 200);
  },

  async markEvent(eventId) {
    // The event's range arrives after the screen opened: a mark set by hand meanwhile, or
    // another event opened, is newer and stays.
    const current = this.markings.take();
    const camera = this.cameraId;
    try {
      const event = await api(`/api/events/${Number(eventId)}`);
      if (!current() || camera !== this.cameraId) return;
      const start = Date.parse(event.clip?.start || event.start);
      const end = event.clip?.end ? Date.parse(event.clip.end) : start + 30 * 1000;
      this.mark = [start, Math.min(end, Date.now())];
      this.updateRange();
    } catch { /* an event we cannot read: nothing to mark */ }
  },

  setMark(which) {
    const wall = this.player.wallTime();
    if (wall === null) {
      notify(t("playback.nothing_shown"), "error");
      return;
    }
    this.markings.drop(); // an event's range still on its way must not replace this mark
    this.mark[which] = Math.round(wall);
    this.updateRange();
  },

  updateRange() {
    const [a, b] = this.mark;
    this.timeline.selection = a !== null && b !== null ? [a, b] : null;
    this.timeline.draw();
    if (a === null && b === null) translate(this.rangeText, "playback.no_range");
    else translate(this.rangeText, "playback.range", { start: a === null ? "…" : fmtTime(a, { withMs: true }),
                                                       end: b === null ? "…" : fmtTime(b, { withMs: true }) });
  },

  async exportRange() {
    const [a, b] = this.mark;
    if (a === null || b === null || b <= a) {
      notify(t("playback.range_needed"), "error");
      return;
    }
    this.exportButton.disabled = true;
    try {
      const created = await api("/api/exports", { method: "POST",
        body: { camera_id: this.cameraId, start: iso(a), end: iso(b), reason: this.reason.value.trim() } });
      notify(t("playback.export_queued"));
      this.ctx.go("exports", { highlight: created.id });
    } catch (error) {
      notify(error.message, "error");
    } finally {
      this.exportButton.disabled = false;
    }
  },

  async loadCases() {
    if (!store.can("export")) {
      this.caseSelect.parentElement.hidden = true;
      return;
    }
    const current = this.caseLists.take(); // an older list would lack a case made since
    try {
      const cases = await api("/api/cases");
      if (!current()) return;
      syncOptions(this.caseSelect, cases.map((c) => [String(c.id), `${c.number} — ${c.title}`]));
    } catch { /* no cases to offer */ }
  },

  /** A moment (the picture shown) or the marked range, titled; optionally locked. */
  async bookmark() {
    const [a, b] = this.mark;
    const wall = this.player.wallTime();
    const start = a !== null && b !== null && b > a ? a : wall;
    if (start === null || !this.bookmarkTitle.value.trim()) {
      notify(t(start === null ? "playback.nothing_shown" : "playback.bookmark_title"), "error");
      return;
    }
    try {
      await api("/api/bookmarks", { method: "POST", body: {
        camera_id: this.cameraId, start: iso(start), end: a !== null && b !== null && b > a ? iso(b) : null,
        title: this.bookmarkTitle.value.trim(), lock: this.bookmarkLock.checked } });
      this.bookmarkTitle.value = "";
      notify(t("playback.bookmarked"));
      this.loadBookmarks();
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async addToCase() {
    const [a, b] = this.mark;
    if (a === null || b === null || b <= a || !this.caseSelect.value) {
      notify(t("playback.range_needed"), "error");
      return;
    }
    try {
      await api(`/api/cases/${Number(this.caseSelect.value)}/clips`, { method: "POST",
        body: { camera_id: this.cameraId, start: iso(a), end: iso(b), note: this.reason.value.trim() } });
      notify(t("playback.added_to_case"));
    } catch (error) {
      notify(error.message, "error");
    }
  },

  showMessage(text) {
    this.message.textContent = text;
    this.message.hidden = false;
  },

  hideMessage() {
    this.message.hidden = true;
  },
};
