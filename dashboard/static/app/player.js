// Recorded video in a <video>: /api/cameras/{id}/playback.mp4 (fragmented MP4 remuxed on the fly)
// streamed into Media Source Extensions, on a timeline where currentTime = (wall time - origin).
// Each response's X-Playback-Start places it (SourceBuffer.timestampOffset), so consecutive
// chunks join up, and a seek outside what is loaded starts a new response at that moment.
// Reading pauses while a minute is buffered ahead, so a long range never fills the memory.

import { ApiError, problemText } from "./api.js";

const CHUNK_MS = 10 * 60 * 1000; // one response covers up to ten minutes
const AHEAD_MAX_S = 60; // stop reading when this much is buffered ahead of the playhead
const PREFETCH_S = 20; // fetch the next chunk when less than this is left
const BLOB_CHUNK_MS = 2 * 60 * 1000; // without MSE the whole response is held: keep it short

export class RecordingPlayer {
  /** nextRecording(wallMs) → start (ms) of the first recording after wallMs, or null. */
  constructor(video, { onError = () => {}, nextRecording = () => null } = {}) {
    this.video = video;
    this.onError = onError;
    this.nextRecording = nextRecording;
    this.cameraId = null;
    this.origin = null;
    this.generation = 0;
    this.fetching = false;
    this.exhausted = false;
    this.rate = 1;
    video.addEventListener("timeupdate", () => this.maybeContinue());
    video.addEventListener("waiting", () => this.skipHole());
  }

  get loaded() {
    return this.origin !== null;
  }

  /** Wall time (ms) of the picture at the playhead, or null before anything is loaded. */
  wallTime() {
    return this.origin === null ? null : this.origin + this.video.currentTime * 1000;
  }

  setRate(rate) {
    this.rate = rate;
    this.video.defaultPlaybackRate = rate;
    this.video.playbackRate = rate;
  }

  stop() {
    this.generation += 1;
    this.controller?.abort(new DOMException("playback stopped", "AbortError"));
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.ms = this.sb = null;
    this.origin = null;
    this.cameraId = null;
  }

  /**
   * Show camera's picture at wall time `wallMs`; resolves once it is placed there (or the
   * response ended short of it, or a newer seek replaced this one), while reading ahead goes
   * on in the background. Rejects when the recording cannot be fetched (an ApiError).
   */
  async seek(cameraId, wallMs, { play = false } = {}) {
    if (cameraId !== this.cameraId) this.stop();
    this.cameraId = cameraId;
    this.exhausted = false;
    const target = this.origin === null ? null : (wallMs - this.origin) / 1000;
    if (target !== null && this.isBuffered(target)) {
      await this.setTime(target);
    } else {
      await this.loadUntilPlaced(wallMs);
    }
    if (play) this.video.play().catch(() => {});
  }

  /**
   * Start a response at wallMs; resolves when its picture is placed. Waiting for the whole
   * response instead never ended on a paused video: reading stops a minute ahead of the
   * playhead until it moves (a seek on the playback screen hung, and Play after a seek never
   * started).
   */
  loadUntilPlaced(wallMs) {
    return new Promise((resolve, reject) => {
      this.load(wallMs, false, resolve).then(resolve, reject);
    });
  }

  isBuffered(seconds) {
    const b = this.video.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= seconds + 0.05 && seconds < b.end(i)) return true;
    return false;
  }

  bufferedEnd() {
    const b = this.video.buffered;
    const now = this.video.currentTime;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= now + 0.05 && now < b.end(i)) return b.end(i);
    return now;
  }

  setTime(seconds) {
    return new Promise((resolve) => {
      const done = () => { this.video.removeEventListener("seeked", done); resolve(); };
      this.video.addEventListener("seeked", done);
      this.video.currentTime = seconds;
      setTimeout(done, 3000); // never hang on a seek the element ignores
    });
  }

  /**
   * Fetch a chunk from wallMs. continuing: append after what plays now, without seeking.
   * onPlaced() is called once the picture at wallMs is placed (not when continuing).
   */
  async load(wallMs, continuing, onPlaced = () => {}) {
    const generation = ++this.generation;
    this.controller?.abort(new DOMException("a newer request replaced this one", "AbortError"));
    const controller = (this.controller = new AbortController());
    this.fetching = true;
    try {
      const chunk = window.MediaSource ? CHUNK_MS : BLOB_CHUNK_MS;
      const url = `/api/cameras/${encodeURIComponent(this.cameraId)}/playback.mp4`
        + `?start=${encodeURIComponent(new Date(wallMs).toISOString())}`
        + `&end=${encodeURIComponent(new Date(wallMs + chunk).toISOString())}`;
      const response = await fetch(url, { signal: controller.signal, credentials: "same-origin" });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new ApiError(response.status, problem);
      }
      const mediaStart = Date.parse(response.headers.get("X-Playback-Start"));
      const reader = response.body.getReader();
      let head = new Uint8Array(0);
      while (initEnd(head) < 0) {
        const { done, value } = await reader.read();
        if (done) break;
        head = concat(head, value);
      }
      if (generation !== this.generation) return await quietCancel(reader);
      const mime = `video/mp4; codecs="${codecOf(head)}"`;
      if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
        return await this.loadBlob(reader, head, mediaStart, wallMs, generation);
      }
      if (!continuing || !this.sb || this.mime !== mime) await this.openSource(mime, mediaStart);
      await this.idle();
      this.sb.timestampOffset = (mediaStart - this.origin) / 1000;
      await this.append(head, generation);
      const target = (wallMs - this.origin) / 1000;
      let placed = continuing;
      if (!placed && this.isBuffered(target)) placed = await this.place(target, onPlaced);
      for (;;) {
        if (generation !== this.generation) return await quietCancel(reader);
        while (this.bufferedEnd() - this.video.currentTime > AHEAD_MAX_S && placed) {
          await sleep(500);
          if (generation !== this.generation) return await quietCancel(reader);
        }
        const { done, value } = await reader.read();
        if (done) break;
        await this.append(value, generation);
        if (!placed && this.isBuffered(target)) placed = await this.place(target, onPlaced);
      }
      if (!placed) {
        // The recording begins after the moment asked for: show its first picture.
        const b = this.video.buffered;
        await this.place(b.length ? Math.max(target, b.start(0)) : target, onPlaced);
      }
    } catch (error) {
      if (error.name === "AbortError" || generation !== this.generation) return;
      if (continuing && error.status === 404) {
        this.continueAfterGap(wallMs);
        return;
      }
      const message = error instanceof ApiError ? error.message : problemText(0, { detail: String(error) });
      this.onError(message, error);
      if (!continuing) throw error;
    } finally {
      if (generation === this.generation) this.fetching = false;
    }
  }

  async place(target, onPlaced) {
    await this.setTime(target);
    onPlaced();
    return true;
  }

  async openSource(mime, mediaStart) {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    const ms = new MediaSource();
    this.objectUrl = URL.createObjectURL(ms);
    this.video.src = this.objectUrl;
    await new Promise((resolve) => ms.addEventListener("sourceopen", resolve, { once: true }));
    this.ms = ms;
    this.sb = ms.addSourceBuffer(mime);
    this.sb.mode = "segments";
    this.mime = mime;
    this.origin = mediaStart;
    this.setRate(this.rate);
  }

  idle() {
    if (!this.sb || !this.sb.updating) return Promise.resolve();
    return new Promise((resolve) => this.sb.addEventListener("updateend", resolve, { once: true }));
  }

  async append(data, generation) {
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.idle();
      if (generation !== this.generation || !this.sb) return;
      try {
        this.sb.appendBuffer(data);
        await this.idle();
        return;
      } catch (error) {
        if (error.name !== "QuotaExceededError") throw error;
        // Full: drop what was played long ago, then wait for the playhead to move on.
        const behind = this.video.currentTime - 10;
        if (behind > 0) {
          this.sb.remove(0, behind);
          await this.idle();
        }
        await sleep(1000);
      }
    }
  }

  /** Without MSE (or for a codec it lacks), the element plays the whole response as one file. */
  async loadBlob(reader, head, mediaStart, wallMs, generation) {
    const parts = [head];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    if (generation !== this.generation) return;
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = URL.createObjectURL(new Blob(parts, { type: "video/mp4" }));
    this.sb = null;
    this.origin = mediaStart;
    this.video.src = this.objectUrl;
    await new Promise((resolve, reject) => {
      this.video.addEventListener("loadedmetadata", resolve, { once: true });
      this.video.addEventListener("error", () => reject(new Error(this.video.error?.message || "cannot play")), { once: true });
    });
    this.setRate(this.rate);
    await this.setTime((wallMs - mediaStart) / 1000);
  }

  /** Near the end of what is loaded: fetch what follows. */
  maybeContinue() {
    if (!this.sb || this.fetching || this.exhausted || this.origin === null) return;
    if (this.bufferedEnd() - this.video.currentTime > PREFETCH_S) return;
    this.load(this.origin + this.bufferedEnd() * 1000, true);
  }

  continueAfterGap(wallMs) {
    const next = this.nextRecording(wallMs);
    if (next === null || next === undefined) {
      this.exhausted = true;
      return;
    }
    this.load(next, true);
  }

  /** Stalled at the end of one loaded run while a later one is loaded: jump the hole. */
  skipHole() {
    const b = this.video.buffered;
    const now = this.video.currentTime;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) > now && (i === 0 || b.end(i - 1) <= now + 0.1)) {
        this.video.currentTime = b.start(i);
        return;
      }
    }
  }
}

/** Stop reading a superseded response. Awaited and quiet: an unawaited cancel() rejects later
 * with the abort's DOMException ("signal is aborted without reason"), which reached the screen. */
async function quietCancel(reader) {
  try {
    await reader.cancel();
  } catch { /* already aborted: nothing more to stop */ }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Offset after the complete 'moov' box (the init segment), or -1 while it is incomplete. */
function initEnd(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const size = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (size < 8 || offset + size > bytes.length) return -1;
    offset += size;
    if (type === "moov") return offset;
  }
  return -1;
}

/** The RFC 6381 codec string from the init segment's sample description. */
function codecOf(bytes) {
  const find = (name) => {
    for (let i = 4; i + 4 <= bytes.length; i++) {
      if (bytes[i] === name.charCodeAt(0) && bytes[i + 1] === name.charCodeAt(1)
          && bytes[i + 2] === name.charCodeAt(2) && bytes[i + 3] === name.charCodeAt(3)) return i + 4;
    }
    return -1;
  };
  const avc = find("avcC");
  if (avc > 0) {
    const hex = (n) => n.toString(16).padStart(2, "0");
    return `avc1.${hex(bytes[avc + 1])}${hex(bytes[avc + 2])}${hex(bytes[avc + 3])}`;
  }
  if (find("hvcC") > 0) return "hvc1.1.6.L93.B0";
  return "avc1.42E01E";
}
