// Bookmarks: search them (words in title or note, camera, a typed time range) on every camera you
// may play back (GET /api/bookmarks); a row opens playback at its moment (a range arrives marked);
// "add to case" puts it in a case (POST /api/cases/{id}/bookmarks). Bookmarks are made on the
// playback screen.

import { api, query } from "./api.js";
import { clear, el, fmtTime, iso, notify, syncOptions } from "./dom.js";
import { dateTimeField, readField } from "./datetime-field.js";
import { t } from "./i18n.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

export const bookmarksScreen = {
  items: [],
  searches: new Turns(),
  caseLists: new Turns(),

  init(section, ctx) {
    this.ctx = ctx;
    this.text = el("input", { id: "bm-q", type: "search", maxLength: 200, placeholder: "bookmarks.search_hint" });
    this.camera = el("select", { id: "bm-camera", on: { change: () => this.reload() } });
    this.since = dateTimeField({ id: "bm-since" });
    this.until = dateTimeField({ id: "bm-until" });
    this.caseSelect = el("select", { id: "bm-case" });
    this.caseLabel = el("label", { class: "inline" }, el("span", { i18n: "bookmarks.case" }), this.caseSelect);
    this.body = el("tbody", { id: "bm-rows" });
    this.empty = el("p", { class: "hint", id: "bm-empty", i18n: "bookmarks.none", hidden: true });
    section.append(
      el("form", { class: "toolbar", id: "bm-form", on: { submit: (e) => { e.preventDefault(); this.reload(); } } },
        this.text,
        el("label", { class: "inline" }, el("span", { i18n: "bookmarks.camera" }), this.camera),
        el("label", { class: "inline" }, el("span", { i18n: "bookmarks.since" }), this.since),
        el("label", { class: "inline" }, el("span", { i18n: "bookmarks.until" }), this.until),
        el("button", { type: "submit", class: "primary", id: "bm-search", i18n: "bookmarks.search" }),
        el("span", { class: "grow" }),
        this.caseLabel),
      el("p", { class: "hint", i18n: "bookmarks.how" }),
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "bm-table" },
        el("thead", {}, el("tr", {}, ...["camera", "when", "title", "note", "by", "lock", "actions"]
          .map((key) => el("th", { i18n: key === "actions" ? null : `bookmarks.col.${key}` })))),
        this.body)),
      this.empty);
    store.subscribe(() => syncOptions(this.camera, [["", "", "bookmarks.all_cameras"],
      ...store.cameras.filter((c) => (c.capabilities || []).includes("playback")).map((c) => [c.id, c.name || c.id])]));
  },

  show(params = {}) {
    if (params.camera) this.camera.value = params.camera;
    this.caseLabel.hidden = !store.can("export");
    this.loadCases();
    this.reload();
  },

  hide() {},

  /** The search as typed; null (and the field marked) when a time is not one. */
  filters() {
    const since = readField(this.since);
    const until = readField(this.until);
    for (const [ms, input] of [[since, this.since], [until, this.until]]) {
      if (Number.isNaN(ms)) {
        notify(t("field.bad_stamp", { text: input.value }), "error");
        return null;
      }
    }
    return { q: this.text.value.trim(), camera_id: this.camera.value, start: since === null ? null : iso(since),
             end: until === null ? null : iso(until) };
  },

  async reload() {
    const filters = this.filters();
    if (!filters) return;
    // A camera chosen, then a search typed: only the newest search may fill the table (the
    // older answer drawn last showed bookmarks the shown filters leave out).
    const items = await this.searches.latest("/api/bookmarks" + query(filters));
    if (!items) return;
    this.items = items;
    this.render();
  },

  render() {
    const exporter = store.can("export");
    clear(this.body).append(...this.items.map((b) => el("tr", { class: "bookmark", dataset: { id: String(b.id) } },
      el("td", { text: store.name(b.camera_id) }),
      el("td", {}, el("button", { type: "button", class: "link bm-open", title: "bookmarks.open",
                                   text: `${fmtTime(b.start)}${b.end ? ` → ${fmtTime(b.end, { date: false })}` : ""}`,
                                   on: { click: () => this.open(b) } })),
      el("td", { text: b.title }),
      el("td", { text: b.note }),
      el("td", { text: b.created_by }),
      el("td", { i18n: b.lock_id ? "bookmarks.locked" : "bookmarks.not_locked" }),
      el("td", { class: "actions" },
        exporter ? el("button", { type: "button", class: "bm-add-to-case", i18n: "bookmarks.add_to_case",
                                  on: { click: () => this.addToCase(b) } }) : null))));
    this.empty.hidden = this.items.length > 0;
  },

  open(bookmark) {
    this.ctx.go("playback", { camera: bookmark.camera_id, t: bookmark.start, ...(bookmark.end ? { end: bookmark.end } : {}) });
  },

  async loadCases() {
    if (!store.can("export")) return;
    const current = this.caseLists.take(); // an older list would lack a case made since
    try {
      const cases = await api("/api/cases");
      if (!current()) return;
      syncOptions(this.caseSelect, cases.map((c) => [String(c.id), `${c.number} — ${c.title}`]));
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async addToCase(bookmark) {
    if (!this.caseSelect.value) {
      notify(t("bookmarks.case_needed"), "error");
      return;
    }
    try {
      await api(`/api/cases/${Number(this.caseSelect.value)}/bookmarks`, { method: "POST", body: { bookmark_id: bookmark.id } });
      notify(t("bookmarks.added_to_case", { title: bookmark.title }));
    } catch (error) {
      notify(error.message, "error");
    }
  },
};
