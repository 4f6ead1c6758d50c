// Camera registry: the health board (state, fps, bitrate, last packet, storage, from GET /api/cameras)
// and, for technicians and admins, register (probe first), edit, disable/enable and remove.

import { api } from "./api.js";
import { clear, confirmDialog, el, field, fill, fmtBitrate, fmtBytes, fmtTime, notify, option } from "./dom.js";
import { t, translate } from "./i18n.js";
import { Turns } from "./newest.js";
import { cameraState, store, streamProblemText } from "./store.js";
import { zoneEditor } from "./zone-editor.js";

const ID_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,63}";

export const camerasScreen = {
  mode: null, // "add" or "edit"
  editing: null,
  probed: false,
  probes: new Turns(),

  init(section) {
    this.addButton = el("button", { type: "button", id: "camera-add", class: "primary", i18n: "cameras.add",
                                    on: { click: () => this.openForm(null) } });
    this.summary = el("span", { class: "summary", id: "camera-summary" });
    this.body = el("tbody");
    this.table = el("table", { class: "grid-table", id: "camera-table" },
      el("thead", {}, el("tr", {}, ...["state", "id", "name", "group", "streams", "fps", "bitrate", "last_seen", "storage", "actions"]
        .map((key) => el("th", { i18n: `cameras.col.${key}` })))),
      this.body);
    this.form = this.buildForm();
    section.append(
      el("div", { class: "toolbar" }, this.addButton, el("span", { class: "grow" }), this.summary),
      this.form.root,
      el("div", { class: "table-wrap" }, this.table));
    store.subscribe(() => this.render());
  },

  show() {
    this.addButton.hidden = !store.can("camera.manage");
    store.refresh();
  },

  hide() {},

  /** The health board, updated cell by cell (a refresh never swallows a click on a row's buttons). */
  render() {
    const cameras = store.cameras;
    const online = cameras.filter((c) => cameraState(c) === "online").length;
    translate(this.summary, "cameras.summary", { total: cameras.length, online });
    this.rows = this.rows || new Map();
    const wanted = new Set(cameras.map((c) => c.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    cameras.forEach((camera, index) => {
      let row = this.rows.get(camera.id);
      if (!row) {
        row = this.makeRow(camera.id);
        this.rows.set(camera.id, row);
      }
      this.updateRow(row, camera);
      if (this.body.children[index] !== row.tr) this.body.insertBefore(row.tr, this.body.children[index] || null);
    });
  },

  makeRow(cameraId) {
    const cells = {};
    for (const key of ["state", "id", "name", "group", "streams", "fps", "bitrate", "last", "storage", "actions"]) {
      cells[key] = el("td");
    }
    cells.id.className = "mono";
    cells.id.textContent = cameraId;
    cells.name.className = "camera-name";
    cells.fps.className = cells.bitrate.className = cells.storage.className = "num";
    cells.actions.className = "actions";
    const tr = el("tr", { dataset: { camera: cameraId } }, ...Object.values(cells));
    return { tr, cells, camera: null, actions: null };
  },

  updateRow(row, camera) {
    const { cells } = row;
    const state = cameraState(camera);
    const main = camera.status?.main || {};
    const storage = camera.storage || {};
    row.camera = camera;
    row.tr.dataset.state = state;
    fill(cells.state, el("span", { class: "dot", dataset: { state } }), el("span", { class: "state-word", i18n: `camera.state.${state}` }));
    cells.name.textContent = camera.name;
    cells.group.textContent = store.groupName(camera.group);
    const streams = Object.entries(camera.status || {}).map(([name, status]) =>
      el("div", { class: "stream-state", dataset: { state: status.state } },
        el("span", { class: "stream-name", text: name }),
        el("span", { class: "dot", dataset: { state: status.state } }),
        el("span", { i18n: `camera.state.${status.state}` }),
        status.error ? el("div", { class: "error-text", text: streamProblemText(status.error_code, status.error_params, status.error) }) : null));
    fill(cells.streams, streams.length ? streams : el("span", { class: "muted", text: "–" }));
    cells.fps.textContent = main.fps ? main.fps.toFixed(1) : "–";
    cells.bitrate.textContent = fmtBitrate(main.bitrate_bps);
    cells.last.textContent = main.last_packet_at ? fmtTime(main.last_packet_at * 1000) : "–";
    cells.storage.textContent = `${fmtBytes(storage.bytes)} · ${storage.segments || 0}`;
    const manage = store.can("camera.manage");
    const signature = `${manage}|${camera.enabled}|${camera.source}`;
    if (row.actions === signature) return;
    row.actions = signature;
    const fromConfig = camera.source === "config";
    const config = fromConfig ? { disabled: true, title: "cameras.from_config" } : {};
    fill(cells.actions, manage ? [
      el("button", { type: "button", class: "edit", i18n: "common.edit", ...config, on: { click: () => this.openForm(row.camera) } }),
      el("button", { type: "button", class: "zones", i18n: "zones.open", on: { click: () => zoneEditor.open(row.camera.id) } }),
      el("button", { type: "button", class: camera.enabled ? "disable" : "enable", ...config,
                     i18n: camera.enabled ? "cameras.disable" : "cameras.enable",
                     on: { click: () => this.setEnabled(row.camera, !row.camera.enabled) } }),
      el("button", { type: "button", class: "danger delete", i18n: "common.delete", ...config,
                     on: { click: () => this.remove(row.camera) } }),
    ] : null);
  },

  async setEnabled(camera, enabled) {
    try {
      await api(`/api/cameras/${encodeURIComponent(camera.id)}/${enabled ? "enable" : "disable"}`, { method: "POST" });
      await store.refresh();
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async remove(camera) {
    if (!(await confirmDialog(t("cameras.confirm_delete", { name: camera.name || camera.id })))) return;
    try {
      await api(`/api/cameras/${encodeURIComponent(camera.id)}`, { method: "DELETE" });
      notify(t("cameras.deleted", { name: camera.name || camera.id }));
      await store.refresh();
    } catch (error) {
      notify(error.message, "error");
    }
  },

  // --- the add / edit form -----------------------------------------------------------------

  buildForm() {
    const input = (id, props = {}) => el("input", { id, type: "text", ...props });
    const f = {
      id: input("cam-id", { pattern: ID_PATTERN, maxLength: 64, required: true, autocomplete: "off" }),
      name: input("cam-name", { maxLength: 200, required: true }),
      group: el("select", { id: "cam-group", required: true }),
      main: input("cam-main", { maxLength: 2000, required: true, placeholder: "cameras.url_hint" }),
      sub: input("cam-sub", { maxLength: 2000 }),
      username: input("cam-username", { maxLength: 200, autocomplete: "off" }),
      password: input("cam-password", { type: "password", maxLength: 200, autocomplete: "new-password" }),
      lat: input("cam-lat", { type: "number", step: "any", min: -90, max: 90 }),
      lon: input("cam-lon", { type: "number", step: "any", min: -180, max: 180 }),
      place: input("cam-place", { maxLength: 1000 }),
      recording: el("input", { id: "cam-recording", type: "checkbox", checked: true }),
      // RTP transport: auto = TCP, then UDP for cameras that answer 461 Unsupported transport
      transport: el("select", { id: "cam-transport" },
        option("auto", "", "cameras.transport.auto"), option("tcp", "TCP"), option("udp", "UDP")),
      // Which RTSP client pulls the camera; "" = the deployment's ingest.rtsp_client (sent as null)
      rtspClient: el("select", { id: "cam-rtsp-client" },
        option("", "", "cameras.rtsp_client.default"), option("ffmpeg", "FFmpeg"),
        option("builtin", "", "cameras.rtsp_client.builtin")),
    };
    f.transport.addEventListener("change", () => this.unprobed());
    f.main.addEventListener("input", () => this.unprobed());
    f.title = el("h2", { i18n: "cameras.add_title" });
    f.probeButton = el("button", { type: "button", id: "cam-probe", i18n: "cameras.probe", on: { click: () => this.probe() } });
    f.saveButton = el("button", { type: "submit", id: "cam-save", class: "primary", i18n: "common.save" });
    f.probeHint = el("span", { class: "hint", i18n: "cameras.probe_first" });
    f.result = el("div", { class: "probe-result", id: "probe-result", hidden: true });
    f.error = el("p", { class: "error-text", id: "cam-form-error", attrs: { role: "alert" } });
    f.root = el("form", { class: "panel camera-form", id: "camera-form", hidden: true, noValidate: false,
                          on: { submit: (e) => { e.preventDefault(); this.save(); } } },
      f.title,
      el("div", { class: "form-grid" },
        field("cameras.field.id", f.id), field("cameras.field.name", f.name), field("cameras.field.group", f.group),
        field("cameras.field.main_url", f.main), field("cameras.field.sub_url", f.sub),
        field("cameras.field.username", f.username), field("cameras.field.password", f.password),
        field("cameras.field.lat", f.lat), field("cameras.field.lon", f.lon), field("cameras.field.place", f.place),
        field("cameras.field.transport", f.transport), field("cameras.field.rtsp_client", f.rtspClient),
        el("label", { class: "field check" }, f.recording, el("span", { i18n: "cameras.field.recording" }))),
      el("div", { class: "form-actions" }, f.probeButton, f.probeHint, el("span", { class: "grow" }), f.saveButton,
        el("button", { type: "button", i18n: "common.cancel", on: { click: () => this.closeForm() } })),
      f.error, f.result);
    return f;
  },

  /** The address or transport changed: a probe still on its way was of the old one. */
  unprobed() {
    this.probes.drop();
    this.setProbed(false);
  },

  setProbed(value) {
    this.probed = value;
    const f = this.form;
    f.saveButton.disabled = this.mode === "add" && !value;
    f.probeHint.hidden = this.mode !== "add" || value;
  },

  openForm(camera) {
    const f = this.form;
    this.mode = camera ? "edit" : "add";
    this.editing = camera;
    translate(f.title, camera ? "cameras.edit_title" : "cameras.add_title", camera ? { name: camera.name } : {});
    clear(f.group).append(...store.groups.map((g) => option(g.id, g.name || g.id)));
    f.id.value = camera?.id || "";
    f.id.readOnly = Boolean(camera);
    f.name.value = camera?.name || "";
    f.group.value = camera?.group || store.groups[0]?.id || "";
    f.main.value = camera?.main_url || "";
    f.sub.value = camera?.sub_url || "";
    f.username.value = "";
    f.password.value = "";
    f.password.placeholder = camera?.has_credentials ? t("cameras.password_unchanged") : "";
    f.lat.value = camera?.location?.lat ?? "";
    f.lon.value = camera?.location?.lon ?? "";
    f.place.value = camera?.location?.description || "";
    f.recording.checked = camera ? camera.recording?.enabled !== false : true;
    f.transport.value = camera?.transport || "auto";
    f.rtspClient.value = camera?.rtsp_client || "";
    f.error.textContent = "";
    f.result.hidden = true;
    clear(f.result);
    this.unprobed();
    f.root.hidden = false;
    (camera ? f.name : f.id).focus();
  },

  closeForm() {
    this.probes.drop();
    this.form.root.hidden = true;
    this.mode = null;
  },

  async probe() {
    const f = this.form;
    if (!f.main.value.trim()) {
      f.error.textContent = t("cameras.url_needed");
      return;
    }
    f.probeButton.disabled = true;
    translate(f.probeButton, "cameras.probing");
    f.error.textContent = "";
    // The address edited (or the form closed) while the camera answered: the old address's
    // result enabled "save" for an address nobody probed. Only the newest probe may show.
    const current = this.probes.take();
    try {
      const body = { url: f.main.value.trim(), transport: f.transport.value };
      if (f.username.value) body.username = f.username.value;
      if (f.password.value) body.password = f.password.value;
      const result = await api("/api/cameras/probe", { method: "POST", body });
      if (!current()) return;
      this.showProbe(result);
      this.setProbed(true);
    } catch (error) {
      if (current()) f.error.textContent = error.message;
    } finally {
      f.probeButton.disabled = false;
      translate(f.probeButton, "cameras.probe");
    }
  },

  showProbe(r) {
    const f = this.form;
    const fact = (key, value) => (value === null || value === undefined || value === ""
      ? null : [el("dt", { i18n: `cameras.probe.${key}` }), el("dd", { dataset: { fact: key }, text: String(value) })]);
    fill(f.result,
      el("h3", { i18n: r.ok ? "cameras.probe.ok" : "cameras.probe.failed", dataset: { ok: String(r.ok) } }),
      r.error ? el("p", { class: "error-text", id: "probe-error", text: streamProblemText(r.error_code, r.error_params, r.error) }) : null,
      el("div", { class: "probe-body" },
        el("dl", { class: "facts" },
          fact("codec", r.codec ? `${r.codec}${r.profile ? ` (${r.profile})` : ""}` : null),
          fact("resolution", r.width && r.height ? `${r.width}×${r.height}` : null),
          fact("fps", r.fps ? Number(r.fps).toFixed(2) : null),
          fact("keyframe_interval", r.keyframe_interval_seconds ? `${Number(r.keyframe_interval_seconds).toFixed(2)} s` : null),
          fact("bitrate", r.bitrate_bps ? fmtBitrate(r.bitrate_bps) : null),
          fact("b_frames", r.codec ? t(r.has_b_frames ? "common.yes" : "common.no") : null),
          fact("transport", r.transport ? r.transport.toUpperCase() : null),
          fact("audio", (r.audio || []).join(", ")),
          fact("warnings", (r.warning_codes || []).map((w, i) => streamProblemText(w.code, w.params, r.warnings[i])).join("; "))),
        r.snapshot_jpeg_base64
          ? el("img", { class: "probe-snapshot", id: "probe-snapshot", alt: "", src: `data:image/jpeg;base64,${r.snapshot_jpeg_base64}` })
          : null));
    f.result.hidden = false;
  },

  async save() {
    const f = this.form;
    f.error.textContent = "";
    const location = f.lat.value !== "" && f.lon.value !== ""
      ? { lat: Number(f.lat.value), lon: Number(f.lon.value), description: f.place.value.trim() }
      : null;
    const body = {
      name: f.name.value.trim(),
      group: f.group.value,
      main_url: f.main.value.trim(),
      sub_url: f.sub.value.trim() || null,
      // Keep the segment length and recorded stream of an edited camera; only the switch changes here.
      recording: { ...(this.mode === "edit" ? this.editing.recording : {}), enabled: f.recording.checked },
      transport: f.transport.value,
      rtsp_client: f.rtspClient.value || null,
    };
    if (location) body.location = location;
    if (f.username.value) body.username = f.username.value;
    if (f.password.value) body.password = f.password.value;
    try {
      if (this.mode === "add") {
        body.id = f.id.value.trim();
        if (!body.sub_url) delete body.sub_url;
        await api("/api/cameras", { method: "POST", body });
        notify(t("cameras.added", { name: body.name }));
      } else {
        await api(`/api/cameras/${encodeURIComponent(this.editing.id)}`, { method: "PATCH", body });
        notify(t("cameras.saved", { name: body.name }));
      }
      this.closeForm();
      await store.refresh();
    } catch (error) {
      f.error.textContent = error.message;
    }
  },
};
