// Translations: Vietnamese first, English second; the choice is remembered in localStorage.
// Elements built with data-i18n (and data-i18n-vars) are re-translated when the language changes,
// so screens never need to rebuild themselves for it.

export const LANGUAGES = ["vi", "en"];
const STORAGE_KEY = "vms.lang";
const dictionaries = {};
let current = "vi";

async function load(lang) {
  if (!dictionaries[lang]) {
    const response = await fetch(`/static/app/locales/${lang}.json`, { cache: "no-cache" });
    dictionaries[lang] = response.ok ? await response.json() : {};
  }
  return dictionaries[lang];
}

export async function initI18n() {
  const saved = localStorage.getItem(STORAGE_KEY);
  current = LANGUAGES.includes(saved) ? saved : "vi";
  await Promise.all([load(current), load("en")]); // English fills keys a translation lacks
  document.documentElement.lang = current;
  applyI18n(document);
}

export function lang() {
  return current;
}

export async function setLang(next) {
  if (!LANGUAGES.includes(next)) return;
  await load(next);
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  applyI18n(document);
  window.dispatchEvent(new CustomEvent("vms:langchange", { detail: next }));
}

/** The text of `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = dictionaries[current]?.[key] ?? dictionaries.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Whether a translation exists (used to translate known problem types and event types). */
export function has(key) {
  return key in (dictionaries[current] || {}) || key in (dictionaries.en || {});
}

/** Give `node` a translated text that follows language changes. */
export function translate(node, key, vars) {
  node.dataset.i18n = key;
  if (vars && Object.keys(vars).length) node.dataset.i18nVars = JSON.stringify(vars);
  else delete node.dataset.i18nVars;
  node.textContent = t(key, vars);
  return node;
}

export function applyI18n(root) {
  const vars = (node) => {
    try {
      return node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : {};
    } catch {
      return {};
    }
  };
  root.querySelectorAll("[data-i18n]").forEach((node) => {
    node.textContent = t(node.dataset.i18n, vars(node));
  });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  });
  root.querySelectorAll("[data-i18n-title]").forEach((node) => {
    node.title = t(node.dataset.i18nTitle);
    node.setAttribute("aria-label", node.title);
  });
}
