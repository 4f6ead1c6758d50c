// Alarm rules (admins): which events become alarms, with what priority, instruction (SOP),
// escalation time limit and wall action. Rules from the configuration file are shown read-only.

import { api } from "./api.js";
import { confirmDialog, el, field, fill, fmtTime, notify, numberProblem, option } from "./dom.js";
import { EVENT_TYPES } from "./events.js";
import { t } from "./i18n.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

const PRIORITIES = ["low", "medium", "high", "critical"];

export const alarmRulesScreen = {
  rules: [],
  turns: new Turns(),

  init(section) {
    this.body = el("tbody", { id: "rule-rows" });
    this.form = this.buildForm();
    section.append(
      el("h2", { i18n: "rules.title" }),
      el("p", { class: "hint", i18n: "rules.explain" }),
      this.form.root,
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "rule-table" },
        el("thead", {}, el("tr", {}, ...["id", "match", "priority", "instruction", "escalate", "wall_action", "source", "actions"]
          .map((key) => el("th", { i18n: `rules.col.${key}` })))),
        this.body)));
  },

  show() {
    this.reload();
  },

  hide() {},

  async reload() {
    // Opening the screen and saving a rule each reload: the list asked before the save, answered
    // last, showed the rules without the one just saved.
    const rules = await this.turns.latest("/api/alarm-rules");
    if (!rules) return;
    this.rules = rules;
    this.fillGroups();
    fill(this.body, ...this.rules.map((rule) => this.row(rule)));
  },

  buildForm() {
    const f = {};
    // Checked by the server, not by "required"/"pattern": the browser would refuse in its own language.
    f.id = el("input", { id: "rule-id", maxLength: 64, placeholder: "rules.id_hint" });
    f.name = el("input", { id: "rule-name", maxLength: 200 });
    f.types = el("select", { id: "rule-types", multiple: true, size: 6 },
      ...EVENT_TYPES.filter((type) => type !== "camera_online").map((type) => option(type, "", `event.${type}`)));
    f.groups = el("select", { id: "rule-groups", multiple: true, size: 6 });
    f.priority = el("select", { id: "rule-priority" }, ...PRIORITIES.map((p) => option(p, "", `alarm.priority.${p}`)));
    f.instruction = el("textarea", { id: "rule-instruction", rows: 3, maxLength: 4000, placeholder: "rules.instruction_hint" });
    f.escalate = el("input", { id: "rule-escalate", type: "number", min: 1, max: 86400, value: 120 });
    f.action = el("select", { id: "rule-action" },
      option("", "", "rules.action.none"), option("tile", "", "rules.action.tile"), option("popup", "", "rules.action.popup"));
    f.tile = el("input", { id: "rule-tile", type: "number", min: 1, max: 16, value: 1 });
    f.enabled = el("input", { id: "rule-enabled", type: "checkbox", checked: true });
    // noValidate: the number fields are checked by us (numberProblem), in the operator's language.
    f.root = el("form", { class: "panel camera-form", id: "rule-form", noValidate: true, on: { submit: (event) => this.save(event) } },
      el("div", { class: "form-grid" },
        field("rules.id", f.id), field("rules.name", f.name),
        field("rules.types", f.types), field("rules.groups", f.groups),
        field("rules.priority", f.priority), field("rules.escalate_after", f.escalate),
        field("rules.wall_action", f.action), field("rules.tile", f.tile),
        el("label", { class: "field check" }, f.enabled, el("span", { i18n: "rules.enabled" }))),
      field("rules.instruction", f.instruction),
      el("p", { class: "hint", i18n: "rules.empty_means_all" }),
      el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary", id: "rule-save", i18n: "common.save" })));
    return f;
  },

  fillGroups() {
    const chosen = new Set([...this.form.groups.selectedOptions].map((o) => o.value));
    fill(this.form.groups, ...store.groups.map((g) => {
      const o = option(g.id, g.name || g.id);
      o.selected = chosen.has(g.id);
      return o;
    }));
  },

  row(rule) {
    const match = [
      rule.event_types.length ? rule.event_types.map((type) => t(`event.${type}`)).join(", ") : t("rules.any_type"),
      rule.groups.length ? rule.groups.map((g) => store.groupName(g)).join(", ") : t("rules.any_group"),
    ].join(" · ");
    const action = !rule.wall_action ? t("rules.action.none")
      : rule.wall_action.mode === "popup" ? t("rules.action.popup")
        : t("rules.action.tile_n", { tile: rule.wall_action.tile + 1 });
    const editable = rule.source === "api";
    return el("tr", { dataset: { rule: rule.id, source: rule.source, enabled: String(rule.enabled) } },
      el("td", {}, el("div", { class: "mono", text: rule.id }), el("div", { class: "muted", text: rule.name })),
      el("td", { text: match }),
      el("td", { i18n: `alarm.priority.${rule.priority}` }),
      el("td", { class: "sop", text: rule.instruction }),
      el("td", { text: rule.escalate_after_seconds ? t("rules.after_seconds", { seconds: rule.escalate_after_seconds }) : t("rules.never") }),
      el("td", { text: action }),
      el("td", {}, el("span", { i18n: `rules.source.${rule.source}` }),
        el("div", { class: "muted",  // a YAML rule's "updated_by" is the word "config": its source column says it
                     text: rule.source === "config" ? fmtTime(rule.updated_at) : `${rule.updated_by} · ${fmtTime(rule.updated_at)}` })),
      el("td", { class: "actions" }, editable ? [
        el("button", { type: "button", class: "edit", i18n: "common.edit", on: { click: () => this.edit(rule) } }),
        el("button", { type: "button", class: "danger remove", i18n: "common.delete", on: { click: () => this.remove(rule) } }),
      ] : el("span", { class: "muted", i18n: "rules.read_only" })));
  },

  edit(rule) {
    const f = this.form;
    f.id.value = rule.id;
    f.name.value = rule.name;
    [...f.types.options].forEach((o) => { o.selected = rule.event_types.includes(o.value); });
    [...f.groups.options].forEach((o) => { o.selected = rule.groups.includes(o.value); });
    f.priority.value = rule.priority;
    f.instruction.value = rule.instruction;
    f.escalate.value = rule.escalate_after_seconds ?? "";
    f.action.value = rule.wall_action?.mode || "";
    f.tile.value = (rule.wall_action?.tile ?? 0) + 1;
    f.enabled.checked = rule.enabled;
    f.id.focus();
  },

  async save(event) {
    event.preventDefault();
    const f = this.form;
    const id = f.id.value.trim();
    const checks = [[f.escalate, "rules.escalate_after"], ...(f.action.value === "tile" ? [[f.tile, "rules.tile"]] : [])];
    for (const [input, label] of checks) {
      const problem = numberProblem(input, label);
      if (problem) {
        notify(problem, "error");
        input.focus();
        return;
      }
    }
    const body = {
      id, name: f.name.value.trim(),
      event_types: [...f.types.selectedOptions].map((o) => o.value),
      groups: [...f.groups.selectedOptions].map((o) => o.value),
      priority: f.priority.value, instruction: f.instruction.value.trim(),
      escalate_after_seconds: f.escalate.value ? Number(f.escalate.value) : null,
      wall_action: f.action.value ? { mode: f.action.value, tile: Math.max(0, Number(f.tile.value || 1) - 1) } : null,
      enabled: f.enabled.checked,
    };
    try {
      await api(`/api/alarm-rules/${encodeURIComponent(id)}`, { method: "PUT", body });
      notify(t("rules.saved", { id }));
      await this.reload();
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async remove(rule) {
    if (!(await confirmDialog(t("rules.confirm_delete", { id: rule.id })))) return;
    try {
      await api(`/api/alarm-rules/${encodeURIComponent(rule.id)}`, { method: "DELETE" });
      await this.reload();
    } catch (error) {
      notify(error.message, "error");
    }
  },
};
