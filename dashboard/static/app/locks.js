// Evidence locks: ranges of recording that retention must keep (GET/POST /api/evidence/locks).
// Lock a range by hand, widen one (extend: only wider), release one with a reason (the right
// evidence.release, admins; the API checks it again). Every change is audited by the server;
// a refusal is shown in the user's language.

import { api, query } from "./api.js";
import { clear, el, fmtTime, iso, notify, syncOptions } from "./dom.js";
import { dateTimeField, readField, writeField } from "./datetime-field.js";
import { t } from "./i18n.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

export const locksScreen = {
  items: [],
  editing: null, // {id, kind: "extend" | "release"}
  editorRow: null, // {id, kind, node}: the editor on screen, kept across redraws
  turns: new Turns(),

  init(section) {
    this.filter = el("select", { id: "lock-filter", on: { change: () => this.reload() } });
    this.camera = el("select", { id: "lock-camera" });
    this.start = dateTimeField({ id: "lock-start" });
    this.end = dateTimeField({ id: "lock-end" });
    this.reason = el("input", { id: "lock-reason", type: "text", maxLength: 2000, placeholder: "locks.reason_hint" });
    this.body = el("tbody", { id: "lock-rows" });
    this.empty = el("p", { class: "hint", id: "lock-empty", i18n: "locks.none", hidden: true });
    section.append(
      el("div", { class: "toolbar" },
        el("label", { class: "inline" }, el("span", { i18n: "locks.camera" }), this.filter),
        el("span", { class: "grow" }),
        el("button", { type: "button", i18n: "common.refresh", on: { click: () => this.reload() } })),
      el("form", { class: "export-panel", id: "lock-form", on: { submit: (e) => { e.preventDefault(); this.create(); } } },
        el("strong", { i18n: "locks.new" }), this.camera,
        el("label", { class: "inline" }, el("span", { i18n: "locks.from" }), this.start),
        el("label", { class: "inline" }, el("span", { i18n: "locks.to" }), this.end),
        this.reason,
        el("button", { type: "submit", class: "primary", id: "lock-create", i18n: "locks.create" })),
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "lock-table" },
        el("thead", {}, el("tr", {}, ...["camera", "from", "until", "reason", "by", "at", "actions"]
          .map((key) => el("th", { i18n: key === "actions" ? null : `locks.col.${key}` })))),
        this.body)),
      this.empty);
    store.subscribe(() => {
      const cameras = store.cameras.filter((c) => (c.capabilities || []).includes("export")).map((c) => [c.id, c.name || c.id]);
      syncOptions(this.filter, [["", "", "locks.all_cameras"], ...cameras]);
      syncOptions(this.camera, cameras);
    });
  },

  show() {
    this.reload();
  },

  hide() {},

  async reload() {
    // Opening the screen, a camera chosen, a lock made: only the newest list may be drawn (an
    // older one drawn last showed another camera's locks, or lacked the lock just made).
    const items = await this.turns.latest("/api/evidence/locks" + query({ camera_id: this.filter.value }));
    if (!items) return;
    this.items = items;
    this.render();
  },

  render() {
    const rows = [];
    for (const lock of this.items) {
      rows.push(el("tr", { class: "lock", dataset: { id: String(lock.id) } },
        el("td", { text: store.name(lock.camera_id) }),
        el("td", { text: fmtTime(lock.start) }),
        el("td", { class: "lock-until", text: fmtTime(lock.end) }),
        el("td", { text: lock.reason }),
        el("td", { text: lock.created_by }),
        el("td", { text: fmtTime(lock.created_at) }),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "lock-extend", i18n: "locks.extend", on: { click: () => this.edit(lock.id, "extend") } }),
          store.can("evidence.release")
            ? el("button", { type: "button", class: "lock-release danger", i18n: "locks.release",
                             on: { click: () => this.edit(lock.id, "release") } }) : null)));
      if (this.editing?.id === lock.id) rows.push(this.keptEditor(lock, this.editing.kind));
    }
    // A redraw (the list answered while a reason or a wider range was being typed) keeps the
    // editor row itself, so what was typed and where the cursor was stay: it is the user's work.
    const typing = this.editorRow?.node.contains(document.activeElement) ? document.activeElement : null;
    clear(this.body).append(...rows);
    if (typing?.isConnected) typing.focus();
    this.empty.hidden = this.items.length > 0;
  },

  edit(id, kind) {
    this.editing = this.editing?.id === id && this.editing.kind === kind ? null : { id, kind };
    this.editorRow = null; // opened again: a fresh editor
    this.render();
  },

  /** The editor row shown under this lock: the one on screen when it is for the same lock and kind. */
  keptEditor(lock, kind) {
    const kept = this.editorRow;
    if (kept && kept.id === lock.id && kept.kind === kind) return kept.node;
    this.editorRow = { id: lock.id, kind, node: this.editor(lock, kind) };
    return this.editorRow.node;
  },

  /** The lock as the list shows it now (it may have been changed since its editor was built). */
  latest(lock) {
    return this.items.find((item) => item.id === lock.id) || lock;
  },

  /** The row under a lock: a wider range to save, or the reason to release it. */
  editor(lock, kind) {
    if (kind === "release") {
      const why = el("input", { type: "text", class: "lock-why", maxLength: 2000, placeholder: "locks.release_hint" });
      return el("tr", { class: "lock-editor" }, el("td", { colSpan: 7 },
        el("form", { class: "toolbar", on: { submit: (e) => { e.preventDefault(); this.release(this.latest(lock), why.value); } } },
          why, el("button", { type: "submit", class: "danger lock-release-confirm", i18n: "locks.release" }))));
    }
    const start = dateTimeField({});
    const end = dateTimeField({});
    writeField(start, Date.parse(lock.start));
    writeField(end, Date.parse(lock.end));
    start.classList.add("lock-new-start");
    end.classList.add("lock-new-end");
    return el("tr", { class: "lock-editor" }, el("td", { colSpan: 7 },
      el("form", { class: "toolbar", on: { submit: (e) => { e.preventDefault(); this.extend(this.latest(lock), start, end); } } },
        el("span", { class: "hint", i18n: "locks.extend_hint" }),
        el("label", { class: "inline" }, el("span", { i18n: "locks.from" }), start),
        el("label", { class: "inline" }, el("span", { i18n: "locks.to" }), end),
        el("button", { type: "submit", class: "primary lock-extend-save", i18n: "common.save" }))));
  },

  /** Epoch ms of the fields, or null (said so) when one is empty or not a time. */
  typedRange(startInput, endInput) {
    const start = readField(startInput);
    const end = readField(endInput);
    if (start === null || end === null || Number.isNaN(start) || Number.isNaN(end)) {
      notify(t("locks.range_needed"), "error");
      return null;
    }
    return [start, end];
  },

  async create() {
    const range = this.typedRange(this.start, this.end);
    if (!range) return;
    const made = await this.send("/api/evidence/locks", { method: "POST", body: {
      camera_id: this.camera.value, start: iso(range[0]), end: iso(range[1]), reason: this.reason.value.trim() } }, "locks.created");
    if (made) {
      this.reason.value = "";
      writeField(this.start, null);
      writeField(this.end, null);
    }
  },

  async extend(lock, startInput, endInput) {
    const range = this.typedRange(startInput, endInput);
    if (!range) return;
    // Unchanged ends are sent as they are (the typed minute would cut off the lock's seconds).
    const same = (typed, stamp) => typed === Math.floor(Date.parse(stamp) / 1000) * 1000;
    const body = { start: same(range[0], lock.start) ? null : iso(range[0]), end: same(range[1], lock.end) ? null : iso(range[1]) };
    await this.send(`/api/evidence/locks/${lock.id}/extend`, { method: "POST", body }, "locks.extended");
  },

  async release(lock, why) {
    // The API refuses an empty reason too (400 reason-required), in the same words.
    await this.send(`/api/evidence/locks/${lock.id}` + query({ reason: why.trim() }), { method: "DELETE" }, "locks.released");
  },

  /** Send a change; true when the server took it (the list is then reloaded), false when refused (said why). */
  async send(path, options, doneKey) {
    try {
      await api(path, options);
    } catch (error) {
      notify(error.message, "error");
      return false;
    }
    notify(t(doneKey));
    this.editing = null;
    this.editorRow = null;
    await this.reload();
    return true;
  },
};
