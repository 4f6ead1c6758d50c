// The controls shared by the playback screens: frame steps, play, speed, the picture clock and
// go-to (ids "<prefix>-step-back", "<prefix>-step-fwd", "<prefix>-goto-btn"), and the timeline legend.

import { el } from "./dom.js";

export function transportBar(prefix, { step, playButton, speed, clock, gotoInput, goto }) {
  return el("div", { class: "toolbar pb-controls" },
    el("button", { type: "button", id: `${prefix}-step-back`, text: "◀|", title: "playback.step_back", on: { click: () => step(-1) } }),
    playButton,
    el("button", { type: "button", id: `${prefix}-step-fwd`, text: "|▶", title: "playback.step_forward", on: { click: () => step(1) } }),
    el("label", { class: "inline" }, el("span", { i18n: "playback.speed" }), speed),
    el("span", { class: "sep" }),
    el("span", { class: "toolbar-label", i18n: "playback.picture_time" }), clock,
    el("span", { class: "sep" }),
    el("label", { class: "inline" }, el("span", { i18n: "playback.go_to" }), gotoInput),
    el("button", { type: "button", id: `${prefix}-goto-btn`, i18n: "playback.go", on: { click: goto } }));
}

export function timelineLegend() {
  return el("div", { class: "legend" },
    el("span", { class: "swatch recorded" }), el("span", { i18n: "playback.legend_recorded" }),
    el("span", { class: "swatch gap" }), el("span", { i18n: "playback.legend_gap" }),
    el("span", { class: "swatch future" }), el("span", { i18n: "playback.legend_future" }),
    el("span", { class: "swatch event" }), el("span", { i18n: "playback.legend_event" }));
}
