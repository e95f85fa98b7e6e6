// WindingMachine: a signal wound around the origin, its centre of mass, and the
// almost-Fourier plot, all computed in the browser (same formulas as lib/fourier.py).

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "WindingMachine");
  const show = new Set(model.get("show"));
  const N = model.get("samples");
  const soundScale = model.get("sound_scale");
  let comps, offset, duration, f, fmax, scale, custom, recorded = null;
  function load() {
    comps = model.get("components").map((c) => ({ ...c }));
    offset = model.get("offset");
    duration = model.get("duration");
    f = model.get("winding_freq");
    fmax = model.get("freq_max");
    scale = model.get("scale");
    custom = model.get("custom").slice();
  }
  load();

  // ---------------------------------------------------------------- the mathematics
  let cache = null;  // {t, g, freqs, re, im} for the current signal
  function signal() {
    if (recorded) {
      const g = recorded.samples, t = new Float64Array(g.length);
      for (let k = 0; k < g.length; k++) t[k] = k / recorded.rate;
      return { t, g };
    }
    const n = custom.length ? custom.length : N;
    const t = new Float64Array(n), g = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      t[k] = (duration * k) / (n - 1);
      if (custom.length) { g[k] = custom[k]; continue; }
      let v = offset;
      for (const c of comps) v += c.amp * Math.cos(TAU * c.freq * t[k] + c.phase);
      g[k] = v;
    }
    return { t, g };
  }

  // Centre of mass at one frequency, by the trapezoidal rule (as lib.fourier.center_of_mass).
  function centerOfMass(t, g, freq) {
    let re = 0, im = 0;
    for (let k = 0; k + 1 < t.length; k++) {
      const dt = t[k + 1] - t[k];
      const a0 = -TAU * freq * t[k], a1 = -TAU * freq * t[k + 1];
      re += 0.5 * dt * (g[k] * Math.cos(a0) + g[k + 1] * Math.cos(a1));
      im += 0.5 * dt * (g[k] * Math.sin(a0) + g[k + 1] * Math.sin(a1));
    }
    const span = t[t.length - 1] - t[0];
    return scale === "average" ? [re / span, im / span] : [re, im];
  }

  // The whole curve: for each frequency, rotate step by step (one complex
  // multiplication per sample instead of a sine and a cosine).
  function transform(t, g) {
    const M = 400, freqs = new Float64Array(M), re = new Float64Array(M), im = new Float64Array(M);
    const n = t.length, dt = (t[n - 1] - t[0]) / (n - 1), span = t[n - 1] - t[0];
    for (let j = 0; j < M; j++) {
      const fr = (fmax * j) / (M - 1);
      freqs[j] = fr;
      const wr = Math.cos(-TAU * fr * dt), wi = Math.sin(-TAU * fr * dt);
      let zr = Math.cos(-TAU * fr * t[0]), zi = Math.sin(-TAU * fr * t[0]), sr = 0, si = 0;
      for (let k = 0; k < n; k++) {
        const w = k === 0 || k === n - 1 ? 0.5 : 1;
        sr += w * g[k] * zr; si += w * g[k] * zi;
        const nr = zr * wr - zi * wi; zi = zr * wi + zi * wr; zr = nr;
      }
      const s = scale === "average" ? dt / span : dt;
      re[j] = sr * s; im[j] = si * s;
    }
    return { freqs, re, im };
  }

  function current() {
    if (!cache) {
      const { t, g } = signal();
      cache = { t, g, ...transform(t, g) };
    }
    return cache;
  }

  // ---------------------------------------------------------------- the views
  const W = 650;
  const sig = FC.canvas(W, 150, "The signal g(t) against time");
  const wound = FC.canvas(290, 290, "The signal wound around the origin, with its centre of mass in red");
  const spec = FC.canvas(350, 300, "The centre of mass against the winding frequency");
  const readout = FC.h("div", { class: "fc-readout" });
  const note = FC.h("div", { class: "fc-note", "aria-live": "polite" });
  const controls = FC.h("div", { class: "fc-controls" });
  const buttons = FC.h("div", { class: "fc-buttons" });
  if (model.get("title")) root.append(FC.h("div", { class: "fc-title" }, model.get("title")));
  root.append(sig.canvas, FC.h("div", { class: "fc-row", style: "margin-top:10px" }, wound.canvas, spec.canvas),
              controls, buttons, readout, note);

  function drawSignal(c) {
    const { ctx } = sig;
    ctx.clearRect(0, 0, W, 150);
    let lo = 0, hi = 0;
    for (const v of c.g) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const pad = 0.1 * (hi - lo || 1);
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: W, h: 150 }, {
      xlim: [c.t[0], c.t[c.t.length - 1]], ylim: [lo - pad, hi + pad], xlabel: "time t (seconds)", ylabel: "g(t)",
    });
    FC.polyline(ctx, c.t, c.g, map, th.blue, 1.8);
    if (drawing) {
      ctx.fillStyle = th.red; ctx.font = `12px ${th.font}`; ctx.textAlign = "right";
      ctx.fillText("draw: drag across the plot", map.R - 4, map.T + 10);
    }
    sigMap = map;
  }
  let sigMap = null;

  function drawWound(c, com) {
    const { ctx } = wound;
    const C = 145;
    ctx.clearRect(0, 0, 290, 290);
    let r = 0;
    for (const v of c.g) r = Math.max(r, Math.abs(v));
    const R = 122 / (r || 1);
    ctx.strokeStyle = th.grid; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.arc(C, C, R * r, 0, TAU); ctx.stroke();
    ctx.strokeStyle = th.muted;
    ctx.beginPath(); ctx.moveTo(8, C); ctx.lineTo(282, C); ctx.moveTo(C, 8); ctx.lineTo(C, 282); ctx.stroke();
    ctx.strokeStyle = th.blue; ctx.lineWidth = 1.2; ctx.globalAlpha = 0.85;
    ctx.beginPath();
    for (let k = 0; k < c.t.length; k++) {
      const a = -TAU * f * c.t[k];
      const x = C + R * c.g[k] * Math.cos(a), y = C - R * c.g[k] * Math.sin(a);
      if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    // the centre of mass (clamped to the picture, with its true value in the readout)
    let [cx, cy] = [C + R * com[0], C - R * com[1]];
    const out = cx < 6 || cx > 284 || cy < 6 || cy > 284;
    cx = Math.min(284, Math.max(6, cx)); cy = Math.min(284, Math.max(6, cy));
    ctx.strokeStyle = th.red; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(C, C); ctx.lineTo(cx, cy); ctx.stroke();
    FC.dot(ctx, cx, cy, out ? 5 : 7, th.red, th.paper);
    ctx.font = `11px ${th.font}`; ctx.textAlign = "left";
    // captions on a paper-coloured band, so the axes and the trace never run through their letters
    const caption = (text, y, color) => {
      ctx.fillStyle = th.paper; ctx.globalAlpha = 0.9;
      ctx.fillRect(4, y - 11, ctx.measureText(text).width + 8, 15);
      ctx.globalAlpha = 1; ctx.fillStyle = color; ctx.fillText(text, 8, y);
    };
    caption(`winding at ${f.toFixed(2)} turns per second`, 16, th.muted);
    if (out) caption("centre of mass is off the picture", 280, th.red);
  }

  function drawSpectrum(c, com) {
    const { ctx } = spec;
    ctx.clearRect(0, 0, 350, 300);
    const mag = Array.from(c.re, (v, j) => Math.hypot(v, c.im[j]));
    const ys = model.get("plot") === "magnitude" ? mag : c.re;
    let lo = 0, hi = 0;
    for (const v of ys) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (const v of mag) hi = Math.max(hi, v);
    const pad = 0.08 * (hi - lo || 1);
    const label = scale === "average" ? "centre of mass" : "integral (no 1/T)";
    const legend = model.get("plot") === "magnitude"
      ? [{ label: `|${label}|`, color: th.purple }]
      : [{ label: "x-coordinate", color: th.blue }, { label: "distance from origin", color: th.purple }];
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: 350, h: 300 }, {
      xlim: [0, fmax], ylim: [lo - pad, hi + pad], xlabel: "winding frequency f", ylabel: "", legend,
    });
    ctx.strokeStyle = th.muted; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(map.L, map.y(0)); ctx.lineTo(map.R, map.y(0)); ctx.stroke();
    if (model.get("plot") !== "magnitude") FC.polyline(ctx, c.freqs, mag, map, th.purple, 1.2, [4, 3]);
    FC.polyline(ctx, c.freqs, ys, map, model.get("plot") === "magnitude" ? th.purple : th.blue, 2);
    ctx.strokeStyle = th.red; ctx.lineWidth = 1.2; ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(map.x(f), map.T); ctx.lineTo(map.x(f), map.B); ctx.stroke(); ctx.setLineDash([]);
    const yv = model.get("plot") === "magnitude" ? Math.hypot(com[0], com[1]) : com[0];
    FC.dot(ctx, map.x(f), map.y(yv), 6, th.red, th.paper);
  }

  function item(label, value) {
    return FC.h("div", { class: "fc-item" }, FC.h("span", {}, label), FC.h("span", {}, value));
  }

  function draw() {
    const c = current();
    const com = centerOfMass(c.t, c.g, f);
    drawSignal(c);
    drawWound(c, com);
    drawSpectrum(c, com);
    readout.replaceChildren(
      item("winding frequency", `${f.toFixed(3)} per second`),
      item(scale === "average" ? "centre of mass" : "integral (no 1/T)", FC.complex(com[0], com[1], 4)),
      item("distance from origin", Math.hypot(com[0], com[1]).toFixed(4)),
      item("angle (phase)", FC.degrees(Math.atan2(com[1], com[0]))),
    );
    FC.frame(root, {
      winding_freq: f, com, duration, offset, samples: N, scale, components: comps.map((x) => ({ ...x })),
      custom: custom.length, recorded: !!recorded,
    });
  }

  // ---------------------------------------------------------------- controls
  const sliders = {};
  function addSlider(name, spec_) {
    const s = FC.slider({ ...spec_, oninput: (v) => { spec_.set(v); if (spec_.signal) cache = null; sync(spec_.trait); draw(); } });
    sliders[name] = { ...s, refresh: () => s.set(spec_.get()) };
    controls.append(s.row);
  }
  function sync(trait) {
    if (!trait) return;
    const values = { winding_freq: f, duration, offset, scale, components: comps.map((x) => ({ ...x })),
                     custom: custom.slice() };
    model.set(trait, values[trait]);
    FC.save(model);
  }
  if (show.has("winding")) {
    addSlider("winding", { label: "winding frequency f", min: 0, max: fmax, step: fmax / 1000, value: f,
      format: (v) => `${v.toFixed(2)} /s`, set: (v) => { f = v; }, get: () => f, trait: "winding_freq" });
  }
  comps.forEach((c, i) => {
    const names = ["first", "second"];
    if (show.has(`freq${i}`)) addSlider(`freq${i}`, { label: `${names[i]} tone: frequency`, min: 0.1, max: fmax, step: 0.01,
      value: c.freq, format: (v) => `${v.toFixed(2)} /s`, set: (v) => { comps[i].freq = v; }, get: () => comps[i].freq, signal: true, trait: "components" });
    if (show.has(`amp${i}`)) addSlider(`amp${i}`, { label: `${names[i]} tone: amplitude`, min: 0, max: 2, step: 0.01,
      value: c.amp, format: (v) => v.toFixed(2), set: (v) => { comps[i].amp = v; }, get: () => comps[i].amp, signal: true, trait: "components" });
    if (show.has(`phase${i}`)) addSlider(`phase${i}`, { label: `${names[i]} tone: phase shift`, min: -Math.PI, max: Math.PI,
      step: 0.01, value: c.phase, format: (v) => FC.degrees(v, 0), set: (v) => { comps[i].phase = v; },
      get: () => comps[i].phase, signal: true, trait: "components" });
  });
  if (show.has("offset")) addSlider("offset", { label: "constant offset", min: -1, max: 2, step: 0.01, value: offset,
    format: (v) => v.toFixed(2), set: (v) => { offset = v; }, get: () => offset, signal: true, trait: "offset" });
  if (show.has("duration")) addSlider("duration", { label: "signal length", min: 0.5, max: 10, step: 0.1, value: duration,
    format: (v) => `${v.toFixed(1)} s`, set: (v) => { duration = v; }, get: () => duration, signal: true, trait: "duration" });
  if (show.has("scale")) {
    const box = FC.h("input", { type: "checkbox", "aria-label": "divide by the signal length" });
    box.checked = scale === "average";
    box.addEventListener("change", () => { scale = box.checked ? "average" : "integral"; cache = null; sync("scale"); draw(); });
    controls.append(FC.h("label", { class: "fc-check" }, box, " divide by the signal length, 1/(t₂ − t₁) (centre of mass) — untick for the plain integral"));
  }

  // ---------------------------------------------------------------- draw your own
  let drawing = false;
  function button(label, onclick) {
    const b = FC.h("button", { type: "button", class: "fc-button" }, label);
    b.addEventListener("click", onclick);
    buttons.append(b);
    return b;
  }
  if (show.has("draw")) {
    const drawBtn = button("✎ Draw your own signal", () => {
      drawing = !drawing;
      if (drawing && !custom.length) {
        const c = current();
        custom = Array.from(c.g.length === N ? c.g : signal().g);
        recorded = null;
      }
      drawBtn.textContent = drawing ? "✓ Done drawing" : "✎ Draw your own signal";
      sig.canvas.style.cursor = drawing ? "crosshair" : "";
      draw();
    });
    button("↺ Back to the tones", () => {
      custom = []; recorded = null; drawing = false; cache = null;
      drawBtn.textContent = "✎ Draw your own signal"; sig.canvas.style.cursor = "";
      sync("custom"); note.textContent = ""; draw();
    });
    let last = null;
    const paint = (ev) => {
      if (!drawing || !sigMap) return;
      const r = sig.canvas.getBoundingClientRect();
      const x = (ev.clientX - r.left) * (W / r.width), y = (ev.clientY - r.top) * (150 / r.height);
      const n = custom.length;
      const k = Math.round(((x - sigMap.L) / (sigMap.R - sigMap.L)) * (n - 1));
      const lo = sigMap.y(1), hi = sigMap.y(0);  // pixels per unit from the current axes
      const v = (hi - y) / (hi - lo);
      if (k < 0 || k >= n) return;
      const from = last === null ? k : last.k, fromV = last === null ? v : last.v;
      const [a, b] = from <= k ? [from, k] : [k, from];
      for (let j = a; j <= b; j++) custom[j] = b === a ? v : fromV + ((v - fromV) * (j - from)) / (k - from);
      last = { k, v };
      cache = null;
      draw();
    };
    sig.canvas.addEventListener("pointerdown", (ev) => { if (drawing) { last = null; sig.canvas.setPointerCapture(ev.pointerId); paint(ev); } });
    sig.canvas.addEventListener("pointermove", (ev) => { if (drawing && ev.buttons) paint(ev); });
    sig.canvas.addEventListener("pointerup", () => { last = null; if (drawing) sync("custom"); });
  }

  // ---------------------------------------------------------------- sound
  const AC = window.AudioContext || window.webkitAudioContext;
  if (show.has("sound")) {
    button("▶ Listen", () => {
      if (!AC) { note.textContent = "This browser has no Web Audio, so the signal cannot be played."; return; }
      const ac = new AC(), secs = 2, rate = ac.sampleRate, buf = ac.createBuffer(1, secs * rate, rate);
      const d = buf.getChannelData(0), c = current();
      for (let i = 0; i < d.length; i++) {
        const tt = i / rate;
        if (recorded) d[i] = recorded.samples[i % recorded.samples.length];
        else if (custom.length) {  // the drawn curve as one period, repeated 220 times a second
          const x = ((tt * 220) % 1) * (custom.length - 1), k = Math.floor(x);
          d[i] = custom[k] + (custom[Math.min(k + 1, custom.length - 1)] - custom[k]) * (x - k);
        } else {
          let v = 0;
          for (const cp of comps) v += cp.amp * Math.cos(TAU * cp.freq * (soundScale || 1) * tt + cp.phase);
          d[i] = v;
        }
      }
      let mean = 0, peak = 0;
      for (const v of d) mean += v / d.length;
      for (let i = 0; i < d.length; i++) { d[i] -= mean; peak = Math.max(peak, Math.abs(d[i])); }
      const fade = Math.floor(0.02 * rate);
      for (let i = 0; i < d.length; i++) {
        const ramp = Math.min(1, i / fade, (d.length - 1 - i) / fade);
        d[i] = peak > 0 ? (0.3 * d[i] * ramp) / peak : 0;
      }
      const src = ac.createBufferSource();
      src.buffer = buf; src.connect(ac.destination); src.start();
      src.onended = () => ac.close();
      const hz = recorded ? "your recording" : custom.length ? "your drawing, repeated 220 times a second"
        : comps.map((cp) => `${(cp.freq * (soundScale || 1)).toFixed(1)} Hz`).join(" + ");
      note.textContent = `Playing ${hz} for ${secs} seconds.`;
      c.played = true;
    });
  }
  if (show.has("record")) {
    button("● Record yourself (0.7 s)", async () => {
      if (!AC || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        note.textContent = "This page cannot use a microphone here (browsers allow it only on https or localhost pages).";
        return;
      }
      let stream;
      try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); }
      catch (e) { note.textContent = `No microphone: ${e.message || e}`; return; }
      const ac = new AC(), an = ac.createAnalyser();
      an.fftSize = 32768;
      ac.createMediaStreamSource(stream).connect(an);
      note.textContent = "Recording… sing or play a steady note.";
      await new Promise((r) => setTimeout(r, 900));
      const raw = new Float32Array(an.fftSize);
      an.getFloatTimeDomainData(raw);
      stream.getTracks().forEach((tr) => tr.stop());
      const rate = ac.sampleRate / 4, samples = new Float64Array(raw.length / 4);
      for (let k = 0; k < samples.length; k++) samples[k] = (raw[4 * k] + raw[4 * k + 1] + raw[4 * k + 2] + raw[4 * k + 3]) / 4;
      ac.close();
      recorded = { rate, samples };
      custom = [];
      fmax = 1000;
      f = Math.min(f, fmax);
      if (sliders.winding) { Object.assign(sliders.winding.input, { max: 1000, step: 0.5 }); sliders.winding.refresh(); }
      cache = null;
      note.textContent = `Recorded ${samples.length} samples (${(samples.length / rate).toFixed(2)} s). Slide the winding frequency up to 1000 turns a second and look for peaks.`;
      draw();
    });
  }

  for (const name of ["components", "offset", "duration", "winding_freq", "scale", "custom", "freq_max"]) {
    model.on(`change:${name}`, () => { load(); cache = null; for (const s of Object.values(sliders)) s.refresh(); draw(); });
  }
  draw();
}

export default { render };
