// What several screens share: the signed-in user, and the cameras (with health) and groups they
// may see, refreshed every few seconds while signed in. Screens subscribe to changes.

import { api } from "./api.js";
import { has, t } from "./i18n.js";
import { Turns } from "./newest.js";

const REFRESH_MS = 4000;

export const store = {
  me: null,
  cameras: [],
  groups: [],
  error: null,
  listeners: new Set(),
  timer: null,
  turns: new Turns(),
  asking: 0, // refreshes on their way

  can(capability) {
    return Boolean(this.me?.capabilities?.includes(capability));
  },

  camera(id) {
    return this.cameras.find((c) => c.id === id) || null;
  },

  /** The camera's name, or its id when it has none (or is unknown). */
  name(id) {
    const camera = this.camera(id);
    return camera?.name || id;
  },

  groupName(id) {
    return this.groups.find((g) => g.id === id)?.name || id;
  },

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },

  async refresh() {
    // The 4-second refresh and one after a change (a camera added, disabled) can cross: an
    // answer asked before the change, drawn last, took the new camera off every screen until
    // the next tick.
    const current = this.turns.take();
    this.asking += 1;
    let cameras;
    let groups;
    try {
      [cameras, groups] = await Promise.all([api("/api/cameras"), api("/api/groups")]);
    } catch (error) {
      if (current()) this.error = error;
    } finally {
      this.asking -= 1;
    }
    if (!current()) return;
    if (cameras) {
      this.cameras = cameras;
      this.groups = groups;
      this.error = null;
    }
    this.notify();
  },

  notify() {
    for (const fn of this.listeners) {
      try {
        fn(this);
      } catch (error) {
        console.error("camera listener failed", error);
      }
    }
  },

  start() {
    this.stop();
    // A tick while an answer is still on its way waits for it: on a slow link each tick would
    // otherwise make the answer before it stale, and none would ever be drawn.
    this.timer = setInterval(() => { if (!this.asking) this.refresh(); }, REFRESH_MS);
    return this.refresh();
  },

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  },
};

/** The state of a camera as one word: online, connecting, offline, error, disabled or unknown. */
export function cameraState(camera) {
  if (!camera) return "unknown";
  if (camera.enabled === false) return "disabled";
  const streams = Object.values(camera.status || {});
  if (!streams.length) return "unknown";
  const states = streams.map((s) => s.state);
  if (states.includes("error")) return "error";
  if (states.includes("offline")) return "offline";
  if (states.every((s) => s === "online")) return "online";
  if (states.includes("stopped")) return "offline";
  return "connecting";
}

/** A stream problem (code + parameters from the server) in the current language; the server's words otherwise. */
export function streamProblemText(code, params, fallback = "") {
  return code && has(`stream.${code}`) ? t(`stream.${code}`, params || {}) : fallback || "";
}

/** The reason a camera is down, in the operator's language. */
export function cameraProblem(camera) {
  for (const status of Object.values(camera?.status || {})) {
    if (status.error) return streamProblemText(status.error_code, status.error_params, status.error);
  }
  return "";
}

export function hasSubStream(camera) {
  return Boolean(camera && (camera.status?.sub || camera.sub_url));
}
