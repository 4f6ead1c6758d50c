// Offline player of a case package: every clip on one wall-clock timeline, each with the
// timecode of the picture shown (media time t of a clip is the wall clock media_start + t).
"use strict";

(function () {
  const data = window.VMS_CASE;
  const zone = "Asia/Ho_Chi_Minh";
  const clips = data.clips.map((clip) => ({
    ...clip,
    start: Date.parse(clip.media_start),
    first: Date.parse(clip.first_frame),
    last: Date.parse(clip.last_frame),
  }));
  const begin = Math.min(...clips.map((c) => c.first));
  const finish = Math.max(...clips.map((c) => c.last));
  let wall = begin;
  let playing = false;
  let lastTick = 0;

  function pad(n, width) { return String(n).padStart(width, "0"); }

  // "2026-05-01 08:00:03.120 (UTC+7)": milliseconds rounded, never a raw float.
  function format(ms) {
    const local = new Date(Math.round(ms) + 7 * 3600 * 1000);
    // dd/mm/yyyy HH:mm:ss.mmm, 24 h, as everywhere in vms (issue 14), whatever the viewer's locale.
    return `${pad(local.getUTCDate(), 2)}/${pad(local.getUTCMonth() + 1, 2)}/${local.getUTCFullYear()} ` +
      `${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}.` +
      `${pad(local.getUTCMilliseconds(), 3)} (UTC+7, ${zone})`;
  }

  document.getElementById("title").textContent = `${data.case.number} — ${data.case.title}`;
  const main = document.getElementById("clips");
  for (const clip of clips) {
    const figure = document.createElement("figure");
    const video = document.createElement("video");
    video.src = clip.file;
    video.preload = "auto";
    video.muted = true;
    video.controls = true;
    const code = document.createElement("div");
    code.className = "timecode";
    const caption = document.createElement("figcaption");
    caption.textContent = `${clip.camera.name || clip.camera.id} (${clip.camera.id}) — ${clip.file}` +
      (clip.note ? ` — ${clip.note}` : "");
    figure.append(video, code, caption);
    main.append(figure);
    clip.video = video;
    clip.code = code;
    video.addEventListener("timeupdate", () => showCode(clip));
    video.addEventListener("seeked", () => showCode(clip));
  }

  function showCode(clip) {
    const shown = clip.start + clip.video.currentTime * 1000;
    clip.code.textContent = format(shown);
    clip.code.classList.toggle("outside", shown < clip.first || shown > clip.last + 1000);
  }

  function place(clip) {
    const offset = (wall - clip.start) / 1000;
    const inside = wall >= clip.first && wall <= clip.last;
    if (!inside) {
      clip.video.pause();
      clip.video.currentTime = Math.max(0, Math.min(offset, clip.video.duration || 0));
      return;
    }
    if (Math.abs(clip.video.currentTime - offset) > 0.08) clip.video.currentTime = offset;
    if (playing && clip.video.paused) clip.video.play().catch(() => {});
    if (!playing && !clip.video.paused) clip.video.pause();
  }

  function render() {
    document.getElementById("clock").textContent = format(wall);
    document.getElementById("scrub").value = String(Math.round(((wall - begin) / Math.max(finish - begin, 1)) * 1000));
    for (const clip of clips) showCode(clip);
  }

  function tick(now) {
    if (playing) {
      wall = Math.min(finish, wall + (lastTick ? now - lastTick : 0));
      lastTick = now;
      if (wall >= finish) playing = false;
      for (const clip of clips) {
        if (wall >= clip.first && wall <= clip.last) {
          if (clip.video.paused) place(clip);
        } else if (!clip.video.paused) {
          clip.video.pause();
        }
      }
    }
    render();
    requestAnimationFrame(tick);
  }

  document.getElementById("play").addEventListener("click", () => {
    playing = true;
    lastTick = 0;
    for (const clip of clips) place(clip);
  });
  document.getElementById("pause").addEventListener("click", () => {
    playing = false;
    for (const clip of clips) clip.video.pause();
  });
  document.getElementById("scrub").addEventListener("input", (event) => {
    wall = begin + (Number(event.target.value) / 1000) * (finish - begin);
    for (const clip of clips) place(clip);
  });
  for (const clip of clips) clip.video.addEventListener("loadedmetadata", () => place(clip));
  requestAnimationFrame(tick);
})();
