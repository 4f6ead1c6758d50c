// Map: cameras placed by latitude and longitude on a plain grid drawn here (SVG, nothing from the
// internet), coloured by state; a click opens the camera on the wall.

import { alarmDock } from "./alarm-dock.js";
import { alarmFeed } from "./alarms.js";
import { clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { cameraState, store } from "./store.js";

const MARGIN = 48;
// Thủ Thiêm and the district centre across the river, when no camera has a position yet.
const DEFAULT_BOUNDS = { south: 10.765, north: 10.800, west: 106.700, east: 106.745 };
// The Saigon River around Thủ Thiêm, roughly (lat, lon): a landmark for orientation, not a survey.
const RIVER = [
  [10.8120, 106.7300], [10.8040, 106.7235], [10.7970, 106.7190], [10.7905, 106.7120], [10.7850, 106.7075],
  [10.7790, 106.7060], [10.7735, 106.7070], [10.7690, 106.7105], [10.7660, 106.7170], [10.7650, 106.7250],
  [10.7630, 106.7340], [10.7580, 106.7420], [10.7520, 106.7480],
];
const STEPS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export const mapScreen = {
  init(section, ctx) {
    this.ctx = ctx;
    this.svg = el("svg:svg", { id: "map-svg", class: "map", attrs: { role: "img" } });
    this.size = "";
    // The drawing fills its box at its real size, so the grid and labels never stretch.
    new ResizeObserver(() => {
      const size = `${this.svg.clientWidth}x${this.svg.clientHeight}`;
      if (this.active && size !== this.size) this.render();
    }).observe(this.svg);
    this.unplaced = el("ul", { class: "unplaced", id: "map-unplaced" });
    section.append(
      el("div", { class: "toolbar" },
        el("span", { class: "legend" },
          ...["online", "connecting", "offline", "error", "disabled"].map((state) =>
            el("span", { class: "legend-item" }, el("span", { class: "dot", dataset: { state } }),
              el("span", { i18n: `camera.state.${state}` }))),
          ...["new", "taken"].map((alarm) =>
            el("span", { class: "legend-item legend-alarm" }, el("span", { class: "ring", dataset: { alarm } }),
              el("span", { i18n: `map.legend.alarm_${alarm}` })))),
        el("span", { class: "grow" }),
        el("span", { class: "hint", i18n: "map.hint" })),
      el("div", { class: "map-wrap" }, this.svg),
      el("h3", { i18n: "map.unplaced" }),
      this.unplaced);
    store.subscribe(() => this.active && this.render());
    alarmFeed.subscribe(() => this.active && this.render());
  },

  show() {
    this.active = true;
    this.render();
  },

  hide() {
    this.active = false;
  },

  render() {
    const placed = store.cameras.filter((c) => c.location && c.location.lat !== null && c.location.lon !== null
      && c.location.lat !== undefined && c.location.lon !== undefined);
    const width = Math.max(320, this.svg.clientWidth || 1000);
    const height = Math.max(240, this.svg.clientHeight || 640);
    this.size = `${this.svg.clientWidth}x${this.svg.clientHeight}`;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const project = projection(boundsOf(placed), width, height);
    clear(this.svg);
    this.svg.append(el("svg:rect", { class: "map-bg", attrs: { x: 0, y: 0, width, height } }));
    this.drawGrid(project.visible, project, width, height);
    const river = RIVER.map(([lat, lon]) => project(lat, lon).join(",")).join(" ");
    this.svg.append(
      el("svg:polyline", { class: "river", attrs: { points: river } }),
      el("svg:text", { class: "river-label", attrs: { x: project(10.7790, 106.7060)[0] + 10, y: project(10.7790, 106.7060)[1] },
                       text: t("map.river") }));
    for (const camera of placed) this.svg.append(this.marker(camera, project));
    clear(this.unplaced).append(...store.cameras.filter((c) => !placed.includes(c)).map((camera) =>
      el("li", {}, el("button", { type: "button", class: "link-button", dataset: { camera: camera.id },
                                  on: { click: () => this.open(camera.id) } },
        el("span", { class: "dot", dataset: { state: cameraState(camera) } }),
        el("span", { class: "camera-name", text: camera.name || camera.id })))));
    if (!this.unplaced.children.length) this.unplaced.append(el("li", { class: "hint", i18n: "map.all_placed" }));
  },

  drawGrid(bounds, project, width, height) {
    const span = Math.max(bounds.north - bounds.south, bounds.east - bounds.west);
    const step = STEPS.find((s) => span / s <= 8) || 10;
    const decimals = Math.max(0, Math.ceil(-Math.log10(step)));
    const grid = el("svg:g", { class: "grid" });
    for (let lat = Math.ceil(bounds.south / step) * step; lat <= bounds.north; lat += step) {
      const [, y] = project(lat, bounds.west);
      grid.append(el("svg:line", { attrs: { x1: 0, x2: width, y1: y, y2: y } }),
        el("svg:text", { class: "grid-label", attrs: { x: 4, y: y - 3 }, text: `${lat.toFixed(decimals)}°N` }));
    }
    for (let lon = Math.ceil(bounds.west / step) * step; lon <= bounds.east; lon += step) {
      const [x] = project(bounds.south, lon);
      grid.append(el("svg:line", { attrs: { x1: x, x2: x, y1: 0, y2: height } }),
        el("svg:text", { class: "grid-label", attrs: { x: x + 3, y: height - 4 }, text: `${lon.toFixed(decimals)}°E` }));
    }
    this.svg.append(grid);
  },

  marker(camera, project) {
    const [x, y] = project(camera.location.lat, camera.location.lon);
    const state = cameraState(camera);
    const label = camera.name || camera.id;
    // An open alarm on the camera: the icon flashes while untaken, stays ringed while handled.
    const alarm = alarmFeed.open().find((a) => a.camera_id === camera.id);
    const group = el("svg:g", {
      class: "marker", tabIndex: 0,
      dataset: { camera: camera.id, state, alarm: alarm ? alarm.state : "none", alarmId: alarm ? String(alarm.id) : "" },
      attrs: { transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`, role: "button" },
      on: { click: () => this.open(camera.id), keydown: (e) => { if (e.key === "Enter") this.open(camera.id); } },
    },
    el("svg:title", { text: `${label} — ${t(`camera.state.${state}`)}${camera.location.description ? ` — ${camera.location.description}` : ""}` }),
    alarm ? el("svg:circle", { class: "marker-alarm", attrs: { r: 15 } }) : null,
    el("svg:circle", { class: "marker-dot", attrs: { r: 9 } }),
    el("svg:text", { class: "marker-label", attrs: { x: 13, y: 4 }, text: label }));
    return group;
  },

  /** The camera on the wall; with an open alarm, that alarm picked out in the dock beside it. */
  open(cameraId) {
    const alarm = alarmFeed.open().find((a) => a.camera_id === cameraId);
    this.ctx.go("wall", { camera: cameraId });
    if (alarm) alarmDock.focus(alarm.id);
  },
};

function boundsOf(cameras) {
  if (!cameras.length) return { ...DEFAULT_BOUNDS };
  const lats = cameras.map((c) => c.location.lat);
  const lons = cameras.map((c) => c.location.lon);
  let south = Math.min(...lats), north = Math.max(...lats), west = Math.min(...lons), east = Math.max(...lons);
  const padLat = Math.max((north - south) * 0.15, 0.004);
  const padLon = Math.max((east - west) * 0.15, 0.004);
  south -= padLat; north += padLat; west -= padLon; east += padLon;
  return { south, north, west, east };
}

/** Equirectangular, with the east-west scale of the middle latitude so distances look right. */
function projection(b, WIDTH, HEIGHT) {
  const midLat = ((b.north + b.south) / 2) * (Math.PI / 180);
  const kx = Math.cos(midLat);
  const spanX = (b.east - b.west) * kx;
  const spanY = b.north - b.south;
  const scale = Math.min((WIDTH - 2 * MARGIN) / spanX, (HEIGHT - 2 * MARGIN) / spanY);
  const ox = (WIDTH - spanX * scale) / 2;
  const oy = (HEIGHT - spanY * scale) / 2;
  const project = (lat, lon) => [ox + (lon - b.west) * kx * scale, oy + (b.north - lat) * scale];
  // What the drawing shows, which is wider than the cameras' bounds on one axis.
  project.visible = {
    west: b.west - ox / (kx * scale), east: b.west + (WIDTH - ox) / (kx * scale),
    north: b.north + oy / scale, south: b.north - (HEIGHT - oy) / scale,
  };
  return project;
}
