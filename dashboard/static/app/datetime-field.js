// One date-time field for every screen where a user types a time: a text input written
// dd/mm/yyyy HH:mm[:ss] (24 h) in the command centre's zone, whatever the browser's locale.
// Native <input type=date/time> follow the browser's locale (mm/dd, AM/PM), so they are not used.

import { ZONE, dayStart, el, fmtTime, parseStamp, zoneTime } from "./dom.js";

const DATE_ONLY = /^\d{1,2}\/\d{1,2}\/\d{4}$/;
const TIME_ONLY = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

// While typing at the end of the text, the separator a digit needs in front of it is put in:
// "141" → "14/1", "14/05/2026 0" after "14/05/2026" + "0", "14/05/2026 08" + "3" → "...08:3".
const MASK = [
  [/^(\d{2})(\d)$/, "$1/$2"],
  [/^(\d{2}\/\d{2})(\d)$/, "$1/$2"],
  [/^(\d{2}\/\d{2}\/\d{4})(\d)$/, "$1 $2", "datetime"],
  [/^(\d{2}\/\d{2}\/\d{4} \d{2})(\d)$/, "$1:$2", "datetime"],
  [/^(\d{2}\/\d{2}\/\d{4} \d{2}:\d{2})(\d)$/, "$1:$2", "datetime"],
  [/^(\d{2}:\d{2})(\d)$/, "$1:$2", "datetime"],
];

/**
 * A text input for a date ("date": dd/mm/yyyy) or a date and time ("datetime":
 * dd/mm/yyyy HH:mm[:ss], or HH:mm[:ss] on a day the caller gives to readField).
 */
export function dateTimeField({ id, kind = "datetime", placeholder } = {}) {
  const input = el("input", {
    id, type: "text", class: "stamp", inputMode: "numeric", autocomplete: "off", spellcheck: false,
    maxLength: kind === "date" ? 10 : 19,
    placeholder: placeholder || (kind === "date" ? "field.date_format" : "field.datetime_format"),
    dataset: { kind, zone: ZONE },
  });
  input.addEventListener("input", (e) => {
    if (e.inputType !== "insertText" || input.selectionStart !== input.value.length) return;
    for (const [pattern, replacement, only] of MASK) {
      if (only && only !== kind) continue;
      if (pattern.test(input.value)) { input.value = input.value.replace(pattern, replacement); break; }
    }
    markValid(input, true);
  });
  return input;
}

/**
 * Epoch ms of the field's text in the command centre's zone; null when empty; NaN when it is
 * not a time of the field's kind (31/02/2026, 25:00, 14/05...). `day` ("YYYY-MM-DD") lets a
 * datetime field take a bare HH:mm[:ss] on that day. A NaN marks the field invalid.
 */
export function readField(input, { day = null } = {}) {
  const text = input.value.trim();
  let ms;
  if (!text) ms = null;
  else if (input.dataset.kind === "date") ms = DATE_ONLY.test(text) ? parseStamp(text) : NaN;
  else if (TIME_ONLY.test(text)) ms = day ? timeOnDay(day, text) : NaN;
  else ms = parseStamp(text);
  markValid(input, !Number.isNaN(ms));
  return ms;
}

/** Show instant `ms` (or a "YYYY-MM-DD" day) in the field's format; "" for null. */
export function writeField(input, value) {
  if (value === null || value === undefined || value === "") {
    input.value = "";
  } else {
    const ms = typeof value === "string" && /^\d{4}-\d\d-\d\d$/.test(value) ? dayStart(value) : value;
    const text = fmtTime(ms);
    input.value = input.dataset.kind === "date" ? text.slice(0, 10) : text;
  }
  markValid(input, true);
}

function timeOnDay(day, text) {
  const [, h, mi, s = "0"] = text.match(TIME_ONLY);
  if (+h > 23 || +mi > 59 || +s > 59) return NaN;
  return zoneTime(day, `${h}:${mi}:${s}`);
}

function markValid(input, ok) {
  if (ok) input.removeAttribute("aria-invalid");
  else input.setAttribute("aria-invalid", "true");
}
