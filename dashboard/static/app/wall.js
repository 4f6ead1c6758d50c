// The video wall: 1, 4, 9 or 16 tiles of live cameras. Cameras come from the list by drag and
// drop or by click (the selected tile, else the first empty one); a double-click shows one tile
// full screen on the main stream. The wall of each user is remembered; named layouts are saved
// through /api/layouts and a tour cycles through them.

import { clear, el, syncOptions } from "./dom.js";
import { t, translate } from "./i18n.js";
import { cameraProblem, cameraState, hasSubStream, store } from "./store.js";
import { layoutMethods } from "./layouts.js";
import { TileReplay } from "./tile-replay.js";
import { STALL_MS, WhepPlayer } from "./whep.js";

const SIZES = [1, 4, 9, 16];
const DRAG_TYPE = "application/x-vms-camera";

class Tile {
  constructor(index, wall) {
    this.index = index;
    this.wall = wall;
    this.cameraId = null;
    this.player = null;
    this.video = el("video", { muted: true, autoplay: true, playsInline: true });
    this.nameEl = el("span", { class: "name" });
    this.stateEl = el("span", { class: "state" });
    this.detailEl = el("div", { class: "detail" });
    this.emptyEl = el("div", { class: "empty-hint", i18n: "wall.empty_tile" });
    this.replay = new TileReplay(this);
    this.el = el(
      "div",
      {
        class: "tile",
        tabIndex: 0,
        dataset: { index: String(index), state: "empty" },
        attrs: { role: "button" },
        on: {
          click: () => wall.select(index),
          dblclick: () => this.cameraId && wall.fullscreen(this.cameraId),
          keydown: (event) => {
            if (event.key === "Enter") wall.select(index);
            if (event.key === "Delete") this.assign(null);
          },
          dragover: (event) => {
            if ([...event.dataTransfer.types].includes(DRAG_TYPE)) {
              event.preventDefault();
              this.el.classList.add("drop-target");
            }
          },
          dragleave: () => this.el.classList.remove("drop-target"),
          drop: (event) => {
            event.preventDefault();
            this.el.classList.remove("drop-target");
            const id = event.dataTransfer.getData(DRAG_TYPE);
            if (id) wall.assign(index, id);
          },
        },
      },
      this.video,
      ...this.replay.nodes(),
      this.emptyEl,
      this.detailEl,
      el("div", { class: "tile-label" }, this.nameEl, this.stateEl),
      el("button", {
        class: "tile-clear", type: "button", text: "×", title: "wall.clear_tile",
        on: { click: (event) => { event.stopPropagation(); wall.assign(index, null); } },
      }),
    );
  }

  assign(cameraId) {
    this.stop();
    this.cameraId = cameraId;
    this.el.dataset.camera = cameraId || "";
    this.nameEl.textContent = cameraId ? store.name(cameraId) : "";
    this.emptyEl.hidden = Boolean(cameraId);
    if (!cameraId) {
      this.el.dataset.state = "empty";
      this.stateEl.textContent = "";
      this.detailEl.textContent = "";
    } else if (this.wall.active) {
      this.play();
    }
  }

  /** Many small tiles: the sub-stream when the camera has one; one big tile: the main stream. */
  wantedStream() {
    return this.wall.size >= 4 && hasSubStream(store.camera(this.cameraId)) ? "sub" : "main";
  }

  /**
   * Take over another tile's running player (same camera, same stream): a tour or layout
   * change keeps that picture playing instead of reconnecting it (about a second dark).
   */
  adopt(donor) {
    this.assign(null);
    this.cameraId = donor.cameraId;
    this.el.dataset.camera = donor.cameraId;
    this.nameEl.textContent = store.name(donor.cameraId);
    this.emptyEl.hidden = true;
    this.el.replaceChild(donor.video, this.video); // moved within one task: it keeps playing
    this.video = donor.video;
    this.player = donor.player;
    this.requested = donor.requested;
    donor.player = null;
    this.player.onState = (state, detail) => this.showState(state, detail);
    this.showState(this.player.state, this.player.detail);
  }

  play() {
    if (!this.cameraId || this.player) return;
    const stream = this.wantedStream();
    this.requested = stream;
    this.video.poster = `/api/cameras/${encodeURIComponent(this.cameraId)}/snapshot.jpg?stream=${stream}&width=320`;
    this.player = new WhepPlayer(this.video, this.cameraId, stream, (state, detail) => this.showState(state, detail));
    this.player.start();
  }

  stop() {
    this.replay.end("stopped");
    if (this.player) this.player.stop();
    this.player = null;
  }

  showState(state, detail = "") {
    // Frames stopped and the server knows why (camera offline, in error): say that.
    const known = cameraState(store.camera(this.cameraId));
    if (state === "stalled" && (known === "offline" || known === "error")) state = known;
    this.el.dataset.state = state;
    translate(this.stateEl, `live.state.${state}`);
    const camera = store.camera(this.cameraId);
    if (!camera && this.cameraId) detail = t("wall.unknown_camera");
    if (state === "stalled") detail = cameraProblem(camera) || t("wall.stalled", { seconds: STALL_MS / 1000 });
    this.detailEl.textContent = state === "live" ? "" : detail || (state === "connecting" ? "" : cameraProblem(camera));
  }

  refresh() {
    if (!this.cameraId) return;
    this.nameEl.textContent = store.name(this.cameraId);
    if (this.player && this.player.state !== "live") this.showState(this.player.state, this.player.detail);
  }

  stats() {
    return { index: this.index, camera: this.cameraId, stream: this.player?.stream || null, session: this.player?.location || null,
             replay: this.replay.stats(), lastReplay: this.replay.lastReplay || null,
             state: this.player?.state || "stopped", ...(this.player?.stats || {}) };
  }
}

export const wall = {
  size: 4,
  tiles: [],
  cells: [],
  active: false,
  selected: null,
  layouts: [],
  tour: null,

  init(section) {
    this.section = section;
    this.grid = el("div", { class: "wall-grid", id: "wall-grid" });
    this.sizeButtons = SIZES.map((n) =>
      el("button", { type: "button", class: "layout-size", dataset: { size: String(n) }, text: String(n),
                     title: `wall.layout_${n}`, on: { click: () => this.setSize(n) } }));
    this.groupFilter = el("select", { id: "wall-group", on: { change: () => this.renderList() } });
    this.list = el("ul", { class: "camera-list", id: "wall-cameras" });
    this.layoutSelect = el("select", { id: "layout-select", on: { change: () => this.loadLayout(this.layoutSelect.value) } });
    this.layoutName = el("input", { id: "layout-name", type: "text", maxLength: 100, placeholder: "wall.layout_name" });
    this.tourSeconds = el("input", { id: "tour-seconds", type: "number", min: 5, max: 3600, value: 30 });
    this.tourButton = el("button", { type: "button", id: "tour-toggle", i18n: "wall.tour_start", on: { click: () => this.toggleTour() } });
    this.fs = this.buildFullscreen();
    section.append(
      el("aside", { class: "wall-side" },
        el("label", { class: "field" }, el("span", { i18n: "wall.group" }), this.groupFilter),
        this.list,
        el("p", { class: "hint", i18n: "wall.assign_hint" })),
      el("div", { class: "wall-main" },
        el("div", { class: "toolbar" },
          el("span", { class: "toolbar-label", i18n: "wall.layout" }), ...this.sizeButtons,
          el("span", { class: "sep" }),
          el("label", { class: "inline" }, el("span", { i18n: "wall.saved_layouts" }), this.layoutSelect),
          this.layoutName,
          el("button", { type: "button", id: "layout-save", i18n: "wall.layout_save", on: { click: () => this.saveLayout() } }),
          el("button", { type: "button", id: "layout-delete", i18n: "wall.layout_delete", on: { click: () => this.deleteLayout() } }),
          el("span", { class: "sep" }),
          el("label", { class: "inline" }, el("span", { i18n: "wall.tour_every" }), this.tourSeconds, el("span", { i18n: "wall.seconds" })),
          this.tourButton),
        this.grid),
      this.fs.root,
    );
    store.subscribe(() => this.onCameras());
    const saved = this.loadWall();
    this.cells = saved.cameras;
    this.build(saved.size);
    window.vmsWall = {
      stats: () => this.tiles.filter((tile) => tile.cameraId).map((tile) => tile.stats()),
      fullscreen: () => (this.fs.player ? { camera: this.fs.cameraId, stream: this.fs.player.stream,
                                             state: this.fs.player.state, ...this.fs.player.stats } : null),
      assign: (index, id) => this.assign(index, id),
    };
  },

  storageKey() {
    return `vms.wall.${store.me?.user?.username || ""}`;
  },

  loadWall() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey()) || "null");
      if (saved && SIZES.includes(saved.size) && Array.isArray(saved.cameras)) return saved;
    } catch { /* a damaged entry is forgotten */ }
    this.firstWall = true; // nothing saved yet: the first camera list fills a default wall
    return { size: 4, cameras: [] };
  },

  /** First sign-in: a wall of the user's own cameras rather than empty tiles. */
  defaultWall() {
    this.firstWall = false;
    const cameras = store.cameras.filter((c) => c.enabled !== false).map((c) => c.id);
    if (!cameras.length || this.cells.some(Boolean)) return;
    const size = SIZES.find((n) => n >= Math.min(cameras.length, 9));
    this.cells = cameras.slice(0, size);
    this.build(size);
  },

  remember() {
    localStorage.setItem(this.storageKey(), JSON.stringify({ size: this.size, cameras: this.cells.slice(0, this.size) }));
  },

  build(size) {
    const before = this.tiles;
    this.size = size;
    this.grid.style.setProperty("--cols", String(Math.sqrt(size)));
    this.grid.dataset.size = String(size);
    this.sizeButtons.forEach((b) => b.classList.toggle("active", Number(b.dataset.size) === size));
    this.tiles = Array.from({ length: size }, (_, i) => new Tile(i, this));
    // Cameras in both the old and the new wall keep their running players.
    this.tiles.forEach((tile, i) => {
      const cameraId = this.cells[i] || null;
      tile.cameraId = cameraId;
      const donor = this.active && cameraId
        && before.find((old) => old.player && old.cameraId === cameraId && old.requested === tile.wantedStream());
      tile.cameraId = null;
      if (donor) tile.adopt(donor);
    });
    before.forEach((tile) => tile.stop());
    clear(this.grid).append(...this.tiles.map((tile) => tile.el));
    this.tiles.forEach((tile, i) => { if (!tile.player) tile.assign(this.cells[i] || null); });
    if (this.selected !== null && this.selected >= size) this.select(null);
    this.remember();
    this.changed();
  },

  /** Tell views drawn over the wall (the alarm dock's flashing tiles) that tiles changed. */
  changed() {
    this.section.dispatchEvent(new CustomEvent("vms:wallchange"));
  },

  setSize(size) {
    if (size !== this.size) this.build(size);
  },

  select(index) {
    this.selected = index;
    this.tiles.forEach((tile) => tile.el.classList.toggle("selected", tile.index === index));
  },

  assign(index, cameraId) {
    this.cells[index] = cameraId;
    this.tiles[index]?.assign(cameraId);
    this.remember();
    this.changed();
  },

  /** Click-to-assign: into the selected tile, else the first empty one; then select the next. */
  assignNext(cameraId) {
    let index = this.selected;
    if (index === null) {
      index = this.tiles.findIndex((tile) => !tile.cameraId);
      if (index < 0) index = 0;
    }
    this.assign(index, cameraId);
    this.select(this.selected === null ? null : (index + 1) % this.size);
  },

  show(params = {}) {
    this.active = true;
    this.tiles.forEach((tile) => tile.play());
    this.refreshLayouts();
    if (params.camera) this.fullscreen(params.camera);
  },

  hide() {
    this.active = false;
    this.tiles.forEach((tile) => tile.stop());
    this.closeFullscreen();
  },

  onCameras() {
    if (this.firstWall && store.cameras.length) this.defaultWall();
    syncOptions(this.groupFilter, [["", "", "wall.all_groups"], ...store.groups.map((g) => [g.id, g.name || g.id])]);
    this.renderList();
    this.tiles.forEach((tile) => tile.refresh());
  },

  /** The camera list, updated in place (a refresh must not cancel a drag under way). */
  renderList() {
    const group = this.groupFilter.value;
    const cameras = store.cameras.filter((c) => !group || c.group === group);
    this.items = this.items || new Map();
    const wanted = new Set(cameras.map((c) => c.id));
    for (const [id, item] of this.items) {
      if (!wanted.has(id)) {
        item.li.remove();
        this.items.delete(id);
      }
    }
    this.list.querySelector(".hint")?.remove();
    cameras.forEach((camera, index) => {
      let item = this.items.get(camera.id);
      if (!item) {
        item = this.listItem(camera.id);
        this.items.set(camera.id, item);
      }
      const state = cameraState(camera);
      item.button.dataset.state = item.dot.dataset.state = state;
      item.name.textContent = camera.name || camera.id;
      item.button.title = `${camera.name || camera.id} — ${t(`camera.state.${state}`)}`;
      if (this.list.children[index] !== item.li) this.list.insertBefore(item.li, this.list.children[index] || null);
    });
    if (!cameras.length) {
      // An operator without any group grant sees no camera: say why, not just "none".
      const noGrant = !store.error && Array.isArray(store.me?.groups) && store.me.groups.length === 0;
      this.list.append(el("li", { class: "hint", id: "wall-no-cameras", i18n: noGrant ? "wall.no_grant" : "wall.no_cameras" }));
    }
  },

  listItem(cameraId) {
    const dot = el("span", { class: "dot" });
    const name = el("span", { class: "camera-name" });
    const button = el("button", {
      type: "button", class: "camera-item", draggable: true, dataset: { camera: cameraId },
      on: {
        click: () => this.assignNext(cameraId),
        dragstart: (event) => {
          event.dataTransfer.setData(DRAG_TYPE, cameraId);
          event.dataTransfer.setData("text/plain", cameraId);
          event.dataTransfer.effectAllowed = "copy";
        },
      },
    }, dot, name, el("span", { class: "camera-id", text: cameraId }));
    return { li: el("li", {}, button), button, dot, name };
  },

  // --- full screen ----------------------------------------------------------------------

  buildFullscreen() {
    const video = el("video", { muted: true, autoplay: true, playsInline: true });
    const name = el("span", { class: "name" });
    const state = el("span", { class: "state" });
    const detail = el("div", { class: "detail" });
    const root = el("div", { class: "fullscreen", id: "wall-fullscreen", hidden: true,
                             on: { dblclick: () => this.closeFullscreen() } },
      video, detail, el("div", { class: "tile-label" }, name, state),
      el("button", { type: "button", class: "fs-close", i18n: "wall.exit_fullscreen", on: { click: () => this.closeFullscreen() } }));
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") this.closeFullscreen(); });
    return { root, video, name, state, detail, player: null, cameraId: null };
  },

  /** One camera over the whole wall, always on its main stream. */
  fullscreen(cameraId) {
    this.closeFullscreen();
    const fs = this.fs;
    fs.cameraId = cameraId;
    fs.name.textContent = store.name(cameraId);
    fs.root.hidden = false;
    fs.root.dataset.camera = cameraId;
    fs.player = new WhepPlayer(fs.video, cameraId, "main", (state, detail) => {
      fs.root.dataset.state = state;
      translate(fs.state, `live.state.${state}`);
      fs.detail.textContent = state === "live" ? "" : detail || cameraProblem(store.camera(cameraId));
    }).start();
    this.changed();
  },

  closeFullscreen() {
    const fs = this.fs;
    if (!fs || fs.root.hidden) return;
    fs.player?.stop();
    fs.player = null;
    fs.cameraId = null;
    fs.root.hidden = true;
  },

  /** From the map or elsewhere: show this camera now. */
  openCamera(cameraId) {
    this.fullscreen(cameraId);
  },
};

// Saved layouts and tours live in layouts.js; they act on the wall.
Object.assign(wall, layoutMethods);
