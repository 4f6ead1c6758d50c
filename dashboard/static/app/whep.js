// A WHEP client (RFC 9725) for one <video>: recvonly H.264 over WebRTC, reconnecting on its own.
// Used by the dashboard's video wall (one per tile) and by the minimal wall page /live.

import { csrfHeaders, problemText } from "./api.js";
import { cameraProblem, store } from "./store.js";

export const STALL_MS = 3000; // no new frame for this long: the picture is frozen
const DISCONNECTED_MS = 4000; // ICE "disconnected" for this long: reconnect
const NO_MEDIA_MS = 10000;
const RETRY_MS = [1000, 2000, 4000, 5000];

export class WhepPlayer {
  /** onState(state, detail): state is connecting, live, stalled (no new frame for STALL_MS),
   *  offline or error; detail is plain words in the current language. */
  constructor(video, cameraId, stream = "main", onState = () => {}) {
    this.video = video;
    this.cameraId = cameraId;
    this.stream = stream;
    this.onState = onState;
    this.pc = null;
    this.location = null;
    this.attempt = 0;
    this.framesDecoded = 0;
    this.lastProgress = 0;
    this.stats = {};
    this.stopped = false;
    this.generation = 0;
    this.state = null;
    this.transcode = false; // true: ask the server to re-encode (H.265 or B-frame cameras)
  }

  url(resource) {
    const transcode = this.transcode ? "&transcode=1" : "";
    return `/api/cameras/${encodeURIComponent(this.cameraId)}/${resource}?stream=${this.stream}${transcode}`;
  }

  start() {
    this.setState("connecting");
    this.connect();
    this.timer = setInterval(() => this.watch(), 1000);
    return this;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    // Say goodbye first (DELETE), then hang up: the server ends and audits the session once.
    const pc = this.pc;
    const location = this.location;
    this.pc = null;
    this.location = null;
    this.generation += 1;
    const close = () => pc && pc.close();
    if (location) {
      fetch(location, { method: "DELETE", headers: csrfHeaders(), keepalive: true }).catch(() => {}).finally(close);
    } else {
      close();
    }
    this.video.srcObject = null;
  }

  setState(state, detail = "") {
    this.state = state;
    this.detail = detail;
    this.onState(state, detail);
  }

  async connect() {
    if (this.stopped) return;
    const generation = ++this.generation;
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
        headers: { "Content-Type": "application/sdp", ...csrfHeaders() },
        body: pc.localDescription.sdp,
      });
      if (generation !== this.generation) {
        // Stopped (or reconnecting) while the server set the session up: nobody else knows its
        // address, so it ran on, relayed to nobody, until the server's viewer timeout.
        const stale = response.status === 201 && response.headers.get("Location");
        if (stale) fetch(stale, { method: "DELETE", headers: csrfHeaders(), keepalive: true }).catch(() => {});
        return;
      }
      if (response.status !== 201) {
        const problem = await response.json().catch(() => ({}));
        if (this.stream === "sub" && String(problem.type).endsWith("/stream-not-found")) {
          this.stream = "main"; // a camera without a sub-stream still gets its tile
          this.teardown();
          this.connect();
          return;
        }
        // 503: the camera or its worker is not ready, worth retrying soon; anything else (a
        // camera unknown to the server, a codec browsers cannot play) will not fix itself. A
        // camera in error (wrong password, refused transport) is a fault to fix, not an outage.
        const cameraError = String(problem.type).endsWith("/camera-error");
        const offline = response.status === 503 && !cameraError;
        // A camera in error: its own reason in our words (the camera list's status), when known.
        const detail = (cameraError && cameraProblem(store.camera(this.cameraId))) || problemText(response.status, problem);
        this.setState(offline ? "offline" : "error", detail);
        this.retry(detail, !offline);
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
    this.generation += 1;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.location) {
      fetch(this.location, { method: "DELETE", headers: csrfHeaders(), keepalive: true }).catch(() => {});
    }
    this.location = null;
  }

  retry(reason, slow = false) {
    if (this.retrying || this.stopped) return;
    this.retrying = true;
    this.teardown();
    const delay = slow ? 15000 : RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    console.debug(`whep ${this.cameraId}: reconnecting in ${delay} ms (${reason})`);
    this.retryTimer = setTimeout(() => {
      this.retrying = false;
      if (this.state === "live") this.setState("connecting");
      this.connect();
    }, delay);
  }

  async watch() {
    const pc = this.pc;
    if (!pc || this.retrying || this.stopped) return;
    if (this.disconnectedAt && Date.now() - this.disconnectedAt > DISCONNECTED_MS) {
      this.retry("disconnected");
      return;
    }
    const report = await pc.getStats();
    // Stopped or reconnected while the stats came: they are of a connection that is gone, and
    // their state ("live", "stalled") drawn last was shown on the tile's next camera.
    if (pc !== this.pc || this.stopped) return;
    let inbound = null;
    report.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") inbound = s; });
    if (!inbound) {
      const waited = this.connectedAt ? Date.now() - this.connectedAt : 0;
      // Answered but no picture comes: not "connecting" for ever; the tile says why (camera status).
      if (waited > STALL_MS && this.state === "connecting") this.setState("offline", "");
      if (waited > NO_MEDIA_MS) this.retry("no media after 10 s");
      return;
    }
    const codec = inbound.codecId ? report.get(inbound.codecId) : null;
    const decoded = inbound.framesDecoded || 0;
    const now = Date.now();
    this.stats = {
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
    } else if (now - this.lastProgress > STALL_MS) {
      // No new frame: a live picture is frozen (say so rather than show it as live); one that
      // never started is offline, and the tile shows the camera's reason.
      if (this.state === "live") this.setState("stalled", "");
      else if (this.state === "connecting") this.setState("offline", "");
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
