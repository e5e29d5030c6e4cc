// executions.js: the list of executions, with filters, paging and live
// updates.

import {h, fill, badge, when, ago, duration, span, oneLine, finalStates} from './dom.js';
import {get} from './api.js';
import {go, poll, problemBox} from './shell.js';
import {openStart} from './dialogs.js';

const states = ['RUNNING', 'PAUSED', 'SUCCESS', 'ERROR', 'CANCELLED'];
const ranges = [
  ['', 'any time'],
  ['15m', 'last 15 minutes'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['custom', 'between…'],
];
const rangeMs = {'15m': 9e5, '1h': 36e5, '24h': 864e5, '7d': 6048e5};

// localInput turns an RFC 3339 time into a datetime-local value, and back.
function toLocalInput(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d - off).toISOString().slice(0, 16);
}
function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d) ? '' : d.toISOString();
}

export function executionsView(q) {
  const wfIn = h('input', {id: 'x-workflow', name: 'workflow', list: 'x-workflows', placeholder: 'any workflow', autocomplete: 'off', spellcheck: 'false'});
  const wfList = h('datalist', {id: 'x-workflows'});
  const stateSel = h('select', {id: 'x-state', name: 'state'}, h('option', {value: ''}, 'any state'), states.map((s) => h('option', {value: s}, s.toLowerCase())));
  const rangeSel = h('select', {id: 'x-range', name: 'range'}, ranges.map(([v, l]) => h('option', {value: v}, l)));
  const sinceIn = h('input', {id: 'x-since', name: 'since', type: 'datetime-local'});
  const untilIn = h('input', {id: 'x-until', name: 'until', type: 'datetime-local'});
  const custom = h('span', {class: 'custom-range'}, h('label', {for: 'x-since'}, 'from'), sinceIn, h('label', {for: 'x-until'}, 'to'), untilIn);
  const topIn = h('input', {id: 'x-top', name: 'top_level', type: 'checkbox'});
  const sizeSel = h('select', {id: 'x-limit', name: 'limit', 'aria-label': 'rows per page'}, [25, 50, 100].map((n) => h('option', {value: n}, `${n} per page`)));
  const tbody = h('tbody');
  const table = h('table', {class: 'list executions'},
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'State'), h('th', {scope: 'col'}, 'Execution'), h('th', {scope: 'col'}, 'Workflow'),
      h('th', {scope: 'col'}, 'Started'), h('th', {scope: 'col'}, 'Duration'), h('th', {scope: 'col', class: 'wide'}, 'State info'))),
    tbody);
  const status = h('div', {class: 'list-status', 'aria-live': 'polite'});
  const prev = h('button', {type: 'button', class: 'ghost', disabled: true}, '← Newer');
  const next = h('button', {type: 'button', class: 'ghost', disabled: true}, 'Older →');
  const pageNo = h('span', {class: 'muted'});
  const error = h('div');

  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter executions'},
    h('div', {class: 'field'}, h('label', {for: 'x-workflow'}, 'Workflow'), wfIn, wfList),
    h('div', {class: 'field'}, h('label', {for: 'x-state'}, 'State'), stateSel),
    h('div', {class: 'field'}, h('label', {for: 'x-range'}, 'Started'), h('span', {class: 'range'}, rangeSel, custom)),
    h('div', {class: 'field check'}, topIn, h('label', {for: 'x-top'}, 'top-level only')),
    h('div', {class: 'field buttons'},
      h('button', {type: 'submit', class: 'primary'}, 'Filter'),
      h('button', {type: 'button', class: 'ghost', onclick: () => go('/executions')}, 'Clear')));

  const el = h('div', {class: 'page executions-page'},
    h('div', {class: 'page-head'}, h('h1', null, 'Executions'), status),
    form, error,
    h('div', {class: 'table-wrap'}, table),
    h('div', {class: 'pager'}, prev, pageNo, next, sizeSel));

  let params = q;
  let cursors = ['']; // cursor of each page seen; the last is the current page's
  let nextCursor = '';
  let poller = null;
  let rows = new Map(); // id → state, to mark changes

  const filters = () => {
    const f = {
      workflow: params.get('workflow') || '',
      state: params.get('state') || '',
      top_level: params.get('top_level') === 'true',
      limit: Number(params.get('limit')) || 25,
    };
    const range = params.get('range') || '';
    if (rangeMs[range]) f.since = new Date(Date.now() - rangeMs[range]).toISOString();
    if (range === 'custom') {
      f.since = params.get('since') || '';
      f.until = params.get('until') || '';
    }
    return f;
  };

  const showForm = () => {
    wfIn.value = params.get('workflow') || '';
    stateSel.value = params.get('state') || '';
    rangeSel.value = params.get('range') || '';
    sinceIn.value = params.get('since') ? toLocalInput(params.get('since')) : '';
    untilIn.value = params.get('until') ? toLocalInput(params.get('until')) : '';
    custom.hidden = rangeSel.value !== 'custom';
    topIn.checked = params.get('top_level') === 'true';
    sizeSel.value = String(Number(params.get('limit')) || 25);
  };

  const apply = () => {
    const p = new URLSearchParams();
    if (wfIn.value.trim()) p.set('workflow', wfIn.value.trim());
    if (stateSel.value) p.set('state', stateSel.value);
    if (rangeSel.value) p.set('range', rangeSel.value);
    if (rangeSel.value === 'custom') {
      if (sinceIn.value) p.set('since', fromLocalInput(sinceIn.value));
      if (untilIn.value) p.set('until', fromLocalInput(untilIn.value));
    }
    if (topIn.checked) p.set('top_level', 'true');
    if (sizeSel.value !== '25') p.set('limit', sizeSel.value);
    const s = p.toString();
    go('/executions' + (s ? '?' + s : ''), true);
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  rangeSel.addEventListener('change', () => {
    custom.hidden = rangeSel.value !== 'custom';
    if (rangeSel.value !== 'custom') apply();
  });
  stateSel.addEventListener('change', apply);
  topIn.addEventListener('change', apply);
  sizeSel.addEventListener('change', apply);

  const row = (e, now) => {
    const changed = rows.has(e.id) && rows.get(e.id) !== e.state;
    const link = `#/executions/${encodeURIComponent(e.id)}`;
    const tr = h('tr', {class: changed ? 'changed' : null, dataset: {id: e.id, state: e.state}},
      h('td', null, badge(e.state)),
      h('td', {class: 'mono'}, h('a', {href: link, title: e.id}, e.id),
        e.parent_id ? h('div', {class: 'sub muted'}, 'sub-workflow of ', h('a', {href: `#/executions/${encodeURIComponent(e.parent_id)}`}, oneLine(e.parent_id, 24))) : null),
      h('td', null, h('a', {href: `#/workflows/${encodeURIComponent(e.definition)}?version=${e.version}`}, e.workflow), h('span', {class: 'muted'}, ` v${e.version}`)),
      h('td', {title: when(e.created_at)}, ago(e.created_at, now)),
      h('td', null, duration(finalStates.has(e.state) ? span(e.created_at, e.updated_at) : span(e.created_at))),
      h('td', {class: 'info', title: e.state_info || ''}, oneLine(e.state_info || '', 160)));
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a') || getSelection().toString()) return;
      go(`/executions/${encodeURIComponent(e.id)}`);
    });
    return tr;
  };

  const load = async () => {
    const f = filters();
    const cursor = cursors[cursors.length - 1];
    let page;
    try {
      page = await get('/executions', {...f, cursor});
      // Filtering by workflow, the API may answer short or empty pages
      // with a cursor: look a few pages further before showing nothing.
      for (let hops = 0; !page.executions.length && page.next_cursor && hops < 8; hops++) {
        page = await get('/executions', {...f, cursor: page.next_cursor});
      }
    } catch (err) {
      fill(error, problemBox(err));
      throw err;
    }
    fill(error);
    const now = Date.now();
    fill(tbody, page.executions.map((e) => row(e, now)));
    rows = new Map(page.executions.map((e) => [e.id, e.state]));
    nextCursor = page.next_cursor || '';
    prev.disabled = cursors.length <= 1;
    next.disabled = !nextCursor;
    pageNo.textContent = cursors.length > 1 || nextCursor ? `page ${cursors.length}` : '';
    const filtered = f.workflow || f.state || f.since || f.until || f.top_level;
    if (!page.executions.length) {
      const msg = filtered || cursors.length > 1
        ? h('td', {colspan: 6, class: 'empty'}, page.next_cursor ? 'No match on this page: look further with Older →.' : 'No execution matches these filters.')
        : h('td', {colspan: 6, class: 'empty'}, 'No executions yet. ', h('button', {type: 'button', class: 'link', onclick: () => openStart()}, 'Start one'), '.');
      fill(tbody, h('tr', null, msg));
    }
    const running = page.executions.filter((e) => e.state === 'RUNNING').length;
    status.textContent = `${page.executions.length} shown${running ? `, ${running} running` : ''}`;
  };

  next.addEventListener('click', () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    poller.now();
  });
  prev.addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    poller.now();
  });

  // The workflow filter offers the stored workflows' names.
  get('/workflows', {limit: 100}).then((p) => fill(wfList, p.workflows.map((w) => h('option', {value: w.name}))), () => {});

  showForm();
  poller = poll(load, 2500);
  return {
    el,
    update(nq) {
      params = nq;
      cursors = [''];
      rows = new Map();
      showForm();
      poller.now();
    },
    destroy() {
      poller.stop();
    },
  };
}
