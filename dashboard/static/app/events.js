// Events: the newest events (GET /api/events) kept current by server-sent events
// (/api/events/stream), with filters (camera, detection zone, type, time range,
// unacknowledged), acknowledgement, and a click to play back the moment.

import { api, query } from "./api.js";
import { clear, el, fmtTime, iso, notify, option, syncOptions, zoneDay } from "./dom.js";
import { dateTimeField, readField } from "./datetime-field.js";
import { t, translate } from "./i18n.js";
import { store } from "./store.js";

export const EVENT_TYPES = [
  "motion", "stopped_vehicle", "wrong_way", "pedestrian", "congestion", "tamper_covered",
  "tamper_defocus", "tamper_moved", "camera_offline", "camera_online", "object", "slowdown", "smoke", "debris",
];
const LIMIT = 200;

export const events = {
  items: new Map(), // id -> event message
  source: null,
  zonesOf: new Map(), // camera id -> Promise of its detection zones' ids (asked once per screen visit)

  init(section, ctx) {
    this.ctx = ctx;
    this.camera = el("select", { id: "events-camera", on: { change: () => { this.loadZones(); this.reload(); } } });
    this.zone = el("select", { id: "events-zone", on: { change: () => this.reload() } });
    syncOptions(this.zone, [["", "", "events.all_zones"]]);
    this.since = dateTimeField({ id: "events-since" });
    this.until = dateTimeField({ id: "events-until" });
    for (const input of [this.since, this.until]) {
      input.addEventListener("change", () => this.reload());
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") this.reload(); });
    }
    this.type = el("select", { id: "events-type", on: { change: () => this.reload() } },
      option("", "", "events.all_types"), ...EVENT_TYPES.map((type) => option(type, "", `event.${type}`)));
    this.unacked = el("input", { type: "checkbox", id: "events-unacked", on: { change: () => this.reload() } });
    this.liveState = el("span", { class: "live-indicator", id: "events-live", dataset: { state: "connecting" },
                                  i18n: "events.connecting" });
    this.list = el("ul", { class: "event-list", id: "event-list" });
    this.empty = el("p", { class: "hint", i18n: "events.none", hidden: true });
    section.append(
      el("div", { class: "toolbar" },
        el("label", { class: "inline" }, el("span", { i18n: "events.camera" }), this.camera),
        el("label", { class: "inline" }, el("span", { i18n: "events.zone" }), this.zone),
        el("label", { class: "inline" }, el("span", { i18n: "events.type" }), this.type),
        el("label", { class: "inline" }, el("span", { i18n: "events.since" }), this.since),
        el("label", { class: "inline" }, el("span", { i18n: "events.until_field" }), this.until),
        el("label", { class: "inline check" }, this.unacked, el("span", { i18n: "events.unacknowledged_only" })),
        el("span", { class: "grow" }),
        this.liveState),
      this.list,
      this.empty,
    );
    store.subscribe(() => this.onCameras());
    this.connect();
    this.reload();
  },

  show() {
    this.active = true;
    this.zonesOf.clear(); // zones may have been edited since the last visit
    this.loadZones();
  },

  hide() {
    this.active = false;
  },

  onCameras() {
    syncOptions(this.camera, [["", "", "events.all_cameras"], ...store.cameras.map((c) => [c.id, c.name || c.id])]);
    if (this.active) this.loadZones();
    for (const row of this.list.children) {
      const name = row.querySelector(".event-camera");
      if (name) name.textContent = store.name(row.dataset.camera);
    }
  },

  /** The zone list offers the detection zones of the chosen camera, or of every camera shown. */
  async loadZones() {
    const cameras = this.camera.value ? [this.camera.value] : store.cameras.map((c) => c.id);
    // One camera chosen, then all cameras: only the zones of the newest choice may be offered.
    const asked = (this.zonesAsked = (this.zonesAsked || 0) + 1);
    const lists = await Promise.all(cameras.map((id) => this.zonesOfCamera(id)));
    if (asked !== this.zonesAsked) return;
    const zones = [...new Set(lists.flat())].sort();
    // A zone chosen before stays offered (its events may be older than the zone's last edit).
    if (this.zone.value && !zones.includes(this.zone.value)) zones.push(this.zone.value);
    syncOptions(this.zone, [["", "", "events.all_zones"], ...zones.map((z) => [z, z])]);
  },

  zonesOfCamera(cameraId) {
    if (!this.zonesOf.has(cameraId)) {
      this.zonesOf.set(cameraId, api(`/api/cameras/${encodeURIComponent(cameraId)}/detection`)
        .then((d) => (d.config?.zones || []).map((z) => z.id), () => []));
    }
    return this.zonesOf.get(cameraId);
  },

  /** The filters as query values; null when a typed time is not one (said so next to it). */
  filters() {
    const today = zoneDay(Date.now()); // a bare HH:mm means today
    const range = [];
    for (const input of [this.since, this.until]) {
      const ms = readField(input, { day: today });
      if (Number.isNaN(ms)) {
        notify(t("field.bad_stamp", { text: input.value }), "error");
        return null;
      }
      range.push(ms);
    }
    const [since, until] = range;
    if (since !== null && until !== null && until < since) {  // the server would answer an empty list
      notify(t("field.end_before_start"), "error");
      this.until.focus();
      return null;
    }
    return { camera: this.camera.value, zone: this.zone.value, type: this.type.value,
             since: since === null ? "" : iso(since), until: until === null ? "" : iso(until),
             unacknowledged: this.unacked.checked };
  },

  matches(event) {
    const f = this.applied;
    if (!f) return false;
    return (!f.camera || event.camera_id === f.camera) && (!f.type || event.type === f.type)
      && (!f.zone || event.zone === f.zone)
      && (!f.since || !event.end || Date.parse(event.end) >= Date.parse(f.since))
      && (!f.until || Date.parse(event.start) <= Date.parse(f.until))
      && (!f.unacknowledged || !event.acknowledged_by);
  },

  async reload() {
    const f = this.filters();
    if (!f) return;
    this.applied = f; // what the list shows; live events are held to the same filters
    // Filters changed twice in a row: answers may come back in either order, and only the
    // answer to the newest filters may fill the list (an older one showed the wrong events).
    const asked = (this.asked = (this.asked || 0) + 1);
    const heard = (this.heard = []);
    try {
      const found = await api("/api/events" + query({ ...f, limit: LIMIT }));
      if (asked !== this.asked) return;
      this.heard = null;
      this.items = new Map(found.map((event) => [event.id, event]));
      this.render();
      // What the stream said while the answer was on its way may be newer than the answer (an
      // event raised or acknowledged meanwhile was lost from the list): applied again on top.
      for (const event of heard) this.upsert(event);
    } catch (error) {
      if (asked !== this.asked) return;
      this.heard = null;
      notify(error.message, "error");
    }
  },

  connect() {
    if (this.source) this.source.close();
    const source = (this.source = new EventSource("/api/events/stream"));
    let opened = false;
    source.onopen = () => {
      this.setLive("live");
      if (opened) this.reload(); // reconnected: fetch what was missed
      opened = true;
    };
    source.onerror = () => this.setLive("connecting");
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.heard?.push(event); // a list is being asked for: see reload()
      this.upsert(event);
    };
  },

  disconnect() {
    if (this.source) this.source.close();
    this.source = null;
  },

  setLive(state) {
    this.liveState.dataset.state = state;
    translate(this.liveState, state === "live" ? "events.live" : "events.connecting");
  },

  upsert(event) {
    const known = this.items.get(event.id);
    const merged = { ...(known || {}), ...event };
    // An event ends once and is acknowledged once: a message written before that (the answer
    // to an acknowledgement crossing the stream's "end", or the reverse) never takes it back.
    for (const key of ["end", "acknowledged_by", "acknowledged_at"]) {
      if (known?.[key] && !merged[key]) merged[key] = known[key];
    }
    if (!this.matches(merged)) {
      if (known) {
        this.items.delete(event.id);
        this.list.querySelector(`[data-id="${Number(event.id)}"]`)?.remove();
      }
      this.updateBadge();
      return;
    }
    this.items.set(event.id, merged);
    const row = this.row(merged);
    const old = this.list.querySelector(`[data-id="${Number(event.id)}"]`);
    if (old) old.replaceWith(row);
    else this.list.prepend(row);
    // A long shift keeps the newest events on screen, not every event since the page opened.
    while (this.list.children.length > LIMIT) {
      const last = this.list.lastElementChild;
      this.items.delete(Number(last.dataset.id));
      last.remove();
    }
    this.empty.hidden = true;
    this.updateBadge();
  },

  render() {
    const sorted = [...this.items.values()].sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
    clear(this.list).append(...sorted.map((event) => this.row(event)));
    this.empty.hidden = sorted.length > 0;
    this.updateBadge();
  },

  updateBadge() {
    const open = [...this.items.values()].filter((e) => !e.acknowledged_by).length;
    this.ctx.badge("events", open);
  },

  row(event) {
    const thumb = event.snapshot
      ? el("img", { class: "thumb", src: event.snapshot, alt: "", loading: "lazy" })
      : el("div", { class: "thumb placeholder", dataset: { type: event.type } });
    const ack = event.acknowledged_by
      ? el("span", { class: "acked", i18n: "events.acknowledged_by",
                     vars: { user: event.acknowledged_by, time: fmtTime(event.acknowledged_at, { date: false }) } })
      : store.can("event.ack")
        ? el("button", { type: "button", class: "ack", i18n: "events.acknowledge",
                         on: { click: (e) => { e.stopPropagation(); this.acknowledge(event.id, e.currentTarget); } } })
        : el("span", { class: "unacked", i18n: "events.not_acknowledged" });
    const playable = store.can("playback");
    return el("li", {
      class: "event", tabIndex: 0,
      dataset: { id: String(event.id), camera: event.camera_id, type: event.type,
                 acknowledged: event.acknowledged_by ? "yes" : "no", phase: event.end ? "ended" : "ongoing" },
      on: {
        click: () => playable && this.play(event),
        keydown: (e) => { if (e.key === "Enter" && playable) this.play(event); },
      },
    },
    thumb,
    el("div", { class: "event-body" },
      el("div", { class: "event-title" },
        el("strong", { class: "event-type", i18n: `event.${event.type}` }),
        el("span", { class: "event-camera", text: store.name(event.camera_id) }),
        event.zone ? el("span", { class: "event-zone", text: event.zone }) : null),
      el("div", { class: "event-time" },
        el("span", { text: fmtTime(event.start) }),
        event.end
          ? el("span", { class: "muted", i18n: "events.until", vars: { time: fmtTime(event.end, { date: false }) } })
          : el("span", { class: "ongoing", i18n: "events.ongoing" }),
        playable ? el("span", { class: "muted link", i18n: "events.open_playback" }) : null)),
    el("div", { class: "event-ack" }, ack));
  },

  async acknowledge(id, button) {
    if (button) button.disabled = true;
    try {
      this.upsert(await api(`/api/events/${Number(id)}/ack`, { method: "POST" }));
    } catch (error) {
      if (button) button.disabled = false;
      notify(error.message, "error");
    }
  },

  play(event) {
    // The clip starts a little before the event (pre-event seconds); play from there.
    const at = event.clip?.start || event.start;
    this.ctx.go("playback", { camera: event.camera_id, t: at, event: String(event.id) });
  },
};
