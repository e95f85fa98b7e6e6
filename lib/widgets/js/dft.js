// DFTExplorer: sample a tone (or two) n times and take the DFT in the browser,
// X_k = Σ x_j e^{-2πi jk/n}, exactly as lib.fourier.dft does.

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "DFTExplorer");
  let n = model.get("n"), k1 = model.get("freq"), a2 = model.get("amp2"), k2 = model.get("freq2");
  const top = FC.canvas(650, 170, "The samples of the signal");
  const bottom = FC.canvas(650, 200, "The magnitude of the DFT of the samples");
  const readout = FC.h("div", { class: "fc-readout" });
  const sliders = [
    FC.slider({ label: "samples n", min: 4, max: 128, step: 1, value: n, format: (v) => String(v), oninput: (v) => { n = v; sync(); draw(); } }),
    FC.slider({ label: "tone: cycles in the window", min: 0, max: 20, step: 0.05, value: k1, format: (v) => v.toFixed(2), oninput: (v) => { k1 = v; sync(); draw(); } }),
    FC.slider({ label: "second tone: cycles", min: 0, max: 20, step: 0.05, value: k2, format: (v) => v.toFixed(2), oninput: (v) => { k2 = v; sync(); draw(); } }),
    FC.slider({ label: "second tone: amplitude", min: 0, max: 1, step: 0.01, value: a2, format: (v) => v.toFixed(2), oninput: (v) => { a2 = v; sync(); draw(); } }),
  ];
  root.append(FC.h("div", { class: "fc-title" }, "Sampling turns the integral into a sum: the DFT"), top.canvas, bottom.canvas,
              FC.h("div", { class: "fc-controls" }, ...sliders.map((s) => s.row)), readout);
  function sync() { model.set("n", n); model.set("freq", k1); model.set("freq2", k2); model.set("amp2", a2); FC.save(model); }

  const g = (t) => Math.cos(TAU * k1 * t) + a2 * Math.cos(TAU * k2 * t);

  function draw() {
    const x = Array.from({ length: n }, (_, j) => g(j / n));
    const re = new Array(n).fill(0), im = new Array(n).fill(0);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) {
        const a = (-TAU * ((j * k) % n)) / n;
        re[k] += x[j] * Math.cos(a); im[k] += x[j] * Math.sin(a);
      }
    }
    const mag = re.map((v, k) => Math.hypot(v, im[k]));
    // samples over the continuous signal
    let ctx = top.ctx;
    ctx.clearRect(0, 0, 650, 170);
    let map = FC.axes(ctx, th, { x: 0, y: 0, w: 650, h: 170 }, { xlim: [0, 1], ylim: [-2.1, 2.1], xlabel: "time (one window)", ylabel: "signal" });
    const ts = Array.from({ length: 600 }, (_, i) => i / 599);
    FC.polyline(ctx, ts, ts.map(g), map, th.grid, 1.5);
    x.forEach((v, j) => {
      ctx.strokeStyle = th.blue; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(map.x(j / n), map.y(0)); ctx.lineTo(map.x(j / n), map.y(v)); ctx.stroke();
      FC.dot(ctx, map.x(j / n), map.y(v), 3, th.blue);
    });
    // spectrum
    ctx = bottom.ctx;
    ctx.clearRect(0, 0, 650, 200);
    const hi = Math.max(1, ...mag);
    map = FC.axes(ctx, th, { x: 0, y: 0, w: 650, h: 200 }, { xlim: [-0.5, n - 0.5], ylim: [0, hi * 1.08], xlabel: "frequency bin k", ylabel: "|X_k|" });
    const bw = Math.max(1, (map.x(1) - map.x(0)) * 0.7);
    mag.forEach((v, k) => {
      ctx.fillStyle = k <= n / 2 ? th.orange : th.muted;
      ctx.fillRect(map.x(k) - bw / 2, map.y(v), bw, map.y(0) - map.y(v));
    });
    const peak = mag.slice(0, Math.floor(n / 2) + 1).reduce((b, v, k, arr) => (v > arr[b] ? k : b), 0);
    const aliased = k1 > n / 2 || (a2 > 0 && k2 > n / 2);
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "tallest bin (k ≤ n/2)"), FC.h("span", {}, `k = ${peak}`)),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "its height"), FC.h("span", {}, mag[peak].toFixed(3))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "highest frequency n samples can show"), FC.h("span", {}, `${(n / 2).toFixed(1)} cycles`)),
    );
    if (aliased) readout.append(FC.h("div", { class: "fc-item" }, FC.h("span", {}, "note"), FC.h("span", { style: `color:${th.red}` }, "above n/2: aliased")));
    FC.frame(root, { n, freq: k1, freq2: k2, amp2: a2, re, im });
  }
  draw();
}

export default { render };
