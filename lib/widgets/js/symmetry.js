// SquareSymmetries: the eight moves that leave a square looking the same, and
// the continuous rotations that leave a circle looking the same.

function render({ model, el }) {
  const [root, th] = FC.root(el, "SquareSymmetries");
  // Each move as a 2x2 matrix acting on (x, y); names as in the chapter's table.
  const MOVES = model.get("moves");  // [{name, label, m: [[a,b],[c,d]]}]
  let M = [[1, 0], [0, 1]];            // the composite of the moves made so far
  let history = [];
  let angle = 0;                        // the free rotation of the slider, radians
  let anim = null;

  const pic = FC.canvas(640, 260, "A square with numbered corners and a circle, after the moves made so far");
  const buttons = FC.h("div", { class: "fc-buttons" });
  const readout = FC.h("div", { class: "fc-readout" });
  const slider = FC.slider({ label: "turn both shapes by", min: 0, max: 359, step: 1, value: 0,
    format: (v) => `${v.toFixed(0)}°`, oninput: (v) => { angle = (v * Math.PI) / 180; draw(); } });
  root.append(FC.h("div", { class: "fc-title" }, "Symmetries: moves that leave the shape looking the same"),
              pic.canvas, buttons, FC.h("div", { class: "fc-controls" }, slider.row), readout);

  const mul = (A, B) => [[A[0][0] * B[0][0] + A[0][1] * B[1][0], A[0][0] * B[0][1] + A[0][1] * B[1][1]],
                         [A[1][0] * B[0][0] + A[1][1] * B[1][0], A[1][0] * B[0][1] + A[1][1] * B[1][1]]];
  const same = (A, B) => A.every((r, i) => r.every((v, j) => v === B[i][j]));
  const nameOf = (A) => (MOVES.find((m) => same(m.m, A)) || { label: "?" }).label;

  for (const mv of MOVES) {
    const b = FC.h("button", { type: "button", class: "fc-button", title: mv.name }, mv.label);
    b.addEventListener("click", () => {
      const from = M, to = mul(mv.m, M);  // the new move acts after the earlier ones
      history.push(mv.label);
      anim = { from, to, t0: performance.now() };
      M = to;
      step();
    });
    buttons.append(b);
  }
  const reset = FC.h("button", { type: "button", class: "fc-button" }, "↺ reset");
  reset.addEventListener("click", () => { M = [[1, 0], [0, 1]]; history = []; anim = null; draw(); });
  buttons.append(reset);

  function step() {
    const p = anim ? Math.min(1, (performance.now() - anim.t0) / 350) : 1;
    draw(p);
    if (p < 1) requestAnimationFrame(step); else anim = null;
  }

  function drawShape(ctx, cx, cy, A, kind) {
    // A: 2x2 (possibly interpolated) then the free rotation `angle`
    const c = Math.cos(angle), s = Math.sin(angle);
    const tf = ([x, y]) => {
      const u = A[0][0] * x + A[0][1] * y, v = A[1][0] * x + A[1][1] * y;
      return [cx + 80 * (c * u - s * v), cy - 80 * (s * u + c * v)];
    };
    ctx.lineWidth = 2.5;
    if (kind === "square") {
      const corners = [[1, 1], [-1, 1], [-1, -1], [1, -1]];
      ctx.fillStyle = th.panel; ctx.strokeStyle = th.ink;
      ctx.beginPath(); corners.map(tf).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath();
      ctx.fill(); ctx.stroke();
      // an "F" inside, so flips are visible
      ctx.strokeStyle = th.blue; ctx.lineWidth = 4;
      for (const seg of [[[-0.3, -0.55], [-0.3, 0.55]], [[-0.3, 0.55], [0.35, 0.55]], [[-0.3, 0.05], [0.2, 0.05]]]) {
        const [a, b] = seg.map(tf);
        ctx.beginPath(); ctx.moveTo(...a); ctx.lineTo(...b); ctx.stroke();
      }
      ctx.font = `bold 13px ${th.font}`; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      corners.forEach((p, i) => { const [x, y] = tf([p[0] * 1.22, p[1] * 1.22]); ctx.fillStyle = th.orange; ctx.fillText(String(i + 1), x, y); });
    } else {
      ctx.strokeStyle = th.ink; ctx.fillStyle = th.panel;
      ctx.beginPath(); ctx.arc(cx, cy, 80, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      const [x, y] = tf([1, 0]);
      FC.dot(ctx, x, y, 5, th.orange);
    }
  }

  function draw(p = 1) {
    const { ctx } = pic;
    ctx.clearRect(0, 0, 640, 260);
    let A = M;
    if (anim && p < 1) {  // interpolate the matrix (rotations and flips both pass smoothly)
      A = anim.from.map((r, i) => r.map((v, j) => v + (anim.to[i][j] - v) * p));
    }
    ctx.strokeStyle = th.grid; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
    for (const cx of [170, 470]) { ctx.strokeRect(cx - 80, 130 - 80, 160, 160); }
    ctx.setLineDash([]);
    drawShape(ctx, 170, 130, A, "square");
    drawShape(ctx, 470, 130, A, "circle");
    const deg = Math.round((angle * 180) / Math.PI) % 360;
    const squareSame = deg % 90 === 0;
    ctx.font = `12px ${th.font}`; ctx.textAlign = "center"; ctx.fillStyle = th.muted;
    ctx.fillText(squareSame ? "outline unchanged" : "outline moved", 170, 250);
    ctx.fillText("outline unchanged at every angle", 470, 250);
    readout.replaceChildren(
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "moves so far (first to last)"), FC.h("span", {}, history.length ? history.join(" then ") : "none")),
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, "equal to the single move"), FC.h("span", {}, nameOf(M))),
    );
    FC.frame(root, { angle: deg, matrix: M, history: history.slice(), single: nameOf(M), squareSame });
  }
  draw();
}

export default { render };
