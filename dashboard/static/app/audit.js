// Audit log (admins): who did what and when, filtered, a page at a time, and the same
// selection as CSV (/api/audit, /api/audit.csv). Nothing here can change an entry.

import { api, query } from "./api.js";
import { clear, el, fmtTime, iso, notify, option } from "./dom.js";
import { dateTimeField, readField } from "./datetime-field.js";
import { t, translate } from "./i18n.js";
import { actionText, detailText } from "./audit-text.js";
import { Turns } from "./newest.js";

const PAGE = 100;
const FAMILIES = ["login.", "logout", "password.", "token.", "user.", "grant.", "camera.", "live.", "playback", "event.",
                  "export.", "alarm.", "alarm_rule.", "audit.export"];

export const auditScreen = {
  offset: 0,
  turns: new Turns(),

  init(section) {
    this.user = el("input", { id: "audit-user", type: "text", maxLength: 64, placeholder: "audit.user" });
    this.action = el("select", { id: "audit-action" }, option("", "", "audit.all_actions"),
      ...FAMILIES.map((a) => option(a, "", `audit.family.${a}`)));
    this.target = el("input", { id: "audit-target", type: "text", maxLength: 200, placeholder: "audit.target" });
    // The shared field, not datetime-local: the browser would show its own locale's format (mm/dd, AM/PM).
    this.since = dateTimeField({ id: "audit-since" });
    this.until = dateTimeField({ id: "audit-until" });
    this.csv = el("a", { class: "button", id: "audit-csv", href: "/api/audit.csv", download: "vms-audit.csv", i18n: "audit.csv" });
    this.body = el("tbody", { id: "audit-rows" });
    this.page = el("span", { class: "muted" });
    this.prev = el("button", { type: "button", i18n: "common.previous", on: { click: () => this.go(-1) } });
    this.next = el("button", { type: "button", i18n: "common.next", on: { click: () => this.go(1) } });
    const form = el("form", { class: "toolbar", on: { submit: (e) => { e.preventDefault(); this.offset = 0; this.reload(); } } },
      this.user, this.action, this.target,
      el("label", { class: "inline" }, el("span", { i18n: "audit.since" }), this.since),
      el("label", { class: "inline" }, el("span", { i18n: "audit.until" }), this.until),
      el("button", { type: "submit", class: "primary", i18n: "audit.filter" }),
      el("span", { class: "grow" }), this.csv);
    section.append(form,
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "audit-table" },
        el("thead", {}, el("tr", {}, ...["at", "user", "role", "action", "target", "detail", "client"]
          .map((key) => el("th", { i18n: `audit.col.${key}` })))),
        this.body)),
      el("div", { class: "toolbar" }, this.prev, this.page, this.next));
  },

  show() {
    this.reload();
  },

  hide() {},

  /** The filters, or null (with the reason shown) when a typed time is not one. */
  filters() {
    const times = {};
    for (const [key, input] of [["since", this.since], ["until", this.until]]) {
      const ms = readField(input); // the command centre's local time
      if (Number.isNaN(ms)) {
        notify(t("audit.bad_stamp", { text: input.value }), "error");
        input.focus();
        return null;
      }
      times[key] = ms === null ? "" : iso(ms);
    }
    if (times.since && times.until && Date.parse(times.until) < Date.parse(times.since)) {  // else an empty list, unexplained
      notify(t("field.end_before_start"), "error");
      this.until.focus();
      return null;
    }
    return { user: this.user.value.trim(), action: this.action.value, target: this.target.value.trim(), ...times };
  },

  go(direction) {
    this.offset = Math.max(0, this.offset + direction * PAGE);
    this.reload();
  },

  async reload() {
    const filters = this.filters();
    if (!filters) return;
    this.csv.href = "/api/audit.csv" + query(filters);
    // Filter, next, next again: only the page asked last may fill the table (an older answer
    // drawn last showed another page, or entries the filters leave out, under the new filters).
    const current = this.turns.take();
    const offset = this.offset;
    try {
      const entries = await api("/api/audit" + query({ ...filters, limit: PAGE, offset }));
      if (!current()) return;
      clear(this.body).append(...entries.map((entry) => el("tr", { dataset: { action: entry.action } },
        el("td", { text: fmtTime(entry.at) }),
        el("td", { class: "mono", text: entry.username }),
        el("td", { text: entry.role ? t(`role.${entry.role}`) : "" }),
        el("td", { class: "audit-action", text: actionText(entry.action), dataset: { code: entry.action } }),
        el("td", { text: entry.target || "" }),
        el("td", { class: "audit-detail", text: detailText(entry.detail) }),
        el("td", { class: "mono", text: entry.client_ip || "" }))));
      translate(this.page, "audit.page", { from: entries.length ? offset + 1 : 0, to: offset + entries.length });
      this.prev.disabled = offset === 0;
      this.next.disabled = entries.length < PAGE;
    } catch (error) {
      if (current()) notify(error.message, "error");
    }
  },
};
