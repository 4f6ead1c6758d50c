// Users (admins): list, add, change role, disable/enable, unlock, set a new password, reset
// two-factor sign-in (lost phone), and the group grants that open camera groups to a user or a
// whole role (/api/users, /api/grants).

import { api } from "./api.js";
import { clear, confirmDialog, el, field, fmtTime, notify, option } from "./dom.js";
import { t } from "./i18n.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

export const ROLES = ["admin", "technician", "operator", "investigator"];
const GRANTABLE = ["live", "playback", "export", "event.ack"];

export const usersScreen = {
  users: [],
  grants: [],
  turns: new Turns(),

  init(section) {
    this.userBody = el("tbody", { id: "user-rows" });
    this.grantBody = el("tbody", { id: "grant-rows" });
    this.addForm = this.buildAddForm();
    this.grantForm = this.buildGrantForm();
    section.append(
      el("h2", { i18n: "users.title" }),
      this.addForm,
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "user-table" },
        el("thead", {}, el("tr", {}, ...["username", "display_name", "role", "state", "last_login", "actions"]
          .map((key) => el("th", { i18n: `users.col.${key}` })))),
        this.userBody)),
      el("h2", { i18n: "grants.title" }),
      el("p", { class: "hint", i18n: "grants.explain" }),
      this.grantForm,
      el("div", { class: "table-wrap" }, el("table", { class: "grid-table", id: "grant-table" },
        el("thead", {}, el("tr", {}, ...["subject", "group", "capabilities", "created_by", "actions"]
          .map((key) => el("th", { i18n: `grants.col.${key}` })))),
        this.grantBody)));
  },

  show() {
    this.reload();
  },

  hide() {},

  async reload() {
    // Every change reloads (a user added, a role changed, a grant removed): the list asked before
    // a change, answered last, showed the users without it (a new user gone from the table).
    const current = this.turns.take();
    let users;
    let grants;
    try {
      [users, grants] = await Promise.all([api("/api/users"), api("/api/grants")]);
    } catch (error) {
      if (current()) notify(error.message, "error");
      return;
    }
    if (!current()) return;
    this.users = users;
    this.grants = grants;
    this.render();
  },

  render() {
    // A redraw (after any change, to any user) keeps a new password being typed in a row, and
    // the focus in it: the rows are built again, but what was typed is the user's work.
    const typed = new Map();
    let focused = null;
    for (const input of this.userBody.querySelectorAll("input.new-password")) {
      const username = input.closest("tr").dataset.username;
      if (input.value) typed.set(username, input.value);
      if (input === document.activeElement) focused = username;
    }
    clear(this.userBody).append(...this.users.map((user) => this.userRow(user)));
    for (const input of this.userBody.querySelectorAll("input.new-password")) {
      const username = input.closest("tr").dataset.username;
      if (typed.has(username)) input.value = typed.get(username);
      if (username === focused) input.focus();
    }
    clear(this.grantBody).append(...this.grants.map((grant) => this.grantRow(grant)));
    const users = this.grantForm.user;
    const chosen = users.value;
    clear(users).append(...this.users.map((u) => option(u.username, u.username)));
    if (chosen) users.value = chosen;
    const groups = this.grantForm.group;
    const group = groups.value;
    clear(groups).append(...store.groups.map((g) => option(g.id, g.name || g.id)));
    if (group) groups.value = group;
  },

  userRow(user) {
    const me = user.username === store.me?.user?.username;
    const role = el("select", { class: "role", on: { change: () => this.change(user, { role: role.value }) } },
      ...ROLES.map((r) => option(r, "", `role.${r}`)));
    role.value = user.role;
    const locked = user.locked_until && Date.parse(user.locked_until) > Date.now();
    const stateKey = user.disabled ? "users.disabled" : locked ? "users.locked" : "users.active";
    const password = el("input", { type: "password", class: "new-password", autocomplete: "new-password",
                                   placeholder: "users.new_password", maxLength: 1024 });
    return el("tr", { dataset: { username: user.username, state: user.disabled ? "disabled" : "active" } },
      el("td", { class: "mono", text: user.username }),
      el("td", { text: user.display_name || "" }),
      el("td", {}, role),
      el("td", {}, el("span", { class: "badge", dataset: { state: user.disabled ? "error" : locked ? "offline" : "online" }, i18n: stateKey })),
      el("td", { text: user.last_login_at ? fmtTime(user.last_login_at) : "–" }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: user.disabled ? "enable" : "disable danger", disabled: me && !user.disabled,
                       i18n: user.disabled ? "users.enable" : "users.disable",
                       on: { click: () => this.toggleDisabled(user) } }),
        locked ? el("button", { type: "button", i18n: "users.unlock", on: { click: () => this.change(user, { unlock: true }) } }) : null,
        password,
        el("button", { type: "button", i18n: "users.set_password",
                       on: { click: () => this.setPassword(user, password.value) } }),
        el("button", { type: "button", class: "reset-two-factor", disabled: me, i18n: "users.reset_two_factor",
                       on: { click: () => this.resetTwoFactor(user) } })));
  },

  async resetTwoFactor(user) {
    if (!(await confirmDialog(t("users.confirm_reset_two_factor", { name: user.username })))) return;
    this.change(user, { reset_two_factor: true }, "users.two_factor_reset");
  },

  async toggleDisabled(user) {
    if (!user.disabled && !(await confirmDialog(t("users.confirm_disable", { name: user.username })))) return;
    this.change(user, { disabled: !user.disabled });
  },

  /** Set a new password; once taken, the field on screen now is emptied (the rows are redrawn
   * keeping what is typed, so the row the click came from may be gone). */
  async setPassword(user, password) {
    if (!password) return;
    if (!(await this.change(user, { password }, "users.password_set"))) return;
    const field = [...this.userBody.querySelectorAll("tr")].find((row) => row.dataset.username === user.username)
      ?.querySelector("input.new-password");
    if (field && field.value === password) field.value = "";
  },

  /** PATCH the user; true when the server took it. The list is reloaded either way. */
  async change(user, body, doneKey = "users.saved") {
    let done = false;
    try {
      await api(`/api/users/${encodeURIComponent(user.username)}`, { method: "PATCH", body });
      notify(t(doneKey, { name: user.username }));
      done = true;
    } catch (error) {
      notify(error.message, "error");
    }
    this.reload();
    return done;
  },

  buildAddForm() {
    const f = {
      username: el("input", { id: "user-username", type: "text", required: true, maxLength: 64, autocomplete: "off",
                              pattern: "[a-z0-9._\\-]{2,64}" }),
      display: el("input", { id: "user-display", type: "text", maxLength: 200 }),
      role: el("select", { id: "user-role" }, ...ROLES.map((r) => option(r, "", `role.${r}`))),
      password: el("input", { id: "user-password", type: "password", required: true, maxLength: 1024, autocomplete: "new-password" }),
      error: el("p", { class: "error-text", attrs: { role: "alert" } }),
    };
    f.role.value = "operator";
    const form = el("form", { class: "panel inline-form", id: "user-add-form",
                              on: { submit: async (e) => {
                                e.preventDefault();
                                f.error.textContent = "";
                                try {
                                  await api("/api/users", { method: "POST", body: { username: f.username.value.trim(),
                                    display_name: f.display.value.trim(), role: f.role.value, password: f.password.value } });
                                  notify(t("users.added", { name: f.username.value.trim() }));
                                  f.username.value = f.display.value = f.password.value = "";
                                  this.reload();
                                } catch (error) {
                                  f.error.textContent = error.message;
                                }
                              } } },
      el("strong", { i18n: "users.add" }),
      field("users.col.username", f.username), field("users.col.display_name", f.display),
      field("users.col.role", f.role), field("users.password", f.password),
      el("button", { type: "submit", class: "primary", i18n: "users.add_button" }), f.error);
    return form;
  },

  grantRow(grant) {
    const subject = grant.user ? grant.user : t("grants.every_role", { role: t(`role.${grant.role}`) });
    return el("tr", { dataset: { grant: String(grant.id) } },
      el("td", { text: subject }),
      el("td", { class: "grant-group", text: store.groupName(grant.group), dataset: { group: grant.group } }),
      el("td", { text: grant.capabilities.map((c) => t(`capability.${c}`)).join(", ") }),
      el("td", { text: grant.created_by || "" }),
      el("td", { class: "actions" }, el("button", { type: "button", class: "danger", i18n: "common.delete",
        on: { click: async () => {
          if (!(await confirmDialog(t("grants.confirm_delete")))) return;
          try {
            await api(`/api/grants/${Number(grant.id)}`, { method: "DELETE" });
          } catch (error) {
            notify(error.message, "error");
          }
          this.reload();
        } } })));
  },

  buildGrantForm() {
    const kind = el("select", { id: "grant-kind" }, option("user", "", "grants.to_user"), option("role", "", "grants.to_role"));
    const user = el("select", { id: "grant-user" });
    const role = el("select", { id: "grant-role", hidden: true }, ...ROLES.filter((r) => r !== "admin").map((r) => option(r, "", `role.${r}`)));
    const group = el("select", { id: "grant-group" });
    const boxes = GRANTABLE.map((c) => el("input", { type: "checkbox", value: c, checked: c === "live" }));
    const error = el("p", { class: "error-text", attrs: { role: "alert" } });
    kind.addEventListener("change", () => {
      user.hidden = kind.value !== "user";
      role.hidden = kind.value !== "role";
    });
    const form = el("form", { class: "panel inline-form", id: "grant-form", on: { submit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      const body = { group: group.value, capabilities: boxes.filter((b) => b.checked).map((b) => b.value) };
      if (kind.value === "user") body.user = user.value;
      else body.role = role.value;
      try {
        await api("/api/grants", { method: "POST", body });
        this.reload();
      } catch (err) {
        error.textContent = err.message;
      }
    } } },
    el("strong", { i18n: "grants.add" }), kind, user, role,
    el("label", { class: "inline" }, el("span", { i18n: "grants.col.group" }), group),
    ...boxes.map((box) => el("label", { class: "inline check" }, box, el("span", { i18n: `capability.${box.value}` }))),
    el("button", { type: "submit", class: "primary", i18n: "grants.add_button" }), error);
    form.user = user;
    form.group = group;
    return form;
  },
};
