// The alarms the signed-in user sees, kept current over server-sent events (/api/alarms/stream),
// and the actions on them (take, close, wall action). Views (the dock beside the wall, the map)
// subscribe; this module draws nothing.

import { api, query } from "./api.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

/** How far an alarm has gone: every change (take, wall action, escalation, close) adds a step
 * to its history, so of two messages about one alarm the one with more steps is the newer. */
function steps(alarm) {
  return alarm.history?.length ?? 0;
}

export const alarmFeed = {
  items: new Map(), // id -> alarm message
  listeners: new Set(),
  source: null,
  state: "connecting",
  turns: new Turns(),
  heard: null, // alarms heard over the stream while a list is being asked for (see reload)

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },

  emit(change) {
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (error) {
        console.error("alarm listener failed", error);
      }
    }
  },

  /** Open alarms, most urgent first: new before taken, then priority, then the oldest. */
  open() {
    const rank = { critical: 0, high: 1, medium: 2, low: 3 };
    return [...this.items.values()].filter((a) => a.state !== "closed").sort((a, b) =>
      (a.state === "new" ? 0 : 1) - (b.state === "new" ? 0 : 1)
      || rank[a.priority] - rank[b.priority]
      || Date.parse(a.raised_at) - Date.parse(b.raised_at));
  },

  /** Cameras with an untaken alarm (their tiles and map icons flash). */
  alertingCameras() {
    return new Set(this.open().filter((a) => a.state === "new").map((a) => a.camera_id));
  },

  async start() {
    if (!store.can("event.view")) return;
    this.connect();
    await this.reload();
  },

  async reload() {
    // The list and the stream cross: an alarm raised (or taken) between the request and its
    // answer came over the stream, then the older list replaced it and the dock lost it until
    // the next reconnection. What was heard meanwhile is kept when newer; only the newest list
    // counts (the first load and a reconnection's can cross too).
    const current = this.turns.take();
    const heard = (this.heard = new Map());
    let found;
    try {
      found = await api("/api/alarms" + query({ limit: 500 }));
    } finally {
      if (current()) this.heard = null;
    }
    if (!current()) return;
    const items = new Map(found.map((alarm) => [alarm.id, alarm]));
    for (const [id, alarm] of heard) {
      const listed = items.get(id);
      if (!listed || steps(alarm) >= steps(listed)) items.set(id, alarm);
    }
    this.items = items;
    this.emit({ phase: "reload" });
  },

  connect() {
    this.disconnect();
    const source = (this.source = new EventSource("/api/alarms/stream"));
    let opened = false;
    source.onopen = () => {
      this.state = "live";
      if (opened) this.reload().catch(() => {}); // reconnected: fetch what was missed
      opened = true;
      this.emit({ phase: "connection" });
    };
    source.onerror = () => {
      this.state = "connecting";
      this.emit({ phase: "connection" });
    };
    source.onmessage = (message) => {
      let alarm;
      try {
        alarm = JSON.parse(message.data);
      } catch {
        return;
      }
      this.upsert(alarm, alarm.phase);
    };
  },

  disconnect() {
    if (this.source) this.source.close();
    this.source = null;
  },

  upsert(alarm, phase) {
    const before = this.heard?.get(alarm.id);
    if (this.heard && (!before || steps(alarm) >= steps(before))) this.heard.set(alarm.id, alarm);
    const known = this.items.get(alarm.id);
    // The answer to "take" and the stream's message of a later step (another operator closed
    // it) can come in either order: an older state never replaces a newer one.
    if (known && steps(known) > steps(alarm)) return;
    this.items.set(alarm.id, alarm);
    this.emit({ phase, alarm, isNew: !known });
  },

  async take(id) {
    const alarm = await api(`/api/alarms/${Number(id)}/take`, { method: "POST" });
    this.upsert(alarm, "taken");
    return alarm;
  },

  async close(id, outcome, comment) {
    const alarm = await api(`/api/alarms/${Number(id)}/close`, { method: "POST", body: { outcome, comment } });
    this.upsert(alarm, "closed");
    return alarm;
  },

  async recordWallAction(id, action) {
    const alarm = await api(`/api/alarms/${Number(id)}/wall-action`, { method: "POST", body: action });
    this.upsert(alarm, "wall_action");
    return alarm;
  },
};
