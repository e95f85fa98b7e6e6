// Sweep: results precomputed by Python over a parameter grid, shown instantly.
// With a live kernel, parameters that have a `live` range move freely and
// off-grid values are computed by Python on request.

function render({ model, el }) {
  const params = model.get("params");
  const results = model.get("results");
  const panels = model.get("panels");
  const [root, th] = FC.root(el, "Sweep", "sweep");

  const idx = model.get("index").slice();               // nearest grid index of each parameter
  const values = params.map((p, k) => p.values[idx[k]]); // current values (off-grid only when live)
  const strides = params.map((_, k) => params.slice(k + 1).reduce((s, q) => s * q.values.length, 1));
  const flat = (ix) => ix.reduce((s, i, k) => s + i * strides[k], 0);
  const liveResults = new Map();
  const pending = new Map();
  let live = false, nextId = 1;

  const note = FC.h("div", { class: "fc-note", "aria-live": "polite" });
  const panelBox = FC.h("div", { class: "fc-panels" });
  const controls = FC.h("div", { class: "fc-controls" });
  if (model.get("title")) root.append(FC.h("div", { class: "fc-title" }, model.get("title")));
  root.append(panelBox, controls, note);

  // ---- controls: one slider per parameter, over grid indices until a kernel is live
  const fmtParam = (p, v) => (typeof v === "number" ? FC.fmt(v, p.fmt) : String(v));
  const sliders = params.map((p, k) => {
    const s = FC.slider({
      label: p.label, min: 0, max: p.values.length - 1, step: 1, value: idx[k],
      format: (v) => (live && p.live ? fmtParam(p, v) : fmtParam(p, p.values[v])),
      oninput: (v) => {
        if (live && p.live) {
          values[k] = v;
          idx[k] = nearest(p.values, v);
        } else {
          idx[k] = v;
          values[k] = p.values[v];
        }
        update();
      },
    });
    if (p.values.length < 2) s.input.disabled = true;
    controls.append(s.row);
    return s;
  });

  function nearest(grid, v) {
    let best = 0;
    grid.forEach((g, i) => { if (Math.abs(g - v) < Math.abs(grid[best] - v)) best = i; });
    return best;
  }

  const onGrid = () => params.every((p, k) => p.values[idx[k]] === values[k]);
  const key = () => JSON.stringify(values);

  function current() {
    if (onGrid()) return results[flat(idx)];
    return liveResults.get(key());
  }

  // ---- panels
  const alone = panels.filter((spec) => spec.type !== "readout").length === 1;
  const views = panels.map((spec) => {
    if (spec.type === "readout") {
      const box = FC.h("div", { class: "fc-readout" });
      panelBox.append(box);
      return { spec, box };
    }
    // A lone plot takes the card's width instead of leaving half of it empty.
    const [w, h] = spec.type === "tree" ? [652, 300] : alone ? [652, spec.type === "heatmap" ? 330 : 300]
      : spec.type === "heatmap" ? [290, 250] : [320, 250];
    const c = FC.canvas(w, h, `${spec.title || spec.type} plot`);
    if (spec.type === "tree" || alone) c.canvas.style.height = "auto";  // wider than a phone: shrink, keep the shape
    panelBox.append(c.canvas);
    return { spec, c };
  });

  function draw(r) {
    for (const v of views) {
      const s = v.spec;
      if (s.type === "readout") drawReadout(v.box, s, r);
      else if (s.type === "curve") drawCurve(v.c, s, r);
      else if (s.type === "series") drawSeries(v.c, s, r);
      else if (s.type === "heatmap") drawHeatmap(v.c, s, r);
      else if (s.type === "bars") drawBars(v.c, s, r);
      else if (s.type === "tree") drawTree(v.c, s, r);
    }
    const drawn = {};
    for (const v of views) {
      for (const k of v.spec.keys || (v.spec.items || []).map((i) => i.key).concat(v.spec.key ? [v.spec.key] : [])) {
        const x = r[k];
        drawn[k] = Array.isArray(x) ? x.length : x;
      }
    }
    FC.frame(root, { values: values.slice(), onGrid: onGrid(), live, result: drawn });
  }

  function drawReadout(box, s, r) {
    box.replaceChildren(...s.items.map((it) =>
      FC.h("div", { class: "fc-item" }, FC.h("span", {}, it.label), FC.h("span", {}, FC.fmt(r[it.key], it.fmt)))));
  }

  // Series colours: the theme's six, then ink and grey (a seventh series, such as a Pareto front
  // drawn over six families, must not repeat the first family's colour).
  function colour(j) {
    const extra = [th.ink, th.muted];
    return j < th.cycle.length ? th.cycle[j] : extra[(j - th.cycle.length) % extra.length];
  }

  function limits(arrays, fixed) {
    if (fixed) return fixed;
    let lo = Infinity, hi = -Infinity;
    for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!Number.isFinite(lo)) return [0, 1];
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    const pad = 0.05 * (hi - lo);
    return [lo - pad, hi + pad];
  }

  function drawCurve(c, s, r) {
    const k = params.findIndex((p) => p.name === s.param);
    const p = params[k];
    const xs = p.values;
    const sc = s.scale || 1;
    const scaled = (v) => (v === null || v === undefined ? v : v * sc);
    const ys = s.keys.map((key) => xs.map((_, i) => { const ix = idx.slice(); ix[k] = i; return scaled(results[flat(ix)][key]); }));
    const now = s.keys.map((key) => scaled(r[key]));
    const x = values[k];
    const xlim = [Math.min(...xs, x), Math.max(...xs, x)];
    const { ctx } = c;
    ctx.clearRect(0, 0, c.width, c.height);
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: c.width, h: c.height }, {
      xlim, ylim: limits(ys.concat(now.map((v) => [v])), s.ylim), xlabel: p.label, ylabel: s.ylabel,
      xlog: s.xlog, title: s.title, legend: s.labels.map((label, j) => ({ label, color: colour(j) })),
    });
    ys.forEach((y, j) => {
      const col = colour(j);
      FC.polyline(ctx, xs, y, map, col, 2);
      xs.forEach((xv, i) => { if (y[i] !== null) FC.dot(ctx, map.x(xv), map.y(y[i]), 2.5, col); });
      if (now[j] !== null && now[j] !== undefined) FC.dot(ctx, map.x(x), map.y(now[j]), 6, col, th.paper);
    });
  }

  function drawSeries(c, s, r) {
    const xs = r[s.x] || [];
    const sc = s.scale || 1;
    const ys = s.keys.map((key) => (r[key] || []).map((v) => (v === null ? v : v * sc)));
    const { ctx } = c;
    ctx.clearRect(0, 0, c.width, c.height);
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: c.width, h: c.height }, {
      xlim: xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1],
      ylim: limits(ys, s.ylim), xlabel: s.xlabel, ylabel: s.ylabel, title: s.title,
      legend: s.labels.map((label, j) => ({ label, color: colour(j) })),
    });
    ys.forEach((y, j) => FC.polyline(ctx, xs, y, map, colour(j), 2));
  }

  // Cells fill the panel (not square when the matrix is not), so a 20 x 50 matrix uses the whole width.
  function drawHeatmap(c, s, r) {
    const m = r[s.key] || [[]];
    const rows = m.length, cols = m[0].length;
    const { ctx } = c;
    ctx.clearRect(0, 0, c.width, c.height);
    const top = s.title ? 24 : 8, left = 44;
    const width = c.width - left - 8, height = c.height - top - 44;
    const cw = width / Math.max(cols, 1), ch = Math.min(height / Math.max(rows, 1), 2.5 * cw);
    const tall = ch * rows;
    let hi = 0;
    for (const row of m) for (const v of row) if (Number.isFinite(v)) hi = Math.max(hi, Math.abs(v));
    ctx.font = `10px ${th.font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      const v = m[i][j];
      const a = hi > 0 && Number.isFinite(v) ? Math.abs(v) / hi : 0;
      ctx.fillStyle = th.blue;
      ctx.globalAlpha = 0.06 + 0.94 * a;
      ctx.fillRect(left + j * cw, top + i * ch, Math.max(cw - 1, 0.5), Math.max(ch - 1, 0.5));
      ctx.globalAlpha = 1;
      if (Math.min(cw, ch) >= 18 && v !== 0) {
        ctx.fillStyle = a > 0.55 ? th.paper : th.ink;
        ctx.fillText(FC.fmt(v, Number.isInteger(v) ? ".0d" : ".2f"), left + (j + 0.5) * cw, top + (i + 0.5) * ch);
      }
    }
    ctx.fillStyle = th.muted;
    const every = (px) => Math.max(1, Math.ceil(22 / px));  // label every k-th index, at least 22 px apart
    for (let j = 0; j < cols; j += every(cw)) ctx.fillText(String(j), left + (j + 0.5) * cw, top + tall + 8);
    for (let i = 0; i < rows; i += every(ch)) ctx.fillText(String(i), left - 8, top + (i + 0.5) * ch);
    ctx.fillStyle = th.ink;
    ctx.font = `12px ${th.font}`;
    ctx.fillText(FC.pretty(s.xlabel), left + width / 2, top + tall + 26);
    if (s.title) { ctx.font = `bold 12px ${th.font}`; ctx.fillText(FC.pretty(s.title), left + width / 2, 10); }
    ctx.save(); ctx.translate(14, top + tall / 2); ctx.rotate(-Math.PI / 2);
    ctx.font = `12px ${th.font}`; ctx.fillText(FC.pretty(s.ylabel), 0, 0); ctx.restore();
  }

  function drawBars(c, s, r) {
    const series = [s.key].concat(s.stack || []).map((k) => r[k] || []);
    const ys = series[0];
    const tops = ys.map((_, i) => series.reduce((acc, y) => acc + (Number.isFinite(y[i]) ? y[i] : 0), 0));
    const names = s.labels ? r[s.labels] || [] : null;
    const xs = s.x ? r[s.x] || [] : ys.map((_, i) => i);
    const { ctx } = c;
    ctx.clearRect(0, 0, c.width, c.height);
    const lo = Math.min(...xs), hi = Math.max(...xs);
    const w = xs.length > 1 ? (hi - lo) / (xs.length - 1) : 1;
    const marks = s.marks.flatMap((m) => (Array.isArray(r[m]) ? r[m] : [r[m]])).filter((v) => Number.isFinite(v));
    const positive = ys.filter((v) => Number.isFinite(v) && v > 0);
    const ylim = s.ylog && positive.length
      ? [10 ** Math.floor(Math.log10(Math.min(...positive))), 10 ** Math.ceil(Math.log10(Math.max(...positive)))]
      : limits([tops, [0]], null);
    const legend = (s.legend || []).map((label, j) => ({ label, color: colour(j) }));
    const map = FC.axes(ctx, th, { x: 0, y: 0, w: c.width, h: c.height }, {
      xlim: [Math.min(lo - w / 2, ...marks), Math.max(hi + w / 2, ...marks)], ylim, ylog: s.ylog,
      xlabel: s.xlabel, ylabel: s.ylabel, title: s.title,
      xticks: names ? xs : null, xtickLabels: names, legend: legend.length ? legend : undefined,
    });
    const floor = s.ylog ? ylim[0] : 0;
    const base = xs.map(() => floor);
    series.forEach((y, j) => {
      ctx.fillStyle = j === 0 ? th.blue : colour(j);
      xs.forEach((x, i) => {
        if (!Number.isFinite(y[i]) || (s.ylog && y[i] <= 0) || y[i] === 0) return;
        const top = base[i] + y[i];
        const x0 = map.x(x - w / 2), x1 = map.x(x + w / 2);
        ctx.fillRect(x0 + (xs.length > 40 ? 0 : 1), Math.min(map.y(base[i]), map.y(top)),
          Math.max(1, x1 - x0 - (xs.length > 40 ? 0 : 2)), Math.abs(map.y(top) - map.y(base[i])));
        if (!s.ylog) base[i] = top;
      });
    });
    ctx.strokeStyle = th.red; ctx.lineWidth = 2;
    for (const m of marks) { ctx.beginPath(); ctx.moveTo(map.x(m), map.T); ctx.lineTo(map.x(m), map.B); ctx.stroke(); }
  }

  // A tree laid out in Python (lib.coding.tree_layout): x in leaf slots, y = depth. Edges carry
  // their bits, leaves their labels and, when they fit, their codewords; depth runs down the side.
  function drawTree(c, s, r) {
    const nodes = r[s.key] || [];
    const { ctx } = c;
    ctx.clearRect(0, 0, c.width, c.height);
    const L = 46, R = c.width - 14, T = s.title ? 30 : 14, B = c.height - 34;
    ctx.save();
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    if (s.title) { ctx.fillStyle = th.ink; ctx.font = `bold 12px ${th.font}`; ctx.fillText(s.title, (L + R) / 2, 4); }
    if (!nodes.length) { ctx.restore(); return; }
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const leaves = nodes.filter((n) => n.leaf);
    const xmax = Math.max(...nodes.map((n) => n.x)), depth = Math.max(...nodes.map((n) => n.y));
    const inset = 12;                                               // keep the leaves clear of the depth numbers
    const dx = xmax > 0 ? Math.min(80, (R - L - 2 * inset) / xmax) : 0;  // leaf spacing, capped for small trees
    const dy = depth > 0 ? Math.min(70, (B - T) / depth) : 0;       // level spacing, likewise
    const x0 = (L + R) / 2 - (xmax * dx) / 2, y0 = T + (B - T - depth * dy) / 2;  // centred in the panel
    const px = (x) => x0 + x * dx, py = (y) => y0 + y * dy;

    // depth guide: the depth of a leaf is the length of its codeword
    const every = dy > 0 ? Math.ceil(14 / dy) : 1;
    ctx.font = `11px ${th.font}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 1;
    for (let d = 0; d <= depth; d += every) {
      ctx.strokeStyle = th.grid;
      ctx.beginPath(); ctx.moveTo(L, py(d)); ctx.lineTo(R, py(d)); ctx.stroke();
      ctx.fillStyle = th.muted;
      ctx.fillText(String(d), L - 6, py(d));
    }
    ctx.save();
    ctx.translate(12, y0 + (depth * dy) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillStyle = th.ink;
    ctx.font = `12px ${th.font}`;
    ctx.fillText("depth = bits", 0, 0);
    ctx.restore();

    // edges, then their bits on the outer side of each edge
    ctx.strokeStyle = th.muted;
    ctx.lineWidth = 1.2;
    const edges = nodes.filter((n) => n.parent !== null && n.parent !== undefined && byId.has(n.parent));
    for (const n of edges) {
      const p = byId.get(n.parent);
      ctx.beginPath(); ctx.moveTo(px(p.x), py(p.y)); ctx.lineTo(px(n.x), py(n.y)); ctx.stroke();
    }
    const bitSize = Math.min(11, Math.floor(dy * 0.6));
    if (bitSize >= 8) {
      ctx.font = `${bitSize}px ${th.font}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillStyle = th.orange;
      for (const n of edges) {
        const p = byId.get(n.parent);
        const vx = px(n.x) - px(p.x), vy = py(n.y) - py(p.y), len = Math.hypot(vx, vy);
        if (len < 2.2 * bitSize || !n.edge) continue;
        // normal to the edge on its outer side: up-left of a left edge, up-right of a right one
        const side = vx < 0 ? -1 : 1, off = 0.6 * bitSize + 2;
        ctx.fillText(n.edge, px(p.x) + vx / 2 + (side * vy / len) * off, py(p.y) + vy / 2 - (side * vx / len) * off);
      }
    }

    // nodes: small dots inside, larger ones at the leaves
    const leafR = Math.max(2, Math.min(5, 0.3 * (dx || 20)));
    for (const n of nodes) {
      if (n.leaf) FC.dot(ctx, px(n.x), py(n.y), leafR, th.blue, th.paper);
      else FC.dot(ctx, px(n.x), py(n.y), Math.max(1.5, leafR * 0.55), th.muted);
    }

    // leaf labels under the leaves (the space below a leaf is free), every k-th when crowded
    const labelSize = Math.max(8, Math.min(11, Math.floor((dx || 20) * 0.75)));
    ctx.font = `${labelSize}px ${th.font}`;
    const widest = Math.max(...leaves.map((n) => ctx.measureText(String(n.label)).width));
    const step = dx > 0 ? Math.max(1, Math.ceil((widest + 3) / dx)) : 1;
    ctx.font = `10px ${th.font}`;
    const codes = step === 1 && leaves.every((n) => n.code && ctx.measureText(n.code).width <= (dx || 80) - 4);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const n of leaves) {
      if (Math.round(n.x) % step !== 0) continue;
      const y = py(n.y) + leafR + 2;
      ctx.fillStyle = th.ink;
      ctx.font = `${labelSize}px ${th.font}`;
      ctx.fillText(String(n.label), px(n.x), y);
      if (codes) {
        ctx.fillStyle = th.muted;
        ctx.font = `10px ${th.font}`;
        ctx.fillText(n.code, px(n.x), y + labelSize + 1);
      }
    }
    ctx.restore();
  }

  // ---- update, and the live-kernel round trip
  function update() {
    sliders.forEach((s) => s.refresh());
    const r = current();
    if (r) {
      note.textContent = onGrid() ? "" : "computed live by the kernel";
      draw(r);
      return;
    }
    const k = key();
    if (!pending.has(k)) {
      const id = nextId++;
      pending.set(k, id);
      const point = Object.fromEntries(params.map((p, i) => [p.name, values[i]]));
      note.textContent = "computing this point in the kernel…";
      model.send({ type: "compute", id, values: point });
    }
  }

  model.on("msg:custom", (msg) => {
    if (msg.type === "live" && !live) {
      live = true;
      params.forEach((p, k) => {
        if (!p.live) return;
        const [lo, hi, step] = p.live;
        Object.assign(sliders[k].input, { min: lo, max: hi, step });
        sliders[k].set(values[k]);
      });
      note.textContent = "live kernel: sliders also move between grid points";
      update();
    } else if (msg.type === "result" || msg.type === "error") {
      for (const [k, id] of pending) {
        if (id !== msg.id) continue;
        pending.delete(k);
        if (msg.type === "result") liveResults.set(k, msg.result);
        else note.textContent = msg.message;
      }
      if (msg.type === "result") update();
    }
  });
  // Ask for a kernel; in the static page nobody answers and the grid is all there is.
  try { model.send({ type: "hello" }); } catch (e) { /* static page */ }
  update();
}

export default { render };
