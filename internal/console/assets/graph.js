// graph.js: a workflow drawn as a graph (tasks as nodes, transitions as
// edges), and an execution's states painted on it.

import {h, s, icon, stateWord, textWidth, truncate, duration, span, fill} from './dom.js';
import {layout} from './layout.js';

const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const boldFont = `600 13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
const monoFont = '11px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace';
const labelFont = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const taskW = 224, taskH = 70, cmdW = 96, cmdH = 30;
const maxLabel = 190;

// The kinds of edges and how they are drawn: each has its own dash, so
// that they are told apart without colour.
export const edgeKinds = {
  'on-success': {word: 'on-success'},
  'on-error': {word: 'on-error'},
  'on-complete': {word: 'on-complete'},
  'on-skip': {word: 'on-skip'},
  requires: {word: 'requires'},
};

// source is a definition's expression or value as text.
export function source(v) {
  if (v == null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// retryLimit is how many attempts a task's retry policy allows, when it
// says so as a number; 0 when unknown or no retry.
export function retryLimit(task) {
  const c = task && task.retry && task.retry.count;
  if (c == null) return 0;
  const n = typeof c === 'number' ? c : /^\s*\d+\s*$/.test(String(c)) ? Number(c) : NaN;
  return isFinite(n) ? n + 1 : 0;
}

// runsOf groups an execution's task executions by task name, in run order.
export function runsOf(exec) {
  const m = new Map();
  for (const t of (exec && exec.tasks) || []) {
    if (!m.has(t.name)) m.set(t.name, []);
    m.get(t.name).push(t);
  }
  for (const list of m.values()) list.sort((a, b) => runNumber(a.key) - runNumber(b.key));
  return m;
}

export function runNumber(key) {
  const i = String(key).lastIndexOf('#');
  return i < 0 ? 1 : Number(String(key).slice(i + 1)) || 1;
}

// itemCounts sums a with-items task's items by state.
export function itemCounts(t) {
  const st = t.item_states || {};
  const n = t.items ?? Object.values(st).reduce((a, b) => a + b, 0);
  return {
    total: n,
    done: st.SUCCESS || 0,
    failed: st.ERROR || 0,
    running: st.RUNNING || 0,
    cancelled: st.CANCELLED || 0,
    known: !!t.item_states,
  };
}

// taskFacts is what a node says about a task's latest run: one line.
export function taskFacts(def, run, runs) {
  if (!run) return 'not run';
  const parts = [stateWord(run.state)];
  if (def && def.with_items || run.items != null) {
    const c = itemCounts(run);
    if (c.known) {
      let t = `${c.done} of ${c.total} done`;
      if (c.running) t += `, ${c.running} running`;
      if (c.failed) t += `, ${c.failed} failed`;
      parts.push(t);
    } else {
      parts.push(`${c.total} items`);
    }
  } else {
    const m = retryLimit(def);
    if (m > 1 || run.attempts > 1) parts.push(`attempt ${Math.max(run.attempts, 1)}${m > 1 ? ' of ' + m : ''}`);
  }
  if (run.finished_at && run.started_at) parts.push(duration(span(run.started_at, run.finished_at)));
  if (runs && runs.length > 1) parts.push(`run ${runs.indexOf(run) + 1} of ${runs.length}`);
  return parts.join(' · ');
}

// model turns a compiled workflow into the boxes and lines to lay out.
function model(wf) {
  const nodes = [];
  const edges = [];
  const reverse = wf.type === 'reverse';
  wf.tasks.forEach((t) => {
    nodes.push({id: 't:' + t.name, w: taskW, h: taskH, kind: 'task', task: t, start: reverse ? false : !!t.start, join: t.join != null});
  });
  const names = new Set(wf.tasks.map((t) => t.name));
  wf.tasks.forEach((t) => {
    (t.transitions || []).forEach((tr, i) => {
      const id = `e:${t.name}:${i}`;
      const text = edgeLabel(tr);
      const lw = Math.min(maxLabel, Math.ceil(textWidth(text, labelFont)) + 12);
      const e = {id, from: 't:' + t.name, kind: tr.on, when: tr.when, text, lw, lh: 18, transition: tr};
      if (tr.task && names.has(tr.task)) {
        edges.push({...e, to: 't:' + tr.task});
      } else {
        const cid = `c:${t.name}:${i}`;
        nodes.push({id: cid, w: cmdW, h: cmdH, kind: 'command', command: tr.command || 'noop', msg: tr.msg, missing: tr.task, start: false});
        edges.push({...e, to: cid});
      }
    });
    if (reverse) {
      (t.requires || []).forEach((r, i) => {
        if (names.has(r)) edges.push({id: `r:${t.name}:${i}`, from: 't:' + r, to: 't:' + t.name, kind: 'requires', text: '', lw: 0, lh: 0});
      });
    }
  });
  return {nodes, edges};
}

function edgeLabel(tr) {
  const w = tr.when ? ` if ${source(tr.when).replace(/\s+/g, ' ')}` : '';
  return `${tr.on}${w}`;
}

// GraphView draws one workflow and keeps it painted with an execution.
export class GraphView {
  // wf: a workflow of the graph route; opts.onSelect(taskName) is called
  // when a task is clicked or chosen with the keyboard; opts.onOpen(name)
  // on a double click (a sub-workflow's child).
  constructor(wf, opts = {}) {
    this.wf = wf;
    this.opts = opts;
    this.defs = new Map(wf.tasks.map((t) => [t.name, t]));
    this.m = model(wf);
    const selfLabels = this.m.edges.filter((e) => e.from === e.to).map((e) => e.lw);
    this.lay = layout(this.m, {selfRoom: selfLabels.length ? Math.max(...selfLabels) + 44 : 0});
    this.scale = 1;
    this.fitted = false;
    this.selected = opts.selected || null;
    this.nodeEls = new Map();
    this.edgeEls = [];
    this.svg = this.draw();
    this.canvas = h('div', {class: 'graph-canvas', tabindex: '-1'}, this.svg);
    this.panning();
    this.el = h('section', {class: 'graph', 'aria-label': `Graph of workflow ${wf.name}`},
      h('div', {class: 'graph-tools'},
        h('span', {class: 'graph-title'}, wf.type === 'reverse' ? 'reverse workflow: arrows go from a task to those that require it' : 'direct workflow'),
        legend(wf.type === 'reverse', new Set(this.m.edges.map((e) => e.kind))),
        h('span', {class: 'zoom'},
          h('button', {type: 'button', class: 'small ghost', title: 'Zoom out', 'aria-label': 'Zoom out', onclick: () => this.zoom(this.scale / 1.25)}, '−'),
          h('button', {type: 'button', class: 'small ghost', title: 'Zoom in', 'aria-label': 'Zoom in', onclick: () => this.zoom(this.scale * 1.25)}, '+'),
          h('button', {type: 'button', class: 'small ghost', title: 'Fit the graph to the view', onclick: () => this.fit()}, 'Fit'),
          h('button', {type: 'button', class: 'small ghost', title: 'Actual size', onclick: () => this.zoom(1)}, '1:1'))),
      this.canvas);
    this.update(opts.exec || null);
  }

  draw() {
    const {width, height} = this.lay;
    const svg = s('svg', {class: 'graph-svg', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group', 'aria-label': 'tasks and transitions'});
    svg.appendChild(s('defs', null,
      ...['on-success', 'on-error', 'on-complete', 'on-skip', 'requires', 'dim'].map((k) =>
        s('marker', {id: `arrow-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: `arrow k-${k}`},
          s('path', {d: 'M0 1L10 5L0 9z'}))))); // marker ids are fixed words, never data
    const gEdges = s('g', {class: 'edges'});
    const gLabels = s('g', {class: 'labels'});
    const gNodes = s('g', {class: 'nodes'});
    const byId = new Map(this.m.nodes.map((n) => [n.id, n]));
    const loops = new Map(); // self-loops drawn so far, by node
    for (const e of this.lay.edges) {
      const d = e.data;
      let at = e.label;
      let dpath = pathOf(e.points);
      let anchor = 'middle';
      if (e.self) {
        // A transition back to its own task: a loop on the node's right.
        const p = this.lay.nodes.get(e.from);
        const k = loops.get(e.from) || 0;
        loops.set(e.from, k + 1);
        const x = p.x + p.w, y1 = p.y + 16 + k * 8, y2 = p.y + p.h - 16 - k * 8, out = 34 + k * 16;
        dpath = `M${x} ${y1}C${x + out} ${y1 - 10} ${x + out} ${y2 + 10} ${x + 2} ${y2}`;
        at = {x: x + out - 4 + d.lw / 2, y: p.y + p.h / 2 + k * 22};
        anchor = 'middle';
      }
      const path = s('path', {class: `edge k-${d.kind}`, d: dpath, 'marker-end': `url(#arrow-${d.kind})`},
        s('title', null, `${this.nameOf(byId.get(e.from))} → ${this.nameOf(byId.get(e.to))}: ${d.text || d.kind}`));
      gEdges.appendChild(path);
      let label = null;
      if (at && d.text) {
        const t = truncate(d.text, labelFont, d.lw - 12);
        label = s('g', {class: `edge-label k-${d.kind}`, transform: `translate(${at.x},${at.y})`},
          s('title', null, d.text),
          s('rect', {x: -d.lw / 2, y: -9, width: d.lw, height: 18, rx: 9}),
          s('text', {x: 0, y: 4, 'text-anchor': anchor}, t));
        gLabels.appendChild(label);
      }
      this.edgeEls.push({e, d, path, label});
    }
    for (const n of this.m.nodes) {
      const p = this.lay.nodes.get(n.id);
      const g = s('g', {class: `node ${n.kind}`, transform: `translate(${p.x},${p.y})`});
      if (n.kind === 'task') {
        g.setAttribute('tabindex', '0');
        g.setAttribute('role', 'button');
        g.dataset.task = n.task.name;
        g.addEventListener('click', () => this.choose(n.task.name));
        g.addEventListener('dblclick', () => this.opts.onOpen && this.opts.onOpen(n.task.name));
        g.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            this.choose(n.task.name);
          }
        });
        this.nodeEls.set(n.task.name, {g, n, p});
      } else {
        this.command(g, n);
      }
      gNodes.appendChild(g);
    }
    svg.append(gEdges, gLabels, gNodes);
    return svg;
  }

  nameOf(n) {
    if (!n) return '';
    return n.kind === 'task' ? n.task.name : n.command;
  }

  command(g, n) {
    const c = n.command;
    g.classList.add(`cmd-${c}`);
    g.dataset.command = c;
    const shape = c === 'fail'
      ? s('path', {class: 'cmd-shape', d: octagon(cmdW, cmdH)})
      : s('rect', {class: 'cmd-shape', width: cmdW, height: cmdH, rx: c === 'noop' ? 4 : cmdH / 2});
    const ic = {fail: 'ERROR', succeed: 'SUCCESS', pause: 'PAUSED', noop: 'NOTRUN'}[c] || 'NOTRUN';
    const word = n.missing ? `→ ${n.missing}` : c;
    g.append(shape,
      s('title', null, n.missing ? `transition to ${n.missing}, which is not a task of this workflow` : `engine command: ${c}${n.msg ? ' — ' + source(n.msg) : ''}`),
      translateIcon(ic, 10, (cmdH - 14) / 2, 14),
      s('text', {x: 30, y: cmdH / 2 + 4, class: 'cmd-text'}, truncate(word, font, cmdW - 36)));
  }

  // update paints an execution (or none) on the graph.
  update(exec) {
    this.exec = exec;
    const runs = runsOf(exec);
    this.runs = runs;
    for (const [name, {g, n}] of this.nodeEls) {
      const list = runs.get(name) || [];
      const run = list[list.length - 1];
      const st = exec ? (run ? run.state : 'NOTRUN') : 'DEF';
      g.setAttribute('class', `node task st-${st.toLowerCase()}${name === this.selected ? ' selected' : ''}`);
      g.dataset.state = exec ? st : '';
      g.setAttribute('aria-label', `task ${name}${exec ? ', ' + stateWord(st) : ''}`);
      g.setAttribute('aria-pressed', name === this.selected ? 'true' : 'false');
      fill(g, ...this.taskBody(n.task, run, list, st));
    }
    for (const {e, path, label} of this.edgeEls) {
      let dim = false;
      if (exec) {
        const from = e.from.startsWith('t:') && runs.get(e.from.slice(2));
        const to = e.to.startsWith('t:') ? runs.get(e.to.slice(2)) : null;
        dim = !from || (e.to.startsWith('t:') && !to);
      }
      path.classList.toggle('dim', dim);
      path.setAttribute('marker-end', `url(#arrow-${dim ? 'dim' : e.data.kind})`);
      if (label) label.classList.toggle('dim', dim);
    }
  }

  taskBody(def, run, list, st) {
    const kids = [];
    kids.push(s('title', null, `${def.name}${def.description ? ' — ' + def.description : ''}\n${def.workflow ? 'workflow ' + source(def.workflow) : 'action ' + (source(def.action) || 'std.noop')}`));
    kids.push(s('rect', {class: 'box', width: taskW, height: taskH, rx: 8}));
    if (st !== 'DEF') kids.push(translateIcon(st, 10, 10, 16));
    const left = st !== 'DEF' ? 32 : 12;
    kids.push(s('text', {x: left, y: 23, class: 'name'}, truncate(def.name, boldFont, taskW - left - 10)));
    const what = def.workflow ? `workflow ${source(def.workflow)}` : source(def.action) || 'std.noop';
    const tags = [];
    if (def.with_items && def.with_items.length) tags.push('with-items');
    if (def.join != null) tags.push(`join ${def.join}`);
    const whatText = truncate(what, monoFont, taskW - 22 - (tags.length ? 8 + textWidth(tags.join(' · '), labelFont) : 0));
    kids.push(s('text', {x: 12, y: 42, class: 'what'}, whatText));
    if (tags.length) kids.push(s('text', {x: taskW - 10, y: 42, class: 'tags', 'text-anchor': 'end'}, tags.join(' · ')));
    if (st !== 'DEF') {
      kids.push(s('text', {x: 12, y: 60, class: 'facts'}, truncate(taskFacts(def, run, list), font, taskW - 24)));
      if (run && (def.with_items && def.with_items.length || run.items != null)) {
        const c = itemCounts(run);
        if (c.known && c.total > 0) kids.push(progress(c, taskW, taskH));
      }
      if (run && run.child_id) kids.push(s('text', {x: taskW - 10, y: 23, class: 'child', 'text-anchor': 'end'}, 'child ↗'));
    } else if (def.start) {
      kids.push(s('text', {x: 12, y: 60, class: 'facts'}, 'start'));
    }
    if (def.join != null) {
      // The join bar: where the inbound transitions meet.
      kids.push(s('rect', {class: 'join-bar', x: taskW / 2 - 30, y: -6, width: 60, height: 6, rx: 2}, s('title', null, `join ${def.join}: waits for ${def.join === 'all' ? 'every' : def.join} inbound transition${def.join === 1 ? '' : 's'}`)));
    }
    return kids;
  }

  choose(name) {
    this.select(name);
    if (this.opts.onSelect) this.opts.onSelect(name);
  }

  select(name) {
    this.selected = name;
    for (const [n, {g}] of this.nodeEls) {
      g.classList.toggle('selected', n === name);
      g.setAttribute('aria-pressed', n === name ? 'true' : 'false');
    }
  }

  zoom(k) {
    this.scale = Math.min(2.5, Math.max(0.2, k));
    this.svg.setAttribute('width', Math.round(this.lay.width * this.scale));
    this.svg.setAttribute('height', Math.round(this.lay.height * this.scale));
  }

  // fit scales the graph to its canvas's width (never above 1:1).
  fit() {
    const w = this.canvas.clientWidth - 4;
    if (w <= 0) return;
    // The room the page leaves the canvas (its card's maximum height).
    const card = this.el.parentElement;
    const maxH = card ? parseFloat(getComputedStyle(card).maxHeight) - this.el.firstChild.offsetHeight - 4 : NaN;
    // Shrink to fit, but not below what stays readable: a larger graph
    // scrolls (or is dragged) instead.
    let k = Math.min(1, w / this.lay.width);
    if (maxH > 200) k = Math.min(k, maxH / this.lay.height);
    this.zoom(Math.max(k, 0.7));
    this.fitted = true;
  }

  // panning lets the canvas be dragged with the mouse.
  panning() {
    let from = null;
    this.canvas.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0 || ev.target.closest('.node.task')) return;
      from = {x: ev.clientX, y: ev.clientY, l: this.canvas.scrollLeft, t: this.canvas.scrollTop};
      this.canvas.classList.add('panning');
    });
    window.addEventListener('pointermove', (ev) => {
      if (!from) return;
      this.canvas.scrollLeft = from.l - (ev.clientX - from.x);
      this.canvas.scrollTop = from.t - (ev.clientY - from.y);
    });
    window.addEventListener('pointerup', () => {
      from = null;
      this.canvas.classList.remove('panning');
    });
  }
}

function translateIcon(state, x, y, size) {
  const g = s('g', {transform: `translate(${x},${y})`});
  g.appendChild(icon(state, size));
  return g;
}

function progress(c, w, hgt) {
  const g = s('g', {class: 'progress', transform: `translate(8,${hgt - 6})`});
  const bw = w - 16;
  g.appendChild(s('rect', {class: 'bar-bg', width: bw, height: 3, rx: 1.5}));
  let x = 0;
  for (const [k, n] of [['done', c.done], ['running', c.running], ['failed', c.failed]]) {
    if (!n) continue;
    const ww = (bw * n) / c.total;
    g.appendChild(s('rect', {class: `bar-${k}`, x, width: ww, height: 3}));
    x += ww;
  }
  return g;
}

function octagon(w, hgt) {
  const c = 8;
  return `M${c} 0H${w - c}L${w} ${c}V${hgt - c}L${w - c} ${hgt}H${c}L0 ${hgt - c}V${c}Z`;
}

// pathOf draws a line through points, with vertical tangents at each, so
// that edges between layers bend smoothly.
function pathOf(pts) {
  if (!pts.length) return '';
  let d = `M${pts[0][0].toFixed(1)} ${pts[0][1].toFixed(1)}`;
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    if (Math.abs(x1 - x0) < 0.5) {
      d += `L${x1.toFixed(1)} ${y1.toFixed(1)}`;
      continue;
    }
    const my = (y0 + y1) / 2;
    d += `C${x0.toFixed(1)} ${my.toFixed(1)} ${x1.toFixed(1)} ${my.toFixed(1)} ${x1.toFixed(1)} ${y1.toFixed(1)}`;
  }
  return d;
}

function legend(reverse, kinds) {
  const item = (k, word) => h('span', {class: 'legend-item'},
    s('svg', {width: 28, height: 10, 'aria-hidden': 'true'}, s('path', {class: `edge k-${k}`, d: 'M1 5H27'})), word);
  return h('span', {class: 'legend', 'aria-label': 'legend'},
    reverse ? item('requires', 'requires') : ['on-success', 'on-error', 'on-complete', 'on-skip'].filter((k) => k !== 'on-skip' || kinds.has(k)).map((k) => item(k, k)));
}
