// The alarm list docked beside the video wall (collapsible): priority, type, camera, zone, age and
// snapshot of each open alarm, its instruction (SOP), and take / show / close without leaving the
// wall. New alarms flash their camera's tiles and play the alarm sound (mutable per user).

import { alarmFeed } from "./alarms.js";
import { AlarmSound } from "./alarm-sound.js";
import { el, fill, fmtTime, notify } from "./dom.js";
import { t, translate } from "./i18n.js";
import { store } from "./store.js";

const OUTCOMES = ["real_incident", "false_alarm", "test"];

function age(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return minutes >= 60
    ? t("alarm.age_hours", { hours: Math.floor(minutes / 60), minutes: minutes % 60 })
    : t("alarm.age", { minutes, seconds: String(seconds % 60).padStart(2, "0") });
}

export const alarmDock = {
  shownAt: new Map(), // alarm id -> epoch ms it first appeared in the dock (for measurements)
  lastAction: null,

  init(section, ctx, wall) {
    this.ctx = ctx;
    this.wall = wall;
    this.sound = new AlarmSound(store.me?.user?.username);
    this.collapsedKey = `vms.alarm.dock.${store.me?.user?.username || ""}`;
    this.list = el("ol", { class: "alarm-list", id: "alarm-list" });
    this.empty = el("p", { class: "hint", id: "alarm-none", i18n: "alarm.none" });
    this.count = el("span", { class: "alarm-count", id: "alarm-count", text: "0" });
    this.live = el("span", { class: "live-indicator", id: "alarm-live", dataset: { state: "connecting" }, i18n: "events.connecting" });
    this.muteButton = el("button", { type: "button", id: "alarm-mute", on: { click: () => this.toggleMute() } });
    this.toggle = el("button", { type: "button", id: "alarm-dock-toggle", class: "dock-toggle", on: { click: () => this.collapse(!this.collapsed) } });
    this.root = el("aside", { class: "alarm-dock", id: "alarm-dock" },
      el("header", { class: "alarm-dock-head" },
        this.toggle,
        el("strong", { class: "dock-title", i18n: "alarm.title" }), this.count,
        el("span", { class: "grow" }), this.live, this.muteButton),
      el("div", { class: "alarm-dock-body" }, this.list, this.empty));
    section.append(this.root);
    this.dialog = this.buildCloseDialog();
    this.collapse(localStorage.getItem(this.collapsedKey) === "1");
    this.showMute();
    alarmFeed.subscribe((change) => this.onChange(change));
    section.addEventListener("vms:wallchange", () => this.flashTiles());
    window.addEventListener("vms:langchange", () => this.render());
    this.ticker = setInterval(() => this.tick(), 1000);
    window.vmsAlarms = {
      open: () => alarmFeed.open(),
      shownAt: (id) => this.shownAt.get(Number(id)) || null,
      sound: () => ({ plays: this.sound.plays, attempts: this.sound.attempts, muted: this.sound.muted, paused: this.sound.audio.paused,
                      played: this.sound.audio.played.length }),
      lastAction: () => this.lastAction,
    };
    this.render();
  },

  collapse(collapsed) {
    this.collapsed = collapsed;
    this.root.dataset.collapsed = collapsed ? "yes" : "no";
    translate(this.toggle, collapsed ? "alarm.expand" : "alarm.collapse");
    localStorage.setItem(this.collapsedKey, collapsed ? "1" : "0");
  },

  toggleMute() {
    this.sound.muted = !this.sound.muted;
    this.showMute();
  },

  showMute() {
    translate(this.muteButton, this.sound.muted ? "alarm.unmute" : "alarm.mute");
    this.muteButton.setAttribute("aria-pressed", String(this.sound.muted));
  },

  onChange({ phase, alarm, isNew }) {
    if (phase === "connection") {
      this.live.dataset.state = alarmFeed.state;
      translate(this.live, alarmFeed.state === "live" ? "events.live" : "events.connecting");
      return;
    }
    if (phase === "raised" && isNew) this.sound.play();
    const last = (alarm?.history || []).at(-1);
    if (phase === "taken" && last?.action === "take_over" && last.taken_from === store.me?.user?.username) {
      notify(t("alarm.taken_over_notice", { user: last.by, id: alarm.id }), "error"); // no longer yours
    }
    if (phase === "escalated" && (alarm.notify || []).includes(store.me?.user?.role)) {
      this.sound.play();
      notify(t("alarm.escalation_notice", this.vars(alarm)), "error");
    }
    this.render();
  },

  vars(alarm) {
    return { id: alarm.id, type: t(`event.${alarm.type}`), camera: store.name(alarm.camera_id),
             priority: t(`alarm.priority.${alarm.priority}`) };
  },

  render() {
    const open = alarmFeed.open();
    const rows = open.map((alarm) => this.row(alarm));
    fill(this.list, ...rows);
    const now = Date.now();
    for (const alarm of open) if (!this.shownAt.has(alarm.id)) this.shownAt.set(alarm.id, now);
    this.empty.hidden = open.length > 0;
    const untaken = open.filter((a) => a.state === "new").length;
    this.count.textContent = String(open.length);
    this.count.dataset.untaken = String(untaken);
    this.ctx.badge("wall", untaken);
    this.flashTiles();
  },

  tick() {
    const now = Date.now();
    this.list.querySelectorAll(".alarm-age").forEach((node) => {
      node.textContent = age(now - Number(node.dataset.since));
    });
  },

  /** Tiles (and the full-screen view) of cameras with an untaken alarm flash. */
  flashTiles() {
    const alerting = alarmFeed.alertingCameras();
    for (const tile of this.wall.tiles) tile.el.classList.toggle("alarm-flash", Boolean(tile.cameraId && alerting.has(tile.cameraId)));
    const fs = this.wall.fs;
    fs?.root.classList.toggle("alarm-flash", Boolean(fs.cameraId && alerting.has(fs.cameraId)));
  },

  row(alarm) {
    const mine = alarm.taken_by === store.me?.user?.username;
    const canHandle = store.can("event.ack");
    // Supervisors (alarms.supervisor_roles) may take over or close an alarm someone else took.
    const supervisor = Boolean(store.me?.alarm_supervisor);
    const thumb = alarm.snapshot
      ? el("img", { class: "alarm-thumb", src: alarm.snapshot, alt: "" })
      : el("div", { class: "alarm-thumb placeholder", dataset: { type: alarm.type } });
    const actions = el("div", { class: "alarm-actions" },
      canHandle && alarm.state === "new"
        ? el("button", { type: "button", class: "primary alarm-take", i18n: "alarm.take",
                         on: { click: () => this.take(alarm) } }) : null,
      canHandle && alarm.state === "in_progress" && !mine && supervisor
        ? el("button", { type: "button", class: "alarm-take-over", i18n: "alarm.take_over",
                         on: { click: () => this.take(alarm) } }) : null,
      el("button", { type: "button", class: "alarm-show", i18n: "alarm.show", on: { click: () => this.show(alarm) } }),
      canHandle && alarm.state === "in_progress" && (mine || supervisor)
        ? el("button", { type: "button", class: "alarm-close", i18n: "alarm.close", on: { click: () => this.askClose(alarm) } })
        : null);
    return el("li", {
      class: alarm.id === this.focused ? "alarm focused" : "alarm", dataset: { id: String(alarm.id), camera: alarm.camera_id, state: alarm.state, priority: alarm.priority,
                                 escalated: alarm.escalated_at ? "yes" : "no" },
    },
    thumb,
    el("div", { class: "alarm-body" },
      el("div", { class: "alarm-title" },
        el("span", { class: "alarm-priority", i18n: `alarm.priority.${alarm.priority}` }),
        el("strong", { class: "alarm-type", i18n: `event.${alarm.type}` }),
        alarm.escalated_at ? el("span", { class: "alarm-escalated", i18n: "alarm.escalated" }) : null),
      el("div", { class: "alarm-where" },
        el("span", { class: "alarm-camera", text: store.name(alarm.camera_id) }),
        alarm.zone ? el("span", { class: "alarm-zone", i18n: "alarm.zone", vars: { zone: alarm.zone } }) : null),
      el("div", { class: "alarm-when" },
        el("span", { class: "alarm-raised", text: fmtTime(alarm.raised_at, { date: false }) }),
        el("span", { class: "alarm-age", dataset: { since: String(Date.parse(alarm.raised_at)) },
                     text: age(Date.now() - Date.parse(alarm.raised_at)) })),
      alarm.state === "in_progress"
        ? el("div", { class: "alarm-taken", i18n: "alarm.taken_by", vars: { user: alarm.taken_by } }) : null,
      alarm.instruction
        ? el("p", { class: "alarm-instruction" }, el("span", { class: "muted", i18n: "alarm.instruction" }), " ",
             el("span", { class: "sop", text: alarm.instruction })) : null,
      actions));
  },

  /** Pick one alarm out in the list (from the map): expanded dock, scrolled to it, marked. */
  focus(id) {
    if (!this.list) return; // no dock for this user
    this.focused = Number(id);
    if (this.collapsed) this.collapse(false);
    this.render();
    this.list.querySelector(`.alarm[data-id="${this.focused}"]`)?.scrollIntoView({ block: "nearest" });
  },

  async take(alarm) {
    const clickedAt = performance.now();
    try {
      const taken = await alarmFeed.take(alarm.id);
      if (taken.wall_action) await this.applyWallAction(taken, taken.wall_action, clickedAt);
    } catch (error) {
      notify(error.message, "error");
    }
  },

  /** Show the alarm's camera: the rule's wall action, else full screen. */
  async show(alarm) {
    const clickedAt = performance.now();
    try {
      await this.applyWallAction(alarm, alarm.wall_action || { mode: "popup", tile: 0 }, clickedAt);
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async applyWallAction(alarm, action, clickedAt) {
    if (!this.wall.active) this.ctx.go("wall");
    let tile = null;
    if (action.mode === "tile") {
      tile = Math.min(action.tile, this.wall.size - 1);
      this.wall.closeFullscreen();
      this.wall.assign(tile, alarm.camera_id);
    } else {
      this.wall.fullscreen(alarm.camera_id);
    }
    this.lastAction = { alarm: alarm.id, camera: alarm.camera_id, mode: action.mode, tile, clickedAt };
    if (store.can("event.ack")) await alarmFeed.recordWallAction(alarm.id, { mode: action.mode, tile: tile ?? 0 });
  },

  buildCloseDialog() {
    // No "required": the browser would refuse in its own language; we say it in the operator's.
    const outcome = el("select", { id: "alarm-outcome" },
      el("option", { value: "", i18n: "alarm.choose_outcome" }),
      ...OUTCOMES.map((o) => el("option", { value: o, i18n: `alarm.outcome.${o}` })));
    const comment = el("textarea", { id: "alarm-comment", rows: 4, maxLength: 4000, placeholder: "alarm.comment_hint" });
    const error = el("p", { class: "error-text", id: "alarm-close-error", attrs: { role: "alert" } });
    const title = el("h2", { id: "alarm-close-title" });
    const form = el("form", { id: "alarm-close-form", on: { submit: (event) => this.submitClose(event) } },
      title,
      el("label", { class: "field" }, el("span", { i18n: "alarm.outcome" }), outcome),
      el("label", { class: "field" }, el("span", { i18n: "alarm.comment" }), comment),
      error,
      el("div", { class: "form-actions" },
        el("button", { type: "button", i18n: "common.cancel", on: { click: () => dialog.close() } }),
        el("button", { type: "submit", class: "primary", id: "alarm-close-submit", i18n: "alarm.close" })));
    const dialog = el("dialog", { id: "alarm-close-dialog" }, form);
    document.body.append(dialog);
    return { dialog, outcome, comment, error, title, alarm: null };
  },

  askClose(alarm) {
    const d = this.dialog;
    d.alarm = alarm;
    d.outcome.value = "";
    d.comment.value = "";
    d.error.textContent = "";
    translate(d.title, "alarm.close_title", { id: alarm.id, type: t(`event.${alarm.type}`) });
    d.dialog.showModal();
    d.outcome.focus();
  },

  async submitClose(event) {
    event.preventDefault();
    const d = this.dialog;
    if (!d.outcome.value) {
      translate(d.error, "alarm.outcome_needed");
      return;
    }
    if (!d.comment.value.trim()) {
      translate(d.error, "problem.alarm-comment-required");
      return;
    }
    try {
      await alarmFeed.close(d.alarm.id, d.outcome.value, d.comment.value);
      d.dialog.close();
    } catch (error) {
      d.error.textContent = error.message;
    }
  },
};
