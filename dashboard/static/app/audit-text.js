// The audit log in words: a translated sentence for each action and "label: value" for its
// details, instead of raw codes and JSON. Unknown actions and keys are shown as they are.

import { fmtTime } from "./dom.js";
import { has, t } from "./i18n.js";
import { store } from "./store.js";

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

export function actionText(action) {
  return has(`audit.action.${action}`) ? t(`audit.action.${action}`) : action;
}

function valueText(key, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "boolean") return t(value ? "common.yes" : "common.no");
  if (typeof value === "string" && ISO_TIME.test(value)) return fmtTime(value);
  if (key === "outcome" && has(`alarm.outcome.${value}`)) return t(`alarm.outcome.${value}`);
  if ((key === "priority" || key === "from") && has(`alarm.priority.${value}`)) return t(`alarm.priority.${value}`);
  if ((key === "type" || key === "event_types") && has(`event.${value}`)) return t(`event.${value}`);
  if ((key === "group" || key === "groups") && typeof value === "string") return store.groupName(value);
  if (key === "ended_by" && has(`audit.ended_by.${value}`)) return t(`audit.ended_by.${value}`);
  if (key === "error_code" && has(`exports.failure.${value}`)) return t(`exports.failure.${value}`);
  if (key === "role" && has(`role.${value}`)) return t(`role.${value}`);
  // Wall actions store the tile 0-based; the rule form and the wall number tiles from 1.
  if (key === "tile" && typeof value === "number") return String(value + 1);
  if (key === "mode" && has(`rules.action.${value}`)) return t(`rules.action.${value}`);
  if (key === "wall_action" && value && typeof value === "object") {
    return value.mode === "tile" ? t("rules.action.tile_n", { tile: Number(value.tile ?? 0) + 1 }) : valueText("mode", value.mode);
  }
  if (Array.isArray(value)) return value.map((v) => valueText(key, v)).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${keyText(k)} ${valueText(k, v)}`).join("; ");
  return String(value);
}

function keyText(key) {
  return has(`audit.key.${key}`) ? t(`audit.key.${key}`) : key;
}

/** "Label: value · Label: value" of an entry's details. */
export function detailText(detail) {
  // A failure worded from its code needs no English sentence beside it.
  const worded = detail?.error_code && has(`exports.failure.${detail.error_code}`);
  return Object.entries(detail || {}).filter(([key]) => !(worded && key === "error"))
    .map(([key, value]) => `${keyText(key)}: ${valueText(key, value)}`).join(" · ");
}
