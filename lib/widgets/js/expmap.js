// ExpMap: z = x + iy on the left, e^z on the right. Sliding along the real axis
// stretches (e^x), sliding along the imaginary axis turns (angle y).

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const [root, th] = FC.root(el, "ExpMap");
  let x = model.get("x"), y = model.get("y");
  const left = FC.canvas(300, 300, "The input z = x + iy");
  const right = FC.canvas(330, 300, "The output e to the z");
  const readout = FC.h("div", { class: "fc-readout" });
  const sx = FC.slider({ label: "slide along real axis x", min: -1.5, max: 1, step: 0.01, value: x,
    format: (v) => v.toFixed(2), oninput: (v) => { x = v; sync(); draw(); } });
  const sy = FC.slider({ label: "slide along imaginary axis y", min: -Math.PI, max: Math.PI, step: 0.01, value: y,
    format: (v) => v.toFixed(2), oninput: (v) => { y = v; sync(); draw(); } });
  root.append(FC.h("div", { class: "fc-title" }, "The exponential turns sliding into stretching and turning"),
              FC.h("div", { class: "fc-row" }, left.canvas, right.canvas),
              FC.h("div", { class: "fc-controls" }, sx.row, sy.row), readout);
  function sync() { model.set("x", x); model.set("y", y); FC.save(model); }

  function axesAt(ctx, w, h, cx, cy, unit, label) {
    ctx.strokeStyle = th.grid; ctx.lineWidth = 1;
    for (let k = -6; k <= 6; k++) {
      ctx.beginPath(); ctx.moveTo(cx + k * unit, 0); ctx.lineTo(cx + k * unit, h); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, cy + k * unit); ctx.lineTo(w, cy + k * unit); ctx.stroke();
    }
    ctx.strokeStyle = th.muted;
    ctx.beginPath(); ctx.moveTo(0, cy); ctx.lineTo(w, cy); ctx.moveTo(cx, 0); ctx.lineTo(cx, h); ctx.stroke();
    ctx.fillStyle = th.muted; ctx.font = `12px ${th.font}`; ctx.textAlign = "left"; ctx.fillText(label, 8, 16);
  }

  function draw() {
    // input plane
    let ctx = left.ctx;
    ctx.clearRect(0, 0, 300, 300);
    const u = 55, cx = 200, cy = 150;
    const P = ([a, b]) => [cx + u * a, cy - u * b];
    axesAt(ctx, 300, 300, cx, cy, u, "input: z = x + iy");
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = th.orange; ctx.beginPath(); ctx.moveTo(...P([-3.5, y])); ctx.lineTo(...P([1.6, y])); ctx.stroke();
    ctx.strokeStyle = th.green; ctx.beginPath(); ctx.moveTo(...P([x, -3])); ctx.lineTo(...P([x, 3])); ctx.stroke();
    FC.dot(ctx, ...P([x, y]), 6, th.blue, th.paper);
    // output plane
    ctx = right.ctx;
    ctx.clearRect(0, 0, 330, 300);
    const U = 48, CX = 165, CY = 150;
    const Q = ([a, b]) => [CX + U * a, CY - U * b];
    axesAt(ctx, 330, 300, CX, CY, U, "output: e^z");
    const r = Math.exp(x);
    ctx.lineWidth = 2.5;
    // the horizontal line (fixed y) maps to a ray at angle y; the vertical line (fixed x) to a circle of radius e^x
    ctx.strokeStyle = th.orange; ctx.beginPath(); ctx.moveTo(CX, CY); ctx.lineTo(...Q([4 * Math.cos(y), 4 * Math.sin(y)])); ctx.stroke();
    ctx.strokeStyle = th.green; ctx.beginPath(); ctx.arc(CX, CY, U * r, 0, TAU); ctx.stroke();
    ctx.strokeStyle = th.ink; ctx.lineWidth = 1; ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.arc(CX, CY, U, 0, TAU); ctx.stroke(); ctx.setLineDash([]);
    const w = [r * Math.cos(y), r * Math.sin(y)];
    FC.dot(ctx, ...Q(w), 6, th.blue, th.paper);
    FC.legend(ctx, th, 8, 286, [{ label: "fixed y → ray", color: th.orange }, { label: "fixed x → circle", color: th.green }]);
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "z"), FC.h("span", {}, FC.complex(x, y, 2))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "stretch eˣ"), FC.h("span", {}, r.toFixed(3))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "turn y"), FC.h("span", {}, FC.degrees(y))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, ["e", FC.h("sup", {}, "z")]), FC.h("span", {}, FC.complex(w[0], w[1], 3))),
    );
    FC.frame(root, { x, y, exp: w });
  }
  draw();
}

export default { render };
