// dom.js: the page is built from elements and text nodes only. Nothing
// here, nor anywhere in the console, assigns innerHTML or parses markup:
// a workflow's data always ends up as text.

const SVGNS = 'http://www.w3.org/2000/svg';

// h makes an HTML element: h('a', {href: '#/x', class: 'y'}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  attr(el, attrs);
  add(el, children);
  return el;
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  attr(el, attrs);
  add(el, children);
  return el;
}

// Properties set as properties rather than attributes.
const props = new Set(['value', 'checked', 'selected', 'disabled', 'indeterminate', 'open']);

function attr(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false && !props.has(k)) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      const c = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
      if (c) el.setAttribute('class', c);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'style') {
      for (const [p, x] of Object.entries(v)) el.style.setProperty(p, String(x));
    } else if (k === 'href') {
      el.setAttribute('href', safeHref(v));
    } else if (props.has(k) && !(el instanceof SVGElement)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

// safeHref keeps links inside the console: a fragment, or a path of
// this origin. Anything else (javascript:, data:, another host) is dropped.
export function safeHref(v) {
  const x = String(v);
  if (x.startsWith('#') || (x.startsWith('/') && !x.startsWith('//'))) return x;
  return '#';
}

// add appends children: nodes as they are, strings and numbers as text,
// arrays flattened, null/undefined/false skipped.
export function add(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

// clear empties an element, then fills it with children.
export function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// Formatting.

// pretty is a JSON value as indented text.
export function pretty(v) {
  if (v === undefined) return '';
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

// oneLine is a value shortened to fit a table cell.
export function oneLine(v, max = 120) {
  let t = typeof v === 'string' ? v : JSON.stringify(v);
  if (t === undefined) return '';
  t = t.replace(/\s+/g, ' ');
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// when is a time as local date and time, to the second.
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// clock is a time of day with milliseconds, for timelines.
export function clock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// ago is how long ago a time was, roughly.
export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// duration is a span in milliseconds as a person reads it.
export function duration(ms) {
  if (ms == null || isNaN(ms)) return '';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const hh = Math.floor(m / 60);
  if (hh < 48) return `${hh} h ${m % 60} min`;
  return `${Math.floor(hh / 24)} d ${hh % 24} h`;
}

// span is the time between two instants; an open end is now.
export function span(from, to) {
  const a = Date.parse(from);
  if (isNaN(a)) return null;
  const b = to ? Date.parse(to) : Date.now();
  return b - a;
}

// States, their words and their icons: every state has a shape of its own,
// so that none is told apart by colour alone.

export const finalStates = new Set(['SUCCESS', 'ERROR', 'CANCELLED', 'SKIPPED']);

const iconPaths = {
  SUCCESS: [['path', {d: 'M3.5 8.5l3 3 6-7', fill: 'none'}]],
  ERROR: [['path', {d: 'M4.5 4.5l7 7M11.5 4.5l-7 7', fill: 'none'}]],
  RUNNING: [['path', {d: 'M8 2.5a5.5 5.5 0 1 1-5.5 5.5', fill: 'none', class: 'spin'}], ['circle', {cx: 8, cy: 8, r: 1.6, class: 'solid'}]],
  SCHEDULED: [['circle', {cx: 8, cy: 8, r: 5.5, fill: 'none'}], ['path', {d: 'M8 5v3.2l2.2 1.6', fill: 'none'}]],
  DELAYED: [['path', {d: 'M4.5 2.5h7M4.5 13.5h7M5.5 2.5c0 3.5 5 3.5 5 5.5s-5 2-5 5.5M10.5 2.5c0 3.5-5 3.5-5 5.5s5 2 5 5.5', fill: 'none'}]],
  WAITING: [['circle', {cx: 3.5, cy: 8, r: 1.3, class: 'solid'}], ['circle', {cx: 8, cy: 8, r: 1.3, class: 'solid'}], ['circle', {cx: 12.5, cy: 8, r: 1.3, class: 'solid'}]],
  PAUSED: [['path', {d: 'M5.5 3.5v9M10.5 3.5v9', fill: 'none', class: 'thick'}]],
  CANCELLED: [['circle', {cx: 8, cy: 8, r: 5.5, fill: 'none'}], ['path', {d: 'M4.2 11.8l7.6-7.6', fill: 'none'}]],
  SKIPPED: [['path', {d: 'M3 4.5l4.5 3.5L3 11.5zM8 4.5l4.5 3.5L8 11.5z', fill: 'none'}]],
  NOTRUN: [['circle', {cx: 8, cy: 8, r: 5, fill: 'none', class: 'dashed'}]],
};

// icon is a state's 16×16 icon (an SVG element), hidden from screen
// readers: the state's word always goes with it.
export function icon(state, size = 16) {
  const parts = iconPaths[state] || iconPaths.NOTRUN;
  return s('svg', {class: `icon st-${(state || 'NOTRUN').toLowerCase()}`, viewBox: '0 0 16 16', width: size, height: size, 'aria-hidden': 'true'},
    parts.map(([tag, a]) => s(tag, a)));
}

// stateWord is what a state is called on screen.
export function stateWord(state) {
  return state === 'NOTRUN' ? 'not run' : String(state || '').toLowerCase();
}

// badge is a state as icon and word.
export function badge(state) {
  const st = state || 'NOTRUN';
  return h('span', {class: `badge st-${st.toLowerCase()}`, title: st === 'NOTRUN' ? 'not run' : st}, icon(st, 14), h('span', null, stateWord(st)));
}

// copyButton copies text to the clipboard.
export function copyButton(text, label = 'Copy') {
  const b = h('button', {type: 'button', class: 'small ghost', title: 'Copy to the clipboard'}, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(typeof text === 'function' ? text() : text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Copy failed';
    }
    setTimeout(() => (b.textContent = label), 1200);
  });
  return b;
}

// shownChars bounds the text a value shows at first: the page stays
// quick with a value of megabytes; the rest is a click away.
const shownChars = 100000;

// jsonBlock shows a JSON value as preformatted text, with a copy button.
export function jsonBlock(v, {empty = 'nothing', label} = {}) {
  const text = pretty(v);
  const isEmpty = v == null || (typeof v === 'object' && !JSON.isRawJSON?.(v) && Object.keys(v).length === 0);
  let body;
  if (isEmpty && v == null) {
    body = h('p', {class: 'muted'}, empty);
  } else if (text.length > shownChars) {
    const pre = h('pre', {class: 'code'}, text.slice(0, shownChars) + '\n…');
    const all = h('button', {type: 'button', class: 'small', onclick: () => {
      fill(pre, text);
      all.remove();
    }}, `Show all ${Math.round(text.length / 1024)} KiB`);
    body = [pre, all];
  } else {
    body = h('pre', {class: 'code'}, text);
  }
  return h('div', {class: 'json'},
    label ? h('div', {class: 'json-head'}, h('span', {class: 'label'}, label), isEmpty ? null : copyButton(text)) : null,
    body);
}

// newKey is a fresh Idempotency-Key.
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// debounce delays f until calls stop for ms.
export function debounce(f, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => f(...args), ms);
  };
}

// measure gives a text's width in pixels in a font, for the graph.
let ctx2d;
export function textWidth(text, font) {
  ctx2d ||= document.createElement('canvas').getContext('2d');
  ctx2d.font = font;
  return ctx2d.measureText(text).width;
}

// truncate cuts text to a width in a font, with an ellipsis.
export function truncate(text, font, width) {
  if (textWidth(text, font) <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(text.slice(0, mid) + '…', font) <= width) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}
