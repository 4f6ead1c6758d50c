// A minimal wall of live cameras (/live), each tile a WhepPlayer (RFC 9725 WHEP client).
// URL parameters: cameras=a,b,c (default: the first cameras of /api/cameras), layout=2|3|4
// (2x2, 3x3, 4x4), stream=main|sub (default: main up to 2x2, sub for bigger walls).

import { csrfHeaders, setCsrf } from "./app/api.js";
import { WhepPlayer } from "./app/whep.js";

const STATE_TEXT = {
  connecting: "Đang kết nối · connecting",
  live: "Trực tiếp · live",
  stalled: "Hình bị đứng · picture frozen",
  offline: "Mất tín hiệu · offline",
  error: "Lỗi · error",
};

function element(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

class Tile {
  constructor(camera, stream, parent, transcode = false) {
    this.camera = camera;
    this.el = element("div", "tile");
    this.el.dataset.camera = camera.id;
    const video = element("video");
    Object.assign(video, { muted: true, autoplay: true, playsInline: true });
    this.detail = element("div", "detail");
    const label = element("div", "label");
    const name = element("span", "name");
    name.textContent = camera.name || camera.id;
    this.stateText = element("span", "state");
    label.append(name, this.stateText);
    this.el.append(video, this.detail, label);
    parent.appendChild(this.el);
    this.player = new WhepPlayer(video, camera.id, stream, (state, detail) => this.show(state, detail));
    this.player.transcode = transcode;
    video.poster = this.player.url("snapshot.jpg") + "&width=480";
    this.player.start();
  }

  show(state, detail) {
    this.el.dataset.state = state;
    this.stateText.textContent = STATE_TEXT[state];
    this.detail.textContent = detail;
  }

  stats() {
    return { ...this.player.stats, camera: this.camera.id, state: this.player.state };
  }
}

async function main() {
  const params = new URLSearchParams(location.search);
  const size = Math.min(Math.max(parseInt(params.get("layout") || "2", 10) || 2, 1), 4);
  const stream = params.get("stream") || (size > 2 ? "sub" : "main");
  try {
    const me = await fetch("/api/auth/me");
    if (me.ok) setCsrf((await me.json()).csrf_token);
  } catch (error) { /* signed out: the camera list below says so */ }
  let cameras = [];
  let listProblem = "";
  try {
    const response = await fetch("/api/cameras", { headers: csrfHeaders() });
    if (response.ok) cameras = await response.json();
    else listProblem = ((await response.json().catch(() => ({}))).detail) || `HTTP ${response.status}`;
  } catch (error) { listProblem = String(error); }
  const wanted = params.get("cameras");
  if (wanted) {
    const byId = Object.fromEntries(cameras.map((c) => [c.id, c]));
    cameras = wanted.split(",").filter(Boolean).map((id) => byId[id] || { id, name: id });
  } else {
    cameras = cameras.filter((c) => c.enabled !== false).slice(0, size * size);
  }
  const wall = document.getElementById("wall");
  wall.style.setProperty("--cols", String(size));
  if (!cameras.length) {
    wall.textContent = `Không có camera · no cameras to show${listProblem ? ` (${listProblem})` : ""}`;
  }
  // ?transcode=1: re-encoded on the server, for cameras browsers cannot play as they are
  const transcode = params.get("transcode") === "1";
  const tiles = cameras.map((camera) => new Tile(camera, stream, wall, transcode));
  window.vmsWall = { tiles, stats: () => tiles.map((t) => t.stats()) };
  window.addEventListener("pagehide", () => tiles.forEach((t) => t.player.stop()));
}

main();
