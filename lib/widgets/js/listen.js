// Listen: play notes and chords with Web Audio, offline, and draw their waveform.

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "Listen");
  const presets = model.get("presets");  // [{label, freqs}]
  let current = 0, window_ms = model.get("window_ms");
  const pic = FC.canvas(650, 170, "The waveform of the selected sound");
  const note = FC.h("div", { class: "fc-note", "aria-live": "polite" });
  const buttons = FC.h("div", { class: "fc-buttons" });
  const s = FC.slider({ label: "time shown", min: 5, max: 60, step: 1, value: window_ms,
    format: (v) => `${v} ms`, oninput: (v) => { window_ms = v; draw(); } });
  root.append(FC.h("div", { class: "fc-title" }, model.get("title")), pic.canvas, buttons,
              FC.h("div", { class: "fc-controls" }, s.row), note);
  const AC = window.AudioContext || window.webkitAudioContext;

  presets.forEach((p, i) => {
    const b = FC.h("button", { type: "button", class: "fc-button" }, `▶ ${p.label}`);
    b.addEventListener("click", () => { current = i; draw(); play(p); });
    buttons.append(b);
  });

  function play(p) {
    if (!AC) { note.textContent = "This browser has no Web Audio, so nothing can be played."; return; }
    const ac = new AC(), secs = 1.5, rate = ac.sampleRate, buf = ac.createBuffer(1, Math.floor(secs * rate), rate);
    const d = buf.getChannelData(0), fade = Math.floor(0.02 * rate);
    for (let i = 0; i < d.length; i++) {
      let v = 0;
      for (const f of p.freqs) v += Math.cos(TAU * f * (i / rate));
      d[i] = (0.3 * v * Math.min(1, i / fade, (d.length - 1 - i) / fade)) / p.freqs.length;
    }
    const src = ac.createBufferSource();
    src.buffer = buf; src.connect(ac.destination); src.start();
    src.onended = () => ac.close();
    note.textContent = `Playing ${p.label}: ${p.freqs.map((f) => `${f.toFixed(1)} Hz`).join(" + ")}.`;
  }

  function draw() {
    const p = presets[current], { ctx } = pic;
    ctx.clearRect(0, 0, 650, 170);
    const ts = Array.from({ length: 800 }, (_, i) => (i / 799) * window_ms / 1000);
    const ys = ts.map((t) => p.freqs.reduce((v, f) => v + Math.cos(TAU * f * t), 0));
    const lim = p.freqs.length + 0.2;
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: 650, h: 170 }, { xlim: [0, window_ms], ylim: [-lim, lim],
      xlabel: "time (milliseconds)", ylabel: "pressure", title: p.label });
    FC.polyline(ctx, ts.map((t) => t * 1000), ys, map, th.purple, 1.8);
    FC.frame(root, { preset: p.label, window_ms });
  }
  draw();
}

export default { render };
