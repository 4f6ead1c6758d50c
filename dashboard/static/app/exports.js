// Evidence exports: yours (admins: everyone's), with progress while they run, then the MP4 and
// its manifest to download and the SHA-256 that proves the file is the one exported.

import { api, failureText } from "./api.js";
import { clear, el, fmtBytes, fmtTime, notify } from "./dom.js";
import { Turns } from "./newest.js";
import { store } from "./store.js";

const POLL_MS = 1000;

export const exportsScreen = {
  items: [],
  active: false,
  turns: new Turns(),

  init(section) {
    this.list = el("div", { class: "export-list", id: "export-list" });
    this.empty = el("p", { class: "hint", i18n: "exports.none", hidden: true });
    section.append(
      el("div", { class: "toolbar" },
        el("p", { class: "hint", i18n: "exports.how" }),
        el("span", { class: "grow" }),
        el("button", { type: "button", i18n: "common.refresh", on: { click: () => this.reload() } })),
      this.list, this.empty);
  },

  show(params = {}) {
    this.active = true;
    this.highlight = params.highlight || null;
    this.reload();
  },

  hide() {
    this.active = false;
    clearTimeout(this.timer);
  },

  async reload() {
    clearTimeout(this.timer);
    // The poll and a click on "refresh" can cross: the older answer drawn last showed a finished
    // export as still running, and each answer started its own poll (two loops, then more).
    const current = this.turns.take();
    try {
      const items = await api("/api/exports");
      if (!current()) return;
      this.items = items;
    } catch (error) {
      if (!current()) return;
      notify(error.message, "error");
    }
    this.render();
    // Keep polling while one is still being made.
    if (this.active && this.items.some((x) => x.state === "queued" || x.state === "running")) {
      this.timer = setTimeout(() => this.reload(), POLL_MS);
    }
  },

  render() {
    clear(this.list).append(...this.items.map((item) => this.card(item)));
    this.empty.hidden = this.items.length > 0;
  },

  card(item) {
    const done = item.state === "done";
    const percent = Math.round(item.percent || 0); // 0..100
    return el("article", {
      class: "export-card" + (item.id === this.highlight ? " highlight" : ""),
      dataset: { id: item.id, state: item.state },
    },
    el("header", {},
      el("strong", { class: "export-camera", text: store.name(item.camera_id) }),
      el("span", { class: "badge state", dataset: { state: item.state }, i18n: `exports.state.${item.state}` })),
    el("dl", { class: "facts" },
      el("dt", { i18n: "exports.range" }), el("dd", { text: `${fmtTime(item.start)} → ${fmtTime(item.end, { date: false })}` }),
      el("dt", { i18n: "exports.requested_by" }), el("dd", { text: `${item.requested_by} · ${fmtTime(item.created_at)}` }),
      item.reason ? [el("dt", { i18n: "exports.reason" }), el("dd", { text: item.reason })] : null,
      done ? [el("dt", { i18n: "exports.frames" }),
              el("dd", { text: `${fmtTime(item.first_frame, { withMs: true })} → ${fmtTime(item.last_frame, { withMs: true, date: false })}` }),
              el("dt", { i18n: "exports.size" }), el("dd", { text: fmtBytes(item.bytes) }),
              el("dt", { text: "SHA-256" }), el("dd", { class: "sha256", text: item.sha256 || "" })] : null,
      item.error ? [el("dt", { i18n: "exports.error" }), el("dd", { class: "error-text", text: failureText(item) })] : null),
    !done && item.state !== "failed"
      ? el("progress", { max: 100, value: percent, attrs: { "aria-label": `${percent}%` } })
      : null,
    done
      ? el("div", { class: "links" },
        el("a", { class: "button download-file", href: item.file_url, download: item.file_name || "", i18n: "exports.download_mp4" }),
        el("a", { class: "button download-manifest", href: item.manifest_url, download: "", i18n: "exports.download_manifest" }),
        el("a", { class: "button download-package", href: item.package_url, download: "", i18n: "exports.download_package" }))
      : null);
  },
};
