// The operators' dashboard: sign-in, the menu of screens (shown by role), the address bar's
// #/screen?params routing, the user menu (password, sign out) and the language switch.

import { alarmDock } from "./alarm-dock.js";
import { alarmRulesScreen } from "./alarm-rules.js";
import { alarmFeed } from "./alarms.js";
import { api, setCsrf } from "./api.js";
import { auditScreen } from "./audit.js";
import { bookmarksScreen } from "./bookmarks.js";
import { camerasScreen } from "./cameras.js";
import { casesScreen } from "./cases.js";
import { el, notify } from "./dom.js";
import { events } from "./events.js";
import { exportsScreen } from "./exports.js";
import { initI18n, lang, setLang, t, translate } from "./i18n.js";
import { locksScreen } from "./locks.js";
import { mapScreen } from "./map.js";
import { playback } from "./playback.js";
import { store } from "./store.js";
import { sync } from "./sync.js";
import { askForCode, enrol, typedCode } from "./two_factor.js";
import { usersScreen } from "./users.js";
import { wall } from "./wall.js";

// Each screen and the capability that shows it in the menu (the API checks again on every call).
const SCREENS = [
  { id: "wall", module: wall, needs: "live" },
  { id: "events", module: events, needs: "event.view" },
  { id: "playback", module: playback, needs: "playback" },
  { id: "sync", module: sync, needs: "playback" },
  { id: "exports", module: exportsScreen, needs: "export" },
  { id: "bookmarks", module: bookmarksScreen, needs: "playback" },
  { id: "cases", module: casesScreen, needs: "export" },
  { id: "locks", module: locksScreen, needs: "export" },
  { id: "cameras", module: camerasScreen, needs: "camera.manage" },
  { id: "map", module: mapScreen, needs: "camera.view" },
  { id: "alarmrules", module: alarmRulesScreen, needs: "alarm.rules" },
  { id: "users", module: usersScreen, needs: "user.manage" },
  { id: "audit", module: auditScreen, needs: "audit.read" },
];
const SIGNED_OUT_FLAG = "vms.signedout";

let current = null;
let started = false;
const $ = (id) => document.getElementById(id);

const ctx = {
  go(screen, params = {}) {
    const search = new URLSearchParams(params).toString();
    const hash = `#/${screen}${search ? `?${search}` : ""}`;
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  badge(screen, count) {
    const badge = document.querySelector(`.nav-item[data-screen="${screen}"] .badge`);
    if (!badge) return;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = !count;
  },
};

function allowed() {
  return SCREENS.filter((screen) => store.can(screen.needs));
}

function parseHash() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { id: path, params: Object.fromEntries(new URLSearchParams(search)) };
}

function route() {
  if (!started) return;
  const screens = allowed();
  const { id, params } = parseHash();
  const screen = screens.find((s) => s.id === id) || screens[0];
  if (!screen) return;
  if (current && current !== screen) current.module.hide();
  for (const s of SCREENS) {
    const section = $(`screen-${s.id}`);
    section.hidden = s !== screen;
    document.querySelector(`.nav-item[data-screen="${s.id}"]`)?.setAttribute("aria-current", s === screen ? "page" : "false");
  }
  current = screen;
  document.body.dataset.screen = screen.id;
  screen.module.show(params);
}

function showLogin(messageKey) {
  $("shell").hidden = true;
  $("login").hidden = false;
  $("boot").hidden = true;
  const error = $("login-error");
  if (messageKey) translate(error, messageKey);
  $("login-username").focus();
}

async function enter(me) {
  if (me.csrf_token) setCsrf(me.csrf_token);
  if (me.two_factor?.enrolment_required) {
    await enrol(); // this session may do nothing else until two-factor sign-in is set up
    me = await api("/api/auth/me");
  }
  store.me = me;
  $("login").hidden = true;
  $("boot").hidden = true;
  $("shell").hidden = false;
  $("me-name").textContent = me.user.display_name || me.user.username;
  translate($("me-role"), `role.${me.user.role}`);
  await store.start();
  const nav = $("nav");
  nav.replaceChildren(...allowed().map((screen) =>
    el("button", { type: "button", class: "nav-item", dataset: { screen: screen.id }, on: { click: () => ctx.go(screen.id) } },
      el("span", { i18n: `nav.${screen.id}` }),
      el("span", { class: "badge", hidden: true }))));
  for (const screen of allowed()) screen.module.init($(`screen-${screen.id}`), ctx);
  // Alarms are handled on the wall: the dock lives beside it, fed for the whole session.
  if (store.can("live") && store.can("event.view")) alarmDock.init($("screen-wall"), ctx, wall);
  alarmFeed.start().catch((error) => notify(error.message, "error"));
  store.notify(); // the screens subscribed after the first load
  started = true;
  route();
}

async function signIn(event) {
  event.preventDefault();
  const button = $("login-submit");
  const error = $("login-error");
  error.textContent = "";
  delete error.dataset.i18n;
  button.disabled = true;
  try {
    const answer = await api("/api/auth/login", { method: "POST",
      body: { username: $("login-username").value.trim(), password: $("login-password").value, code: typedCode() } });
    setCsrf(answer.csrf_token);
    $("login-password").value = "";
    $("login-code").value = "";
    await enter(await api("/api/auth/me"));
  } catch (failure) {
    if (failure.slug === "second-factor-required") askForCode();
    error.textContent = failure.message;
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } catch { /* the session may already be gone */ }
  history.replaceState(null, "", "/");
  location.reload();
}

function setupPasswordDialog() {
  const dialog = $("password-dialog");
  const error = $("password-error");
  $("password-open").addEventListener("click", () => {
    $("password-form").reset();
    error.textContent = "";
    dialog.showModal();
  });
  $("password-cancel").addEventListener("click", () => dialog.close());
  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if ($("password-new").value !== $("password-repeat").value) {
      translate(error, "password.mismatch");
      return;
    }
    try {
      await api("/api/auth/password", { method: "POST",
        body: { old_password: $("password-old").value, new_password: $("password-new").value } });
      dialog.close();
      notify(t("password.changed"));
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
}

function setupLanguage() {
  const mark = () => document.querySelectorAll(".lang-button").forEach((button) =>
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang())));
  document.querySelectorAll(".lang-button").forEach((button) =>
    button.addEventListener("click", async () => {
      await setLang(button.dataset.lang);
      mark();
    }));
  mark();
}

async function boot() {
  await initI18n();
  setupLanguage();
  setupPasswordDialog();
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  window.addEventListener("vms:signedout", () => {
    if (!started) return;
    sessionStorage.setItem(SIGNED_OUT_FLAG, "1");
    location.reload(); // drop every screen's state with the session
  });
  window.addEventListener("pagehide", () => {
    current?.module.hide(); // ends live sessions (WHEP DELETE) and streams
    events.disconnect();
    alarmFeed.disconnect();
  });
  let me = null;
  try {
    // Answers 200 signed in or not: a signed-out page logs no 401 in the console.
    me = (await api("/api/auth/session")).me;
  } catch { /* the server is unreachable: show the sign-in form */ }
  if (me) {
    await enter(me);
  } else {
    const expired = sessionStorage.getItem(SIGNED_OUT_FLAG);
    sessionStorage.removeItem(SIGNED_OUT_FLAG);
    showLogin(expired ? "login.session_ended" : null);
  }
}

boot();
