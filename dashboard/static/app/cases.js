// Cases: clips of several cameras, bookmarks and notes under a case number; its chain of custody;
// one signed package to download (clips, manifest, signature, offline player). Clips and
// bookmarks are added from the playback screen (mark a range, "add to case").

import { api, failureText } from "./api.js";
import { clear, el, fmtTime, notify } from "./dom.js";
import { t } from "./i18n.js";
import { store } from "./store.js";
import { actionText } from "./audit-text.js";

const POLL_MS = 1000;

export const casesScreen = {
  cases: [],
  selected: null,
  opening: 0, // counts open() calls: only the newest one's answer is drawn
  listing: 0, // counts reload() calls: only the newest list is drawn

  init(section) {
    this.number = el("input", { id: "case-number", type: "text", maxLength: 64, placeholder: "cases.number" });
    this.title = el("input", { id: "case-title", type: "text", maxLength: 200, placeholder: "cases.title" });
    this.list = el("div", { class: "case-list", id: "case-list" });
    this.detail = el("div", { class: "case-detail", id: "case-detail" });
    section.append(
      el("form", { class: "toolbar", id: "case-form", on: { submit: (e) => { e.preventDefault(); this.create(); } } },
        this.number, this.title,
        el("button", { type: "submit", class: "primary", id: "case-create", i18n: "cases.create" })),
      el("div", { class: "case-layout" }, this.list, this.detail));
  },

  show(params = {}) {
    this.active = true;
    this.reload(params.id ? Number(params.id) : this.selected);
  },

  hide() {
    this.active = false;
    clearTimeout(this.timer);
  },

  async reload(selected = null) {
    // Opening the screen and making a case both reload: the list asked before the case was
    // made, answered last, hid the new case (and opened the case selected before).
    const listing = ++this.listing;
    try {
      const cases = await api("/api/cases");
      if (listing !== this.listing) return;
      this.cases = cases;
    } catch (error) {
      if (listing !== this.listing) return;
      notify(error.message, "error");
    }
    clear(this.list).append(...this.cases.map((item) => el("button", {
      type: "button", class: "case-item" + (item.id === selected ? " selected" : ""), dataset: { id: String(item.id) },
      on: { click: () => this.open(item.id) } },
    el("strong", { text: item.number }), el("span", { text: ` ${item.title}` }))));
    if (selected) await this.open(selected);
  },

  async open(caseId) {
    clearTimeout(this.timer);
    this.selected = caseId;
    const opening = ++this.opening;
    let found;
    let custody;
    try {
      [found, custody] = await Promise.all([api(`/api/cases/${caseId}`), api(`/api/cases/${caseId}/custody`)]);
    } catch (error) {
      if (opening === this.opening) notify(error.message, "error");
      return;
    }
    // Answers can come back out of order (a click, a finished package, a note): an older answer
    // drawn last would show a custody without the newest entry.
    if (opening !== this.opening) return;
    // Drawing the same case again keeps a note being typed (and its focus): it is the user's work.
    const typed = this.detail.dataset.caseId === String(caseId) ? this.detail.querySelector("#case-note") : null;
    const note = el("input", { id: "case-note", type: "text", maxLength: 10000, placeholder: "cases.note_hint" });
    if (typed) note.value = typed.value;
    const refocus = typed !== null && document.activeElement === typed;
    this.detail.dataset.caseId = String(caseId);
    const busy = found.exports.some((x) => x.state === "queued" || x.state === "running");
    clear(this.detail).append(
      el("h2", { text: `${found.number} — ${found.title}` }),
      el("ul", { class: "case-items" }, ...found.items.map((item) => el("li", { dataset: { kind: item.kind } },
        el("span", { class: "badge", i18n: `cases.kind.${item.kind}` }),
        item.camera_id ? el("span", { text: ` ${store.name(item.camera_id)} ` }) : null,
        item.start ? el("span", { text: `${fmtTime(item.start)}${item.end ? ` → ${fmtTime(item.end, { date: false })}` : ""} ` }) : null,
        el("span", { text: item.text })))),
      el("form", { class: "toolbar", on: { submit: (e) => { e.preventDefault(); this.addNote(caseId, note); } } },
        note, el("button", { type: "submit", i18n: "cases.add_note" })),
      el("div", { class: "toolbar" },
        el("button", { type: "button", class: "primary", id: "case-export", i18n: "cases.export", disabled: busy,
                       on: { click: () => this.exportCase(caseId) } })),
      el("ul", { class: "case-packages", id: "case-packages" }, ...found.exports.map((x) => el("li", { dataset: { state: x.state } },
        el("span", { i18n: `exports.state.${x.state}` }),
        el("span", { text: ` ${fmtTime(x.created_at)} · ${x.requested_by} ` }),
        x.package_url ? el("a", { class: "button case-download", href: x.package_url, download: "", i18n: "cases.download" }) : null,
        x.error ? el("span", { class: "error-text", text: failureText(x) }) : null))),
      el("h3", { i18n: "cases.custody" }),
      el("table", { class: "custody" }, ...custody.map((entry) => el("tr", {},
        el("td", { text: fmtTime(entry.at) }), el("td", { text: entry.username }),
        el("td", { class: "custody-action", text: actionText(entry.action), dataset: { code: entry.action } }),
        el("td", { text: entry.client_ip })))));
    if (refocus) note.focus();
    const running = found.exports.find((x) => x.state === "queued" || x.state === "running");
    if (running && this.active) this.timer = setTimeout(() => this.watch(caseId, running.id), POLL_MS);
  },

  /** Follow a package being made by its status alone (opening the case again would be a view in
   * the chain of custody every second). */
  async watch(caseId, packageId) {
    try {
      const status = await api(`/api/cases/${caseId}/exports/${packageId}`);
      if (status.state === "queued" || status.state === "running") {
        if (this.active && this.selected === caseId) this.timer = setTimeout(() => this.watch(caseId, packageId), POLL_MS);
        return;
      }
    } catch { /* show the case as it is */ }
    if (this.active && this.selected === caseId) await this.open(caseId);
  },

  async create() {
    try {
      const made = await api("/api/cases", { method: "POST", body: { number: this.number.value.trim(), title: this.title.value.trim() } });
      this.number.value = this.title.value = "";
      await this.reload(made.id);
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async addNote(caseId, input) {
    const text = input.value;
    if (!text.trim()) return;
    try {
      await api(`/api/cases/${caseId}/notes`, { method: "POST", body: { text } });
      // The note is kept: clear the field that is on screen now (the case may have been drawn again).
      const current = this.detail.querySelector("#case-note");
      if (current && current.value === text) current.value = "";
      await this.open(caseId);
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async exportCase(caseId) {
    try {
      await api(`/api/cases/${caseId}/exports`, { method: "POST" });
      notify(t("cases.export_queued"));
      await this.open(caseId);
    } catch (error) {
      notify(error.message, "error");
    }
  },
};
