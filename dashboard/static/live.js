// A wall of live cameras, each tile a WHEP client (RFC 9725): recvonly H.264 over WebRTC.
// URL parameters: cameras=a,b,c (default: the first cameras of /api/cameras), layout=2|3|4
// (2x2, 3x3, 4x4), stream=main|sub (default: main up to 2x2, sub for bigger walls).
"use strict";

const STATE_TEXT = {
  connecting: "Đang kết nối · connecting",
  live: "Trực tiếp · live",
  offline: "Mất tín hiệu · offline",
  error: "Lỗi · error",
};
const STALL_MS = 3000; // no new frame for this long: the camera is offline
const DISCONNECTED_MS = 4000; // ICE "disconnected" for this long: reconnect
const RETRY_MS = [1000, 2000, 4000, 5000];
// Cookie sessions must send their CSRF token on POST and DELETE (from /api/auth/me).
const authHeaders = {};

class Tile {
  constructor(camera, stream, parent) {
    this.camera = camera;
    this.stream = stream;
    this.el = document.createElement("div");
    this.el.className = "tile";
    this.el.dataset.camera = camera.id;
    this.el.innerHTML = '<video muted autoplay playsinline></video><div class="detail"></div>' +
      '<div class="label"><span class="name"></span><span class="state"></span></div>';
    this.video = this.el.querySelector("video");
    this.el.querySelector(".name").textContent = camera.name || camera.id;
    this.video.poster = this.url("snapshot.jpg") + "&width=480";
    parent.appendChild(this.el);
    this.pc = null;
    this.location = null;
    this.attempt = 0;
    this.framesDecoded = 0;
    this.lastProgress = 0;
    this.stats = {};
    this.setState("connecting");
    this.connect();
    this.timer = setInterval(() => this.watch(), 1000);
  }

  url(resource) {
    return `/api/cameras/${encodeURIComponent(this.camera.id)}/${resource}?stream=${this.stream}`;
  }

  setState(state, detail = "") {
    this.state = state;
    this.el.dataset.state = state;
    this.el.querySelector(".state").textContent = STATE_TEXT[state];
    this.el.querySelector(".detail").textContent = detail;
  }

  async connect() {
    const generation = (this.generation = (this.generation || 0) + 1);
    const pc = (this.pc = new RTCPeerConnection());
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      this.video.srcObject = new MediaStream([event.track]);
      event.track.onended = () => this.retry("track ended");
    };
    pc.onconnectionstatechange = () => {
      if (generation !== this.generation) return;
      const state = pc.connectionState;
      if (state === "failed" || state === "closed") this.retry(`connection ${state}`);
      if (state === "disconnected") this.disconnectedAt = Date.now();
      if (state === "connected") this.disconnectedAt = null;
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc, 2000); // no trickle ICE: the offer carries the candidates
      const response = await fetch(this.url("whep"), {
        method: "POST",
        headers: { "Content-Type": "application/sdp", ...authHeaders },
        body: pc.localDescription.sdp,
      });
      if (generation !== this.generation) return;
      if (response.status !== 201) {
        const problem = await response.json().catch(() => ({}));
        if (this.stream === "sub" && String(problem.type).endsWith("/stream-not-found")) {
          this.stream = "main"; // a camera without a sub-stream still gets its tile
          this.retrying = false;
          this.teardown();
          this.connect();
          return;
        }
        const offline = response.status === 503 || response.status === 404;
        this.setState(offline ? "offline" : "error", problem.detail || `HTTP ${response.status}`);
        this.retry(problem.detail || `HTTP ${response.status}`, !offline);
        return;
      }
      this.location = response.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
      this.connectedAt = Date.now();
      this.lastProgress = Date.now();
    } catch (error) {
      if (generation === this.generation) this.retry(String(error));
    }
  }

  teardown() {
    this.generation = (this.generation || 0) + 1;
    // DELETE before closing: a closed peer connection ends the session on the server first,
    // and the DELETE (which writes the live.stop audit entry) would then find nothing.
    if (this.location) {
      fetch(this.location, { method: "DELETE", headers: authHeaders, keepalive: true }).catch(() => {});
    }
    this.location = null;
    if (this.pc) this.pc.close();
    this.pc = null;
  }

  retry(reason, slow = false) {
    if (this.retrying) return;
    this.retrying = true;
    this.teardown();
    const delay = slow ? 15000 : RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    console.debug(`tile ${this.camera.id}: reconnecting in ${delay} ms (${reason})`);
    setTimeout(() => {
      this.retrying = false;
      if (this.state === "live") this.setState("connecting");
      this.connect();
    }, delay);
  }

  async watch() {
    const pc = this.pc;
    if (!pc || this.retrying) return;
    if (this.disconnectedAt && Date.now() - this.disconnectedAt > DISCONNECTED_MS) {
      this.retry("disconnected");
      return;
    }
    const report = await pc.getStats();
    let inbound = null;
    report.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") inbound = s; });
    if (!inbound) {
      if (this.connectedAt && Date.now() - this.connectedAt > 10000) this.retry("no media after 10 s");
      return;
    }
    const codec = inbound.codecId ? report.get(inbound.codecId) : null;
    const decoded = inbound.framesDecoded || 0;
    const now = Date.now();
    this.stats = {
      camera: this.camera.id,
      state: this.state,
      framesDecoded: decoded,
      frameWidth: inbound.frameWidth || 0,
      frameHeight: inbound.frameHeight || 0,
      framesPerSecond: inbound.framesPerSecond || 0,
      codec: codec ? codec.mimeType : null,
      jitterBufferDelay: inbound.jitterBufferEmittedCount
        ? inbound.jitterBufferDelay / inbound.jitterBufferEmittedCount : null,
    };
    if (decoded > this.framesDecoded) {
      this.framesDecoded = decoded;
      this.lastProgress = now;
      this.attempt = 0;
      if (this.state !== "live") this.setState("live");
    } else if (now - this.lastProgress > STALL_MS && this.state !== "offline") {
      this.setState("offline", "");
    }
  }
}

function gatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

async function main() {
  const params = new URLSearchParams(location.search);
  const size = Math.min(Math.max(parseInt(params.get("layout") || "2", 10) || 2, 1), 4);
  const stream = params.get("stream") || (size > 2 ? "sub" : "main");
  try {
    const me = await fetch("/api/auth/me");
    const token = me.ok ? (await me.json()).csrf_token : null;
    if (token) authHeaders["X-CSRF-Token"] = token;
  } catch (error) { /* signed out: the camera list below says so */ }
  let cameras = [];
  let listProblem = "";
  try {
    const response = await fetch("/api/cameras");
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
  const tiles = cameras.map((camera) => new Tile(camera, stream, wall));
  window.vmsWall = {
    tiles,
    stats: () => tiles.map((t) => ({ ...t.stats, camera: t.camera.id, state: t.state })),
  };
  window.addEventListener("pagehide", () => tiles.forEach((t) => t.teardown()));
}

main();
