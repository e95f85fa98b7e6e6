// TaylorSeries: e^{iθ} = Σ (iθ)^k / k!, drawn as a chain of arrows that turns
// a quarter turn at every term and homes in on the unit circle.

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "TaylorSeries");
  let theta = model.get("theta"), terms = model.get("terms");
  const pic = FC.canvas(640, 330, "Partial sums of the exponential series of iθ, as a chain of arrows");
  const readout = FC.h("div", { class: "fc-readout" });
  const s1 = FC.slider({ label: "angle θ", min: 0, max: 2 * Math.PI, step: 0.01, value: theta,
    format: (v) => `${v.toFixed(2)} rad`, oninput: (v) => { theta = v; sync(); draw(); } });
  const s2 = FC.slider({ label: "terms of the series", min: 1, max: 20, step: 1, value: terms,
    format: (v) => String(v), oninput: (v) => { terms = v; sync(); draw(); } });
  root.append(FC.h("div", { class: "fc-title" }, "e", FC.h("sup", {}, "iθ"), " = 1 + iθ + (iθ)²/2! + (iθ)³/3! + …"),
              pic.canvas, FC.h("div", { class: "fc-controls" }, s1.row, s2.row), readout);
  function sync() { model.set("theta", theta); model.set("terms", terms); FC.save(model); }

  function draw() {
    const { ctx } = pic;
    ctx.clearRect(0, 0, 640, 330);
    // the terms (iθ)^k / k!: each is the previous times iθ/k, a quarter turn and a rescale
    const pts = [[0, 0]];
    let tr = 1, ti = 0, sr = 0, si = 0;
    for (let k = 0; k < terms; k++) {
      if (k > 0) { const nr = (-ti * theta) / k, ni = (tr * theta) / k; tr = nr; ti = ni; }
      sr += tr; si += ti;
      pts.push([sr, si]);
    }
    let ext = 1.2;
    for (const [x, y] of pts) ext = Math.max(ext, Math.abs(x) * 0.75, Math.abs(y) + 0.2);
    const unit = Math.min(130, 150 / ext);
    const cx = 320, cy = 165;
    const P = ([x, y]) => [cx + unit * x, cy - unit * y];
    ctx.strokeStyle = th.muted; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, cy); ctx.lineTo(640, cy); ctx.moveTo(cx, 0); ctx.lineTo(cx, 330); ctx.stroke();
    ctx.strokeStyle = th.ink; ctx.lineWidth = 1.2;
    ctx.beginPath(); ctx.arc(cx, cy, unit, 0, TAU); ctx.stroke();
    for (let k = 0; k + 1 < pts.length; k++) {
      const [x0, y0] = P(pts[k]), [x1, y1] = P(pts[k + 1]);
      ctx.strokeStyle = th.cycle[k % th.cycle.length]; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
      const a = Math.atan2(y1 - y0, x1 - x0), len = Math.hypot(x1 - x0, y1 - y0);
      if (len > 8) {
        ctx.fillStyle = ctx.strokeStyle; ctx.beginPath(); ctx.moveTo(x1, y1);
        ctx.lineTo(x1 - 8 * Math.cos(a - 0.4), y1 - 8 * Math.sin(a - 0.4)); ctx.lineTo(x1 - 8 * Math.cos(a + 0.4), y1 - 8 * Math.sin(a + 0.4)); ctx.fill();
      }
    }
    const target = [Math.cos(theta), Math.sin(theta)];
    FC.dot(ctx, ...P(target), 6, th.paper, th.ink);
    FC.dot(ctx, ...P(pts[pts.length - 1]), 4, th.red);
    ctx.fillStyle = th.ink; FC.power(ctx, th, "e", "iθ", P(target)[0] + 8, P(target)[1] - 8);
    const err = Math.hypot(sr - target[0], si - target[1]);
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, `sum of the first ${terms} terms`), FC.h("span", {}, FC.complex(sr, si, 4))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "cos θ + i sin θ"), FC.h("span", {}, FC.complex(target[0], target[1], 4))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "distance between them"), FC.h("span", {}, err.toExponential(2))),
    );
    FC.frame(root, { theta, terms, sum: [sr, si], error: err });
  }
  draw();
}

export default { render };
