// Building the page safely: text from users (camera names, event details, user names) only ever
// goes through textContent and attributes, never through HTML parsing.

import { t, translate } from "./i18n.js";

export const ZONE = "Asia/Ho_Chi_Minh"; // the command centre's clock, whatever the browser's zone

/**
 * el("button", {class: "x", i18n: "key", on: {click}}, child, "text", ...)
 * Props: class, text, i18n (+ vars), title (i18n key), placeholder (i18n key), dataset, attrs,
 * on (listeners); any other prop is set as a DOM property (type, value, disabled, href, src...).
 */
export function el(tag, props = {}, ...children) {
  const node = tag.includes(":")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.split(":")[1])
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = value;
    else if (key === "i18n") translate(node, value, props.vars);
    else if (key === "vars") continue;
    else if (key === "title") {
      node.dataset.i18nTitle = value;
      node.title = t(value);
      node.setAttribute("aria-label", node.title);
    } else if (key === "placeholder") {
      node.dataset.i18nPlaceholder = value;
      node.placeholder = t(value);
    } else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) node.setAttribute(name, String(v));
    else if (key === "on") for (const [name, fn] of Object.entries(value)) node.addEventListener(name, fn);
    else node[key] = value;
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** Replace a node's children, skipping null/false (the native append would print "null"). */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A labelled form field: <label><span>text</span>control</label>. */
export function field(labelKey, control) {
  return el("label", { class: "field" }, el("span", { i18n: labelKey }), control);
}

/**
 * Our words for a number field whose value the browser would refuse in its own language (put
 * noValidate on the form): "" when it is empty or within its min/max (and whole unless
 * step="any"), else "<label>: must be from <min> to <max>" in the current language.
 */
export function numberProblem(input, labelKey) {
  const text = input.value.trim();
  const label = t(labelKey);
  if (input.validity.badInput) return t("form.not_a_number", { field: label });
  if (text === "") return "";
  const value = Number(text);
  const min = input.min === "" ? -Infinity : Number(input.min);
  const max = input.max === "" ? Infinity : Number(input.max);
  if (!Number.isFinite(value)) return t("form.not_a_number", { field: label });
  if (value < min || value > max) return t("form.number_range", { field: label, min: input.min, max: input.max });
  if (input.step !== "any" && !Number.isInteger(value)) return t("form.whole_number", { field: label });
  return "";
}

export function option(value, text, i18nKey) {
  return el("option", i18nKey ? { value, i18n: i18nKey } : { value, text });
}

/**
 * Give a <select> these options ([value, text, i18nKey?]) keeping the choice; untouched when
 * they are the same as before, so a periodic refresh never closes a list someone has open.
 */
export function syncOptions(select, options) {
  const signature = JSON.stringify(options);
  if (select.dataset.options === signature) return;
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, text, key]) => option(value, text, key)));
  select.dataset.options = signature;
  select.value = options.some(([value]) => value === chosen) ? chosen : options[0]?.[0] ?? "";
}

// --- time -------------------------------------------------------------------------------

const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function zoneParts(ms) {
  const out = {};
  for (const p of parts.formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

/** Milliseconds the zone is ahead of UTC at instant `ms`. */
export function zoneOffset(ms) {
  const p = zoneParts(ms);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

function toMs(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" ? value : value instanceof Date ? value.getTime() : Date.parse(value);
}

/**
 * "dd/mm/yyyy HH:MM:SS" (24 h; ".mmm" with withMs) in the command centre's zone, whatever the
 * browser's locale: Vietnamese writing of dates, the same on every operator's screen.
 */
export function fmtTime(value, { withMs = false, date = true } = {}) {
  const raw = toMs(value);
  if (raw === null || Number.isNaN(raw)) return "–";
  // Whole milliseconds: a picture's time comes from currentTime (a float) and once showed as
  // "03:05:00.306.10205078125". Rounded before splitting, so 59.9996 s shows as the next second.
  const ms = Math.round(raw);
  const p = zoneParts(ms);
  let text = `${p.hour}:${p.minute}:${p.second}`;
  if (withMs) text += "." + String(((ms % 1000) + 1000) % 1000).padStart(3, "0");
  return date ? `${p.day}/${p.month}/${p.year} ${text}` : text;
}

/** "YYYY-MM-DD" of the zone's day at `ms`. */
export function zoneDay(value) {
  const p = zoneParts(toMs(value));
  return `${p.year}-${p.month}-${p.day}`;
}

/** Midnight of the zone's day "YYYY-MM-DD", as epoch ms. */
export function dayStart(day) {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  return guess - zoneOffset(guess);
}

/** Epoch ms of a zone-local "YYYY-MM-DD" + "HH:MM[:SS]". */
export function zoneTime(day, time) {
  const [h = 0, mi = 0, s = 0] = time.split(":").map(Number);
  return dayStart(day) + ((h * 60 + mi) * 60 + s) * 1000;
}

/**
 * Epoch ms of a command-centre time typed as "dd/mm/yyyy" or "dd/mm/yyyy HH:mm[:ss]" (24 h);
 * null for an empty text; NaN for one that is not such a time (31/02, 25:00...).
 */
export function parseStamp(text) {
  const value = (text || "").trim();
  if (!value) return null;
  const m = value.match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/);
  if (!m) return NaN;
  const [, d, mo, y, h = "0", mi = "0", sec = "0"] = m;
  const day = `${y}-${mo.padStart(2, "0")}-${d.padStart(2, "0")}`;
  const check = new Date(Date.UTC(+y, +mo - 1, +d));
  if (check.getUTCDate() !== +d || check.getUTCMonth() !== +mo - 1 || +h > 23 || +mi > 59 || +sec > 59) return NaN;
  return zoneTime(day, `${h}:${mi}:${sec}`);
}

export function iso(ms) {
  return new Date(ms).toISOString();
}

// --- numbers ------------------------------------------------------------------------------

export function fmtBytes(bytes) {
  if (!bytes) return "0 B";
  const units = ["B", "kB", "MB", "GB", "TB"];
  const i = Math.min(Math.floor(Math.log10(bytes) / 3), units.length - 1);
  return `${(bytes / 1000 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtBitrate(bps) {
  if (!bps) return "–";
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

// --- dialogs and notices --------------------------------------------------------------

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(message) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector(".message").textContent = message;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      resolve(dialog.returnValue === "yes");
    };
    dialog.returnValue = "";
    dialog.addEventListener("close", done);
    dialog.showModal();
  });
}

/** A short message in the status bar (screen readers hear it too). */
export function notify(message, kind = "info") {
  const bar = document.getElementById("notice");
  if (!bar) return;
  bar.textContent = message;
  bar.dataset.kind = kind;
  bar.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { bar.hidden = true; }, kind === "error" ? 10000 : 4000);
}
