// The alarm sound: a short two-tone beep generated here as a WAV (no file to ship), played by an
// <audio> element. Muting is remembered per user in this browser.

const RATE = 8000;
const TONES = [[880, 0.18], [0, 0.06], [660, 0.22]]; // (Hz, seconds); 0 Hz is a pause

/** A 16-bit mono PCM WAV of the beep, as a Blob. */
export function beepWav() {
  const samples = [];
  for (const [hz, seconds] of TONES) {
    const count = Math.round(RATE * seconds);
    for (let i = 0; i < count; i += 1) {
      // A short fade in and out avoids clicks at the tone's edges.
      const edge = Math.min(1, i / 80, (count - i) / 80);
      samples.push(hz ? Math.sin((2 * Math.PI * hz * i) / RATE) * 0.6 * edge : 0);
    }
  }
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, value) => [...value].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, RATE, true);
  view.setUint32(28, RATE * 2, true); // bytes per second
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.round(s * 32767), true));
  return new Blob([buffer], { type: "audio/wav" });
}

export class AlarmSound {
  constructor(username) {
    this.key = `vms.alarm.muted.${username || ""}`;
    this.plays = 0; // times the element started playing
    this.attempts = 0; // times it was asked to (not muted)
    this.audio = document.createElement("audio");
    this.audio.id = "alarm-sound";
    this.audio.preload = "auto";
    this.audio.src = URL.createObjectURL(beepWav());
    this.audio.addEventListener("playing", () => { this.plays += 1; this.audio.dataset.plays = String(this.plays); });
    document.body.append(this.audio);
  }

  get muted() {
    return localStorage.getItem(this.key) === "1";
  }

  set muted(value) {
    localStorage.setItem(this.key, value ? "1" : "0");
  }

  play() {
    if (this.muted) return;
    this.attempts += 1;
    this.audio.currentTime = 0;
    // Browsers refuse sound before the first click on the page; the sign-in click counts.
    this.audio.play().catch((error) => console.debug("alarm sound refused:", error.name));
  }
}
