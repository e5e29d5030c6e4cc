// app.js: the console's shell: routes (in the URL's fragment, so that the
// server serves one page), the live indicator, the banner, the token prompt.

import {h, fill} from './dom.js';
import {onUnauthorized, setToken, token} from './api.js';
import {executionsView} from './executions.js';
import {executionView} from './execution.js';
import {workflowsView, workflowView, editorView} from './workflows.js';
import {openStart, promptToken} from './dialogs.js';
import {hideBanner} from './shell.js';

const main = document.getElementById('main');

// The routes: a pattern of the fragment's path, and the view that shows it.
// A view is {key, el, update(params)?, destroy()?}; a new fragment with the
// same key updates the view in place (selecting a task, paging).
const routes = [
  [/^\/executions\/([^/]+)$/, (m, q) => executionView(dec(m[1]), q)],
  [/^\/executions\/?$/, (m, q) => executionsView(q)],
  [/^\/workflows\/?$/, (m, q) => workflowsView(q)],
  [/^\/workflows\/([^/]+)\/edit$/, (m, q) => editorView(dec(m[1]), q)],
  [/^\/workflows\/([^/]+)$/, (m, q) => workflowView(dec(m[1]), q)],
  [/^\/new$/, (m, q) => editorView('', q)],
];

let current = null;

// dec decodes a part of the address; a malformed one is kept as it is.
function dec(x) {
  try {
    return decodeURIComponent(x);
  } catch {
    return x;
  }
}

function parse() {
  const frag = location.hash.replace(/^#/, '') || '/executions';
  const [path, query = ''] = frag.split('?');
  return {path, query: new URLSearchParams(query)};
}

function route() {
  const {path, query} = parse();
  for (const [re, make] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    const key = path.replace(/\/$/, '');
    if (current && current.key === key && current.update) {
      current.update(query);
      return;
    }
    if (current && current.destroy) current.destroy();
    hideBanner();
    current = make(m, query);
    current.key = key;
    fill(main, current.el);
    nav(path);
    if (current.mounted) current.mounted();
    main.focus({preventScroll: true});
    window.scrollTo(0, 0);
    return;
  }
  if (current && current.destroy) current.destroy();
  current = null;
  fill(main, h('div', {class: 'empty'}, h('h1', null, 'Not found'), h('p', null, 'Nothing is at this address in the console. '), h('a', {href: '#/executions'}, 'Go to the executions')));
}

function nav(path) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = path.startsWith('/' + a.dataset.nav) || (a.dataset.nav === 'workflows' && path === '/new');
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

onUnauthorized(async () => {
  if (document.querySelector('dialog.token')) return;
  const t = await promptToken(!!token());
  if (t != null) {
    setToken(t);
    if (current && current.destroy) current.destroy();
    current = null;
    route();
  }
});

document.getElementById('start-button').addEventListener('click', () => {
  const q = parse().query;
  openStart({workflow: q.get('workflow') || ''});
});

window.addEventListener('hashchange', route);
window.addEventListener('bora:route', route);
route();
