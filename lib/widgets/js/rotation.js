// ComplexRotation: e^{iθ} on the unit circle, computed and drawn in the browser.

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "ComplexRotation");
  const plane = FC.canvas(300, 300, "The complex plane: the point e^{iθ} on the unit circle, with its real part cos θ and imaginary part sin θ");
  const waves = FC.canvas(340, 300, "cos θ and sin θ plotted against θ");
  plane.canvas.tabIndex = 0;
  const readout = FC.h("div", { class: "fc-readout" });
  let theta = model.get("theta");

  const slider = FC.slider({
    label: "angle θ", min: 0, max: TAU, step: 0.01, value: theta,
    format: (v) => `${v.toFixed(2)} rad (${(v * 180 / Math.PI).toFixed(0)}°)`,
    oninput: (v) => set(v),
  });
  root.append(
    FC.h("div", { class: "fc-title" }, "Multiplying by e", FC.h("sup", {}, "iθ"), " turns the plane by θ"),
    FC.h("div", { class: "fc-row" }, plane.canvas, waves.canvas),
    FC.h("div", { class: "fc-controls" }, slider.row),
    readout,
  );

  function set(v, fromModel = false) {
    theta = Math.min(TAU, Math.max(0, Number.isFinite(v) ? v : 0));
    slider.set(theta);
    draw();
    if (!fromModel) { model.set("theta", theta); FC.save(model); }
  }

  // Plane geometry: unit circle of radius R pixels centred in the canvas.
  const C = 150, R = 110;
  const toPx = (re, im) => [C + R * re, C - R * im];

  function draw() {
    const re = Math.cos(theta), im = Math.sin(theta);
    // --- the complex plane
    const { ctx } = plane;
    ctx.clearRect(0, 0, 300, 300);
    ctx.font = `12px ${th.font}`;
    ctx.strokeStyle = th.grid; ctx.lineWidth = 1;
    for (const g of [-1, -0.5, 0.5, 1]) {
      ctx.beginPath(); ctx.moveTo(...toPx(g, -1.25)); ctx.lineTo(...toPx(g, 1.25)); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(...toPx(-1.25, g)); ctx.lineTo(...toPx(1.25, g)); ctx.stroke();
    }
    ctx.strokeStyle = th.muted;
    ctx.beginPath(); ctx.moveTo(...toPx(-1.3, 0)); ctx.lineTo(...toPx(1.3, 0)); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(...toPx(0, -1.3)); ctx.lineTo(...toPx(0, 1.3)); ctx.stroke();
    ctx.fillStyle = th.muted;
    ctx.fillText("Re", ...toPx(1.2, 0.06));
    ctx.fillText("Im", ...toPx(0.05, 1.22));
    ctx.fillText("1", ...toPx(1.02, -0.1));
    ctx.fillText("i", ...toPx(0.05, 1.02));
    ctx.strokeStyle = th.ink; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(C, C, R, 0, TAU); ctx.stroke();
    // the angle swept so far
    ctx.strokeStyle = th.purple; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.arc(C, C, 26, 0, -theta, true); ctx.stroke();
    // projections
    const [px, py] = toPx(re, im);
    ctx.setLineDash([4, 3]); ctx.lineWidth = 1.5;
    ctx.strokeStyle = th.green; ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(px, C); ctx.stroke();
    ctx.strokeStyle = th.orange; ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(C, py); ctx.stroke();
    ctx.setLineDash([]); ctx.lineWidth = 4;
    ctx.strokeStyle = th.orange; ctx.beginPath(); ctx.moveTo(C, C); ctx.lineTo(px, C); ctx.stroke();
    ctx.strokeStyle = th.green; ctx.beginPath(); ctx.moveTo(C, C); ctx.lineTo(C, py); ctx.stroke();
    // the vector e^{iθ}
    ctx.strokeStyle = th.blue; ctx.lineWidth = 2.5;
    ctx.beginPath(); ctx.moveTo(C, C); ctx.lineTo(px, py); ctx.stroke();
    FC.dot(ctx, px, py, 7, th.blue, th.paper);
    ctx.fillStyle = th.blue; ctx.font = `bold 13px ${th.font}`;
    FC.power(ctx, th, "e", "iθ", px + (re >= 0 ? 10 : -34), py + (im >= 0 ? -8 : 20));

    // --- the waves
    const w = waves.ctx;
    w.clearRect(0, 0, 340, 300);
    const map = FC.axes(w, th, { x: 0, y: 0, w: 340, h: 300 }, {
      xlim: [0, TAU], ylim: [-1.2, 1.2], xlabel: "θ (radians)", ylabel: "value",
      xticks: [0, Math.PI / 2, Math.PI, 3 * Math.PI / 2, TAU], xtickLabels: ["0", "π/2", "π", "3π/2", "2π"],
      legend: [{ label: "cos θ (real part)", color: th.orange }, { label: "sin θ (imaginary part)", color: th.green }],
    });
    const xs = Array.from({ length: 200 }, (_, i) => (i / 199) * TAU);
    FC.polyline(w, xs, xs.map(Math.cos), map, th.orange, 2);
    FC.polyline(w, xs, xs.map(Math.sin), map, th.green, 2);
    w.strokeStyle = th.purple; w.lineWidth = 1.5; w.setLineDash([4, 3]);
    w.beginPath(); w.moveTo(map.x(theta), map.T); w.lineTo(map.x(theta), map.B); w.stroke(); w.setLineDash([]);
    FC.dot(w, map.x(theta), map.y(re), 5, th.orange, th.paper);
    FC.dot(w, map.x(theta), map.y(im), 5, th.green, th.paper);

    readout.replaceChildren(
      item("θ", `${theta.toFixed(3)} rad`),
      item(["e", FC.h("sup", {}, "iθ"), " = cos θ + i sin θ"], FC.complex(re, im, 3)),
      item(["|e", FC.h("sup", {}, "iθ"), "|"], Math.hypot(re, im).toFixed(3)),
    );
    FC.frame(root, { theta, re, im });
  }

  function item(label, value) {
    return FC.h("div", { class: "fc-item" }, FC.h("span", {}, ...[].concat(label)), FC.h("span", {}, value));
  }

  // Mouse and touch: drag the point round the circle.
  let dragging = false;
  const angleAt = (ev) => {
    const r = plane.canvas.getBoundingClientRect();
    const x = (ev.clientX - r.left) * (300 / r.width) - C, y = C - (ev.clientY - r.top) * (300 / r.height);
    const a = Math.atan2(y, x);
    return a < 0 ? a + TAU : a;
  };
  plane.canvas.addEventListener("pointerdown", (ev) => { dragging = true; plane.canvas.setPointerCapture(ev.pointerId); set(angleAt(ev)); });
  plane.canvas.addEventListener("pointermove", (ev) => { if (dragging) set(angleAt(ev)); });
  plane.canvas.addEventListener("pointerup", () => { dragging = false; });
  // Keyboard on the picture: arrows turn by 0.05 rad.
  plane.canvas.addEventListener("keydown", (ev) => {
    const d = { ArrowRight: 0.05, ArrowUp: 0.05, ArrowLeft: -0.05, ArrowDown: -0.05 }[ev.key];
    if (d !== undefined) { ev.preventDefault(); set(theta + d); }
  });
  model.on("change:theta", () => { if (model.get("theta") !== theta) set(model.get("theta"), true); });
  draw();
}

export default { render };
