// The alarms the signed-in user sees, kept current over server-sent events (/api/alarms/stream),
// and the actions on them (take, close, wall action). Views (the dock beside the wall, the map)
// subscribe; this module draws nothing.

import { api, query } from "./api.js";
import { store } from "./store.js";

export const alarmFeed = {
  items: new Map(), // id -> alarm message
  listeners: new Set(),
  source: null,
  state: "connecting",

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
    const found = await api("/api/alarms" + query({ limit: 500 }));
    this.items = new Map(found.map((alarm) => [alarm.id, alarm]));
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
    const isNew = !this.items.has(alarm.id);
    this.items.set(alarm.id, alarm);
    this.emit({ phase, alarm, isNew });
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
