// fetch() for the vms API: JSON in and out, the session's CSRF token on unsafe methods, and
// problem+json errors (RFC 9457) turned into plain words in the current language.

import { fmtTime } from "./dom.js";
import { has, lang, t } from "./i18n.js";

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

export function csrfHeaders() {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem;
    this.slug = String(problem.type || "").split("/").pop();
  }
}

/** A problem in plain words: our translation of its type when we have one, else the server's detail. */
export function problemText(status, problem = {}) {
  const slug = String(problem.type || "").split("/").pop();
  const params = {};
  for (const [key, value] of Object.entries(problem.params || {})) {
    params[key] = typeof value === "string" && ISO_TIME.test(value) ? fmtTime(value) : value; // our clock and format
    // Roles and rights by their names in our language (the server sends their codes).
    if ((key === "role" || key === "capability") && has(`${key}.${value}`)) params[key] = t(`${key}.${value}`);
  }
  // A problem with a reason code (a weak password: too short, too common...) says the reason in our words.
  const reasonKey = params.reason ? `problem.${slug}.${params.reason}` : null;
  const detail = reasonKey && has(reasonKey) ? t(reasonKey, params) : problem.detail || "";
  const retry = problem.retryAfter || "";
  // Field errors (the request's, or a camera's settings) are worded one by one from their codes.
  if ((slug === "invalid-request" || slug === "invalid-camera") && Array.isArray(problem.errors)) {
    return t(`problem.${slug}`, { detail: problem.errors.slice(0, 5).map(fieldError).join("; ") });
  }
  if (slug && has(`problem.${slug}`)) return t(`problem.${slug}`, { ...params, detail, retry });
  if (detail) return detail;
  if (status === 0) return t("problem.network");
  return t("problem.http", { status, title: problem.title || "" });
}

/** Why an export or case package failed, in our words when its code is known (older rows: the server's sentence). */
export function failureText(item) {
  const key = `exports.failure.${item.error_code}`;
  return item.error_code && has(key) ? t(key, item.error_params || {}) : item.error || "";
}

/** One field's validation error in the current language when its code is known, else the server's words. */
export function fieldError(error) {
  const key = `validation.${error.code}`;
  return `${fieldPath(error.where)}: ${has(key) ? t(key, fieldParams(error.code, error.params || {})) : error.problem}`;
}

// A calibration's points are numbered from 1 on the screen, as its handles are; the server
// counts them from 0 (list indexes). Its plane ("picture" or "ground") is said in our words.
const CALIBRATION_POINTS = ["index", "a", "b", "c", "a_next", "b_next"];
const CALIBRATION_FIGURES = ["distance", "share", "minimum"];

function fieldParams(code, params) {
  if (!String(code).startsWith("calibration_")) return params;
  const words = { ...params };
  for (const name of CALIBRATION_POINTS) if (Number.isInteger(words[name])) words[name] += 1;
  const figure = new Intl.NumberFormat(lang() === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 1 });
  for (const name of CALIBRATION_FIGURES) if (typeof words[name] === "number") words[name] = figure.format(words[name]);
  if (words.plane) words.plane = t(`calibration.plane.${words.plane}`);
  return words;
}

/** A field path in words: "zones.0.polygon" → "Vùng 1, đa giác" (list items numbered from 1, as
 * the screens number them). A part without words (a rule's "id") stays as it is. */
export function fieldPath(where) {
  const parts = String(where || "").replace(/^body\./, "").split(".").filter(Boolean);
  const words = [];
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    const next = parts[i + 1];
    if (next !== undefined && /^\d+$/.test(next) && has(`path.${part}`)) {
      words.push(t(`path.${part}`, { n: Number(next) + 1 }));
      i += 1;
    } else if (/^\d+$/.test(part)) {
      words.push(String(Number(part) + 1));
    } else {
      words.push(has(`path.${part}`) ? t(`path.${part}`, { n: "" }).trim() : part);
    }
  }
  return words.join(", ");
}

/**
 * api("/api/cameras") → parsed JSON; api(path, {method, body}) sends JSON.
 * raw: return the Response itself (for headers and streams). A 401 tells the app the
 * session ended (event "vms:signedout"), except for the sign-in request itself.
 */
export async function api(path, { method = "GET", body, raw = false, signal, headers = {} } = {}) {
  const options = { method, signal, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  if (UNSAFE.has(method)) Object.assign(options.headers, csrfHeaders());
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, {});
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    if (response.headers.get("Retry-After")) problem.retryAfter = response.headers.get("Retry-After");
    if (response.status === 401 && path !== "/api/auth/login") {
      window.dispatchEvent(new CustomEvent("vms:signedout"));
    }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** Query string from an object, skipping empty values; arrays repeat the key. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
