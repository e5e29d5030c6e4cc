// layout.js: a layered drawing of a directed graph, top to bottom.
//
//   1. Cycles are broken: the edges a depth-first walk finds going back
//      are laid out reversed (and drawn pointing back up).
//   2. Every node gets a layer: the longest path to it from a source.
//   3. An edge gets a point in every layer between its ends; its label, if
//      any, is a box of its own in the layer just below its source, so
//      that labels take room and never sit on each other.
//   4. Layers are ordered to cut crossings: barycentre sweeps down and up,
//      keeping the best order seen.
//   5. x positions: each node is pulled towards its neighbours and pushed
//      apart from its layer's others (an exact least-squares fit under the
//      order constraints, by pooling adjacent violators).
//
// layout({nodes: [{id, w, h}], edges: [{id, from, to, lw, lh}]}, options)
// returns {width, height, nodes: Map(id → {x, y, w, h}), edges: [{id,
// from, to, points: [[x, y]...], label: {x, y} | null, back, self}]}.
// Node x, y is the top-left corner; points run from the edge's source to
// its target. Self-loops (from === to) get no points: the caller draws
// them beside their node, which the layout widened by selfRoom.

export function layout(graph, options = {}) {
  const o = {nodeGap: 28, labelGap: 18, rankGap: 44, margin: 16, selfRoom: 0, sweeps: 12, ...options};
  const nodes = new Map();
  graph.nodes.forEach((n, i) => nodes.set(n.id, {...n, index: i, out: [], in: [], self: []}));
  const edges = [];
  for (const e of graph.edges) {
    const a = nodes.get(e.from), b = nodes.get(e.to);
    if (!a || !b) continue;
    if (a === b) {
      a.self.push(e);
      continue;
    }
    const ed = {...e, back: false};
    edges.push(ed);
    a.out.push(ed);
    b.in.push(ed);
  }

  breakCycles(nodes, edges);
  const rank = assignLayers(nodes, edges);

  // Chains: every edge becomes a path of vertices, one per rank (ranks are
  // 2 × layer for nodes; odd ranks hold labels and bends).
  const verts = []; // {id, w, h, rank, node?, edge?, label?}
  const vid = new Map();
  for (const n of nodes.values()) {
    const v = {key: n.id, w: n.w + (n.self.length ? o.selfRoom : 0), h: n.h, rank: 2 * rank.get(n.id), node: n, up: [], down: [], order: n.index};
    vid.set(n.id, v);
    verts.push(v);
  }
  const chains = [];
  for (const e of edges) {
    const [top, bottom] = e.back ? [e.to, e.from] : [e.from, e.to];
    const a = vid.get(top), b = vid.get(bottom);
    const chain = [a];
    const labelRank = a.rank + 1 + 2 * Math.floor((b.rank - a.rank - 2) / 4);
    for (let r = a.rank + 1; r < b.rank; r++) {
      // The label sits half way down a long edge, so that the labels of
      // one task's transitions do not all crowd under it.
      const isLabel = r === labelRank && (e.lw || 0) > 0;
      const v = {key: `${e.id}@${r}`, w: isLabel ? e.lw : 0, h: isLabel ? e.lh || 0 : 0, rank: r, edge: e, label: isLabel, up: [], down: [], order: a.order};
      verts.push(v);
      chain.push(v);
    }
    chain.push(b);
    for (let i = 0; i + 1 < chain.length; i++) {
      chain[i].down.push(chain[i + 1]);
      chain[i + 1].up.push(chain[i]);
    }
    chains.push({edge: e, chain});
  }

  // Layers, first ordered by a depth-first walk in document order.
  const maxRank = Math.max(0, ...verts.map((v) => v.rank));
  const layers = Array.from({length: maxRank + 1}, () => []);
  const seen = new Set();
  const visit = (v) => {
    if (seen.has(v)) return;
    seen.add(v);
    layers[v.rank].push(v);
    for (const w of v.down) visit(w);
  };
  const roots = verts.filter((v) => v.node && v.up.length === 0).sort((a, b) => a.node.index - b.node.index);
  roots.forEach(visit);
  verts.filter((v) => v.node).sort((a, b) => a.node.index - b.node.index).forEach(visit);
  verts.forEach(visit);
  setPositions(layers);
  order(layers, o.sweeps);
  place(layers, o);

  // y: each rank as tall as its tallest vertex; a rank of labels sits
  // labelGap from the nodes around it, an empty one adds half a rankGap.
  const rankH = layers.map((l) => Math.max(0, ...l.map((v) => v.h)));
  const rankY = [];
  let y = o.margin;
  for (let r = 0; r <= maxRank; r++) {
    rankY[r] = y;
    y += rankH[r];
    if (r === maxRank) break;
    const labels = r % 2 === 0 ? rankH[r + 1] > 0 : rankH[r] > 0;
    y += labels ? o.labelGap : o.rankGap / 2;
  }
  const height = y + o.margin;
  let width = 0;
  for (const v of verts) {
    v.cy = rankY[v.rank] + rankH[v.rank] / 2;
    width = Math.max(width, v.x + v.w / 2);
  }
  width += o.margin;

  const outNodes = new Map();
  for (const n of nodes.values()) {
    const v = vid.get(n.id);
    outNodes.set(n.id, {x: v.x - v.w / 2, y: v.cy - n.h / 2, w: n.w, h: n.h, layer: rank.get(n.id)});
  }

  // Ports: a node's edges leave from its bottom and enter its top, spread
  // along it in the order of the vertices at their other ends.
  const ports = new Map(); // `${edge.id}:top|bottom` → x
  for (const v of verts) {
    if (!v.node) continue;
    const left = v.x - v.w / 2;
    const w = v.node.w;
    for (const [side, list] of [['bottom', v.down], ['top', v.up]]) {
      const sorted = list.map((u, i) => ({u, i})).sort((a, b) => a.u.x - b.u.x || a.i - b.i);
      const k = sorted.length;
      const spread = Math.min(w * 0.7, (k - 1) * 14);
      sorted.forEach(({u}, i) => {
        const e = u.edge || findEdge(chains, v, u);
        // A join's inbound edges meet at one point, on its join bar.
        const px = side === 'top' && v.node.join ? left + w / 2 : left + w / 2 - spread / 2 + (k > 1 ? (spread * i) / (k - 1) : 0);
        ports.set(`${e.id}:${side}`, px);
      });
    }
  }

  const outEdges = [];
  for (const {edge: e, chain} of chains) {
    const pts = [];
    chain.forEach((v, i) => {
      if (i === 0) pts.push([ports.get(`${e.id}:bottom`) ?? v.x, v.cy + v.h / 2]);
      else if (i === chain.length - 1) pts.push([ports.get(`${e.id}:top`) ?? v.x, v.cy - v.h / 2]);
      else if (v.label) pts.push([v.x, v.cy - v.h / 2], [v.x, v.cy + v.h / 2]);
      else pts.push([v.x, v.cy]);
    });
    const lv = chain.find((v) => v.label);
    const label = lv ? {x: lv.x, y: lv.cy} : null;
    outEdges.push({id: e.id, from: e.from, to: e.to, points: e.back ? pts.reverse() : pts, label, back: e.back, self: false, data: e});
  }
  for (const n of nodes.values()) {
    for (const e of n.self) outEdges.push({id: e.id, from: e.from, to: e.to, points: [], label: null, back: false, self: true, data: e});
  }
  return {width, height, nodes: outNodes, edges: outEdges};
}

function findEdge(chains, a, b) {
  for (const {edge, chain} of chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      if ((chain[i] === a && chain[i + 1] === b) || (chain[i] === b && chain[i + 1] === a)) return edge;
    }
  }
  return {id: ''};
}

// breakCycles marks the edges that a depth-first walk, from the sources
// in document order, finds going back to a node on its stack.
function breakCycles(nodes, edges) {
  const state = new Map(); // 1 on stack, 2 done
  const list = [...nodes.values()].sort((a, b) => a.index - b.index);
  const starts = [...list.filter((n) => n.in.length === 0), ...list];
  for (const s of starts) {
    if (state.has(s.id)) continue;
    // Iterative, so that a long chain cannot overflow the stack.
    const stack = [[s, 0]];
    state.set(s.id, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      if (i >= n.out.length) {
        state.set(n.id, 2);
        stack.pop();
        continue;
      }
      top[1]++;
      const e = n.out[i];
      const m = nodes.get(e.to);
      const st = state.get(m.id);
      if (st === 1) e.back = true;
      else if (!st) {
        state.set(m.id, 1);
        stack.push([m, 0]);
      }
    }
  }
}

// assignLayers gives each node the length of the longest path to it,
// following edges (back edges reversed).
function assignLayers(nodes, edges) {
  const indeg = new Map([...nodes.keys()].map((k) => [k, 0]));
  const succ = new Map([...nodes.keys()].map((k) => [k, []]));
  for (const e of edges) {
    const [a, b] = e.back ? [e.to, e.from] : [e.from, e.to];
    succ.get(a).push(b);
    indeg.set(b, indeg.get(b) + 1);
  }
  const rank = new Map([...nodes.keys()].map((k) => [k, 0]));
  const queue = [...nodes.keys()].filter((k) => indeg.get(k) === 0);
  while (queue.length) {
    const k = queue.shift();
    for (const m of succ.get(k)) {
      rank.set(m, Math.max(rank.get(m), rank.get(k) + 1));
      indeg.set(m, indeg.get(m) - 1);
      if (indeg.get(m) === 0) queue.push(m);
    }
  }
  // Pull sources down next to what they feed, so that a task reached by
  // one transition from far below does not float at the top.
  for (const [k, n] of nodes) {
    if (n.in.length === 0 && n.out.length > 0) {
      const below = Math.min(...n.out.filter((e) => !e.back).map((e) => rank.get(e.to)));
      if (isFinite(below) && below - 1 > rank.get(k) && !isStart(n)) rank.set(k, below - 1);
    }
  }
  return rank;
}

// isStart: a node meant to stay at the top (a source of the graph that the
// caller marks as a start, or any source when none is marked).
function isStart(n) {
  return n.start !== false;
}

function setPositions(layers) {
  for (const l of layers) l.forEach((v, i) => (v.pos = i));
}

// order reorders each layer by the barycentre of the vertices linked to it
// in the layer before (sweeping down) or after (sweeping up).
function order(layers, sweeps) {
  let best = layers.map((l) => l.slice());
  let bestCross = crossings(layers);
  for (let s = 0; s < sweeps && bestCross > 0; s++) {
    const down = s % 2 === 0;
    const rs = down ? [...layers.keys()].slice(1) : [...layers.keys()].reverse().slice(1);
    for (const r of rs) {
      const l = layers[r];
      const bary = new Map();
      for (const v of l) {
        const ns = down ? v.up : v.down;
        bary.set(v, ns.length ? ns.reduce((a, u) => a + u.pos, 0) / ns.length : v.pos);
      }
      l.sort((a, b) => bary.get(a) - bary.get(b) || a.pos - b.pos);
      l.forEach((v, i) => (v.pos = i));
    }
    transpose(layers);
    const c = crossings(layers);
    if (c < bestCross) {
      bestCross = c;
      best = layers.map((l) => l.slice());
    }
  }
  best.forEach((l, r) => {
    layers[r] = l;
    l.forEach((v, i) => (v.pos = i));
  });
}

// transpose swaps neighbours in a layer while that cuts crossings.
function transpose(layers) {
  let improved = true;
  for (let pass = 0; improved && pass < 4; pass++) {
    improved = false;
    for (let r = 0; r < layers.length; r++) {
      const l = layers[r];
      for (let i = 0; i + 1 < l.length; i++) {
        const a = l[i], b = l[i + 1];
        if (pairCross(a, b) > pairCross(b, a)) {
          l[i] = b;
          l[i + 1] = a;
          a.pos = i + 1;
          b.pos = i;
          improved = true;
        }
      }
    }
  }
}

// pairCross counts the crossings between a's and b's edges, a left of b.
function pairCross(a, b) {
  let c = 0;
  for (const list of ['up', 'down']) {
    for (const u of a[list]) for (const w of b[list]) if (u.pos > w.pos) c++;
  }
  return c;
}

function crossings(layers) {
  let c = 0;
  for (let r = 0; r + 1 < layers.length; r++) {
    const es = [];
    for (const v of layers[r]) for (const w of v.down) es.push([v.pos, w.pos]);
    es.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    // Count inversions of the lower ends (O(E log E) by merge sort).
    c += inversions(es.map((e) => e[1]));
  }
  return c;
}

function inversions(a) {
  if (a.length < 2) return 0;
  const mid = a.length >> 1;
  const l = a.slice(0, mid), r = a.slice(mid);
  let c = inversions(l) + inversions(r);
  let i = 0, j = 0, k = 0;
  while (i < l.length && j < r.length) {
    if (l[i] <= r[j]) a[k++] = l[i++];
    else {
      a[k++] = r[j++];
      c += l.length - i;
    }
  }
  while (i < l.length) a[k++] = l[i++];
  while (j < r.length) a[k++] = r[j++];
  return c;
}

// place sets each vertex's centre x.
function place(layers, o) {
  const sep = (a, b) => (a.w + b.w) / 2 + (a.node && b.node ? o.nodeGap : a.w && b.w ? o.nodeGap / 2 : o.nodeGap / 3);
  // Start packed, each layer centred on the widest.
  const widths = layers.map((l) => (l.length ? l[0].w / 2 + l[l.length - 1].w / 2 : 0) + l.slice(1).reduce((a, v, i) => a + sep(l[i], v), 0));
  const widest = Math.max(0, ...widths);
  layers.forEach((l, r) => {
    let x = o.margin + (widest - widths[r]) / 2;
    l.forEach((v, i) => {
      x += i ? sep(l[i - 1], v) : v.w / 2;
      v.x = x;
    });
  });
  for (let it = 0; it < 16; it++) {
    const down = it % 2 === 0;
    const rs = down ? [...layers.keys()] : [...layers.keys()].reverse();
    for (const r of rs) {
      const l = layers[r];
      if (!l.length) continue;
      const want = l.map((v) => {
        const ns = it < 2 ? (down ? v.up : v.down) : [...v.up, ...v.down];
        if (!ns.length) return v.x;
        // Bends of long edges pull harder, so that long edges run straight.
        let sum = 0, wsum = 0;
        for (const u of ns) {
          const wt = !v.node && !u.node ? 4 : !v.node || !u.node ? 2 : 1;
          sum += u.x * wt;
          wsum += wt;
        }
        return sum / wsum;
      });
      fit(l, want, sep);
    }
  }
  // Shift everything so that the leftmost box starts at the margin.
  let minX = Infinity;
  for (const l of layers) for (const v of l) minX = Math.min(minX, v.x - v.w / 2);
  const dx = o.margin - minX;
  for (const l of layers) for (const v of l) v.x += dx;
}

// fit moves a layer's vertices as close as they can get to want, in order
// and at least sep apart: least squares under x[i+1] - x[i] >= sep(i, i+1),
// solved by pooling adjacent violators on the offsets.
function fit(l, want, sep) {
  const off = [0];
  for (let i = 1; i < l.length; i++) off[i] = off[i - 1] + sep(l[i - 1], l[i]);
  const blocks = []; // {sum, n, start}
  for (let i = 0; i < l.length; i++) {
    blocks.push({sum: want[i] - off[i], n: 1, start: i});
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1], a = blocks[blocks.length - 2];
      if (a.sum / a.n <= b.sum / b.n) break;
      a.sum += b.sum;
      a.n += b.n;
      blocks.pop();
    }
  }
  for (let bi = 0; bi < blocks.length; bi++) {
    const b = blocks[bi];
    const val = b.sum / b.n;
    for (let i = b.start; i < b.start + b.n; i++) l[i].x = val + off[i];
  }
}
