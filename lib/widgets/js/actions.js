// PlaneActions: numbers as actions. On the line, adding slides and multiplying
// stretches; in the plane, adding a complex number slides and multiplying by
// one stretches and turns.

function render({ model, el }) {
  const TAU = 2 * Math.PI;
  const mode = model.get("mode");  // "line" or "plane"
  const [root, th] = FC.root(el, "PlaneActions");
  const p = { ...model.get("params") };  // line: add, mul; plane: a, b, r, phi (degrees)
  const W = 640, H = mode === "line" ? 170 : 330;
  const pic = FC.canvas(W, H, mode === "line" ? "The number line before and after the action" : "The plane before and after the action");
  const controls = FC.h("div", { class: "fc-controls" });
  const readout = FC.h("div", { class: "fc-readout" });
  root.append(FC.h("div", { class: "fc-title" }, model.get("title")), pic.canvas, controls, readout);

  const specs = mode === "line"
    ? [["add", "add", -3, 3, 0.05, (v) => v.toFixed(2)], ["mul", "multiply by", -2, 2, 0.05, (v) => v.toFixed(2)]]
    : [["a", "add: real part", -2, 2, 0.05, (v) => v.toFixed(2)], ["b", "add: imaginary part", -2, 2, 0.05, (v) => v.toFixed(2)],
       ["r", "multiply: stretch r", 0.2, 2, 0.01, (v) => v.toFixed(2)], ["phi", "multiply: turn φ", -180, 180, 1, (v) => `${v.toFixed(0)}°`]];
  for (const [key, label, min, max, step, format] of specs) {
    const s = FC.slider({ label, min, max, step, value: p[key], format, oninput: (v) => { p[key] = v; model.set("params", { ...p }); FC.save(model); draw(); } });
    controls.append(s.row);
  }

  // The shape acted on in the plane: a small flag, so turning and flipping show.
  const FLAG = [[0, 0], [0, 1.2], [0.8, 1.0], [0, 0.8]];

  function drawLine() {
    const { ctx } = pic;
    ctx.clearRect(0, 0, W, H);
    const x0 = W / 2, unit = 48;
    const X = (v) => x0 + unit * v;
    const rows = [["before", 50, (v) => v], ["after", 125, (v) => p.mul * v + p.add]];
    ctx.font = `12px ${th.font}`; ctx.textAlign = "center";
    for (const [name, y, act] of rows) {
      ctx.strokeStyle = th.muted; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(10, y); ctx.lineTo(W - 10, y); ctx.stroke();
      ctx.fillStyle = th.muted; ctx.textAlign = "left"; ctx.fillText(name, 10, y - 18); ctx.textAlign = "center";
      for (let k = -6; k <= 6; k++) {
        const v = act(k), x = X(v);
        if (x < 0 || x > W) continue;
        const col = k === 0 ? th.red : k === 1 ? th.blue : th.ink;
        ctx.strokeStyle = col; ctx.lineWidth = k === 0 || k === 1 ? 3 : 1.5;
        ctx.beginPath(); ctx.moveTo(x, y - 8); ctx.lineTo(x, y + 8); ctx.stroke();
        ctx.fillStyle = col; ctx.fillText(String(k), x, y + 22);
      }
    }
    // where 0 and 1 went
    ctx.setLineDash([3, 3]); ctx.lineWidth = 1;
    for (const [k, col] of [[0, th.red], [1, th.blue]]) {
      ctx.strokeStyle = col; ctx.beginPath(); ctx.moveTo(X(k), 58); ctx.lineTo(X(p.mul * k + p.add), 117); ctx.stroke();
    }
    ctx.setLineDash([]);
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "the action"), FC.h("span", {}, `x ↦ ${p.mul.toFixed(2)}·x ${p.add < 0 ? "−" : "+"} ${Math.abs(p.add).toFixed(2)}`)),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "0 goes to"), FC.h("span", {}, p.add.toFixed(2))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "1 goes to"), FC.h("span", {}, (p.mul + p.add).toFixed(2))),
    );
    FC.frame(root, { ...p, zero: p.add, one: p.mul + p.add });
  }

  function drawPlane() {
    const { ctx } = pic;
    ctx.clearRect(0, 0, W, H);
    const cx = W / 2, cy = H / 2, unit = 55;
    const P = ([x, y]) => [cx + unit * x, cy - unit * y];
    ctx.strokeStyle = th.grid; ctx.lineWidth = 1;
    for (let k = -6; k <= 6; k++) {
      ctx.beginPath(); ctx.moveTo(...P([k, -3])); ctx.lineTo(...P([k, 3])); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(...P([-6, k])); ctx.lineTo(...P([6, k])); ctx.stroke();
    }
    ctx.strokeStyle = th.muted;
    ctx.beginPath(); ctx.moveTo(...P([-6, 0])); ctx.lineTo(...P([6, 0])); ctx.moveTo(...P([0, -3])); ctx.lineTo(...P([0, 3])); ctx.stroke();
    const phi = (p.phi * Math.PI) / 180;
    const zr = p.r * Math.cos(phi), zi = p.r * Math.sin(phi);
    const mulz = ([x, y]) => [zr * x - zi * y, zr * y + zi * x];
    const addw = ([x, y]) => [x + p.a, y + p.b];
    const poly = (pts, col, fill, dash = []) => {
      ctx.beginPath(); pts.map(P).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath();
      ctx.globalAlpha = 0.25; ctx.fillStyle = fill; ctx.fill(); ctx.globalAlpha = 1;
      ctx.setLineDash(dash); ctx.strokeStyle = col; ctx.lineWidth = 2; ctx.stroke(); ctx.setLineDash([]);
    };
    poly(FLAG, th.muted, th.muted, [4, 3]);
    poly(FLAG.map(mulz), th.orange, th.orange);
    poly(FLAG.map((q) => addw(mulz(q))), th.blue, th.blue);
    FC.dot(ctx, ...P(mulz([1, 0])), 5, th.orange);
    FC.dot(ctx, ...P(addw(mulz([1, 0]))), 5, th.blue);
    FC.legend(ctx, th, 10, 14, [{ label: "the flag", color: th.muted }, { label: "× z (stretch and turn)", color: th.orange },
                                { label: "× z, then + w (slide)", color: th.blue }]);
    const one = addw(mulz([1, 0]));
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "multiply by z"), FC.h("span", {}, FC.complex(zr, zi, 2))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "then add w"), FC.h("span", {}, FC.complex(p.a, p.b, 2))),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "1 goes to"), FC.h("span", {}, FC.complex(one[0], one[1], 2))),
    );
    FC.frame(root, { ...p, z: [zr, zi], one });
  }

  const draw = mode === "line" ? drawLine : drawPlane;
  draw();
}

export default { render };
