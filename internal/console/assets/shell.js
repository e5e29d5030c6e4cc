// shell.js: what every view uses from the page around it: moving to
// another view, the banner, the live indicator, polling.

import {h, fill} from './dom.js';

const banner = document.getElementById('banner');
const live = document.getElementById('live');

// go moves to a fragment; replace keeps the history entry (filters).
export function go(frag, replace = false) {
  if (replace || location.hash === '#' + frag) {
    if (replace) history.replaceState(null, '', '#' + frag);
    window.dispatchEvent(new Event('bora:route'));
  } else {
    location.hash = frag;
  }
}

// showBanner tells of a problem that concerns the whole page.
export function showBanner(text, action) {
  fill(banner, h('span', null, text), action || null, h('button', {type: 'button', class: 'small ghost', 'aria-label': 'Dismiss', onclick: hideBanner}, 'Dismiss'));
  banner.hidden = false;
}

export function hideBanner() {
  banner.hidden = true;
}

// Live indicator: views report each refresh; one that fails shows offline.
export function liveState(state, detail = '') {
  live.className = `live ${state}`;
  live.textContent = {on: 'Live', off: '', paused: 'Paused', error: 'Offline'}[state] ?? '';
  live.title = detail;
  if (detail && state !== 'on') live.textContent += ` · ${detail}`;
}

// poll runs f now and then every ms after each run ends, while the page is
// visible; stop() ends it. f returns false to stop polling.
export function poll(f, ms) {
  let timer = null;
  let stopped = false;
  let running = false;
  const tick = async () => {
    timer = null;
    if (stopped || running) return;
    if (document.hidden) return; // resumed by visibilitychange
    running = true;
    let again = true;
    try {
      again = (await f()) !== false;
      liveState(again ? 'on' : 'off', again ? `updated ${new Date().toLocaleTimeString()}` : '');
    } catch (err) {
      if (err.name === 'AbortError') {
        // nothing: the view went away
      } else if (err.problem) {
        liveState('error', err.status === 0 ? 'retrying' : err.message);
      } else {
        // A fault of the console itself, not of the API.
        console.error(err);
        liveState('error', `the console failed: ${err.message}`);
      }
    } finally {
      running = false;
    }
    if (again && !stopped) timer = setTimeout(tick, ms);
  };
  const visible = () => {
    if (!document.hidden && !timer && !running && !stopped) tick();
  };
  document.addEventListener('visibilitychange', visible);
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visible);
      liveState('off');
    },
    now() {
      if (stopped) return;
      clearTimeout(timer);
      timer = null;
      tick();
    },
  };
}


// problemBox shows a failed call: the problem's title and detail, its
// field errors and diagnostics, all as text.
export function problemBox(err, {compact = false} = {}) {
  const p = (err && err.problem) || {title: 'Something went wrong', detail: err && err.message ? err.message : String(err)};
  const list = [];
  for (const e of p.errors || []) list.push(h('li', null, h('code', null, e.field), ' ', e.detail));
  for (const d of p.diagnostics || []) list.push(h('li', null, `line ${d.line}, column ${d.column}: ${d.message}`));
  return h('div', {class: ['problem', compact && 'compact'], role: 'alert'},
    h('strong', null, p.title || 'Error'),
    p.detail ? h('p', null, p.detail) : null,
    list.length ? h('ul', null, list) : null,
    p.request_id ? h('p', {class: 'muted small'}, `request id ${p.request_id}`) : null);
}
