// workflows.js: the stored workflows, one workflow's versions with its
// YAML and graph, and the editor that validates a document and stores it
// as a new version.

import {h, fill, when, ago, debounce} from './dom.js';
import {call, get, graph, workflowPath, enc} from './api.js';
import {go, problemBox} from './shell.js';
import {GraphView} from './graph.js';
import {openStart, confirmAction} from './dialogs.js';

export function workflowsView(q) {
  const search = h('input', {id: 'w-search', type: 'search', placeholder: 'name starts with…', autocomplete: 'off', spellcheck: 'false', value: q.get('prefix') || ''});
  const tbody = h('tbody');
  const more = h('button', {type: 'button', class: 'ghost', hidden: true}, 'More');
  const error = h('div');
  let cursor = '';
  const el = h('div', {class: 'page workflows-page'},
    h('div', {class: 'page-head'}, h('h1', null, 'Workflows'), h('a', {href: '#/new', class: 'button primary'}, 'New workflow')),
    h('form', {class: 'filters', role: 'search', onsubmit: (ev) => {
      ev.preventDefault();
      go('/workflows' + (search.value ? '?prefix=' + enc(search.value) : ''), true);
    }}, h('div', {class: 'field'}, h('label', {for: 'w-search'}, 'Find'), search), h('div', {class: 'field buttons'}, h('button', {type: 'submit'}, 'Find'))),
    error,
    h('div', {class: 'table-wrap'}, h('table', {class: 'list'},
      h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col'}, 'Latest version'), h('th', {scope: 'col'}, 'Stored'), h('th', {scope: 'col'}, ''))),
      tbody)),
    h('div', {class: 'pager'}, more));

  const load = async (prefix, append) => {
    try {
      const page = await get('/workflows', {prefix, cursor: append ? cursor : '', limit: 50});
      fill(error);
      const rows = page.workflows.map((w) => h('tr', {dataset: {name: w.name}},
        h('td', null, h('a', {href: `#/workflows/${enc(w.name)}`}, w.name)),
        h('td', null, `v${w.version}`),
        h('td', {title: when(w.updated_at)}, ago(w.updated_at)),
        h('td', {class: 'row-actions'},
          h('button', {type: 'button', class: 'small', onclick: () => openStart({workflow: w.name})}, 'Start…'),
          h('a', {class: 'button small ghost', href: `#/executions?workflow=${enc(w.name)}`}, 'Executions'))));
      if (append) tbody.append(...rows);
      else fill(tbody, rows.length ? rows : h('tr', null, h('td', {colspan: 4, class: 'empty'}, prefix ? 'No workflow name starts with that.' : 'No workflows stored yet. ', prefix ? null : h('a', {href: '#/new'}, 'Write one'))));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
    } catch (err) {
      fill(error, problemBox(err));
    }
  };
  more.addEventListener('click', () => load(search.value, true));
  load(q.get('prefix') || '', false);
  return {
    el,
    update(nq) {
      search.value = nq.get('prefix') || '';
      load(search.value, false);
    },
  };
}

// codeView shows a document with line numbers, each line a text node.
function codeView(text, marks = new Map()) {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return h('div', {class: 'code-view', role: 'region', 'aria-label': 'YAML', tabindex: '0'},
    h('ol', null, lines.map((l, i) => h('li', {class: marks.has(i + 1) ? `mark-${marks.get(i + 1)}` : null, dataset: {line: i + 1}}, h('span', null, l || ' ')))));
}

// focusLine scrolls a code view to a line and marks it.
function focusLine(root, line) {
  if (!line) return;
  for (const li of root.querySelectorAll('.code-view li.mark-focus')) li.classList.remove('mark-focus');
  const li = root.querySelector(`.code-view li[data-line="${Number(line)}"]`);
  if (!li) return;
  li.classList.add('mark-focus');
  const view = li.closest('.code-view');
  view.scrollTop = li.offsetTop - view.clientHeight / 3;
}

export function workflowView(name, q) {
  let params = q;
  let doc = null; // the version shown
  let latest = 0;
  let gv = null;
  const head = h('div', {class: 'page-head'});
  const error = h('div');
  const body = h('div', {class: 'wf-body'});
  const el = h('div', {class: 'page workflow-page'},
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumbs'}, h('a', {href: '#/workflows'}, 'Workflows'), ' / ', h('span', null, name)),
    head, error, body);

  const load = async () => {
    const v = Number(params.get('version')) || 0;
    try {
      const lw = await get(workflowPath(name));
      latest = lw.version;
      doc = v && v !== latest ? await get(workflowPath(name, v)) : lw;
    } catch (err) {
      // A deleted workflow's versions stay readable by number.
      if (err.status === 404 && v) {
        try {
          doc = await get(workflowPath(name, v));
          latest = 0;
        } catch (err2) {
          fill(error, problemBox(err2));
          return;
        }
      } else {
        fill(head, h('h1', null, name));
        fill(error, problemBox(err));
        return;
      }
    }
    fill(error);
    render();
  };

  const render = () => {
    const verSel = h('select', {id: 'w-version', 'aria-label': 'Version'},
      Array.from({length: Math.max(latest, doc.version)}, (_, i) => Math.max(latest, doc.version) - i).map((n) =>
        h('option', {value: n, selected: n === doc.version}, n === latest ? `version ${n} (latest)` : `version ${n}`)));
    verSel.addEventListener('change', () => go(`/workflows/${enc(name)}?version=${verSel.value}`, true));
    fill(head,
      h('h1', null, name, ' ', verSel),
      h('div', {class: 'exec-actions'},
        h('button', {type: 'button', class: 'primary', onclick: () => openStart({workflow: doc.workflows.length === 1 ? doc.workflows[0] : name, version: doc.version})}, 'Start…'),
        h('a', {class: 'button', href: `#/workflows/${enc(name)}/edit?version=${doc.version}`}, 'Edit as a new version'),
        h('a', {class: 'button ghost', href: `#/executions?workflow=${enc(name)}`}, 'Executions'),
        latest ? h('button', {type: 'button', class: 'danger ghost', onclick: remove}, 'Delete…') : h('span', {class: 'muted'}, 'deleted')));
    const graphCard = h('section', {class: 'card wf-graph'}, h('p', {class: 'muted pad'}, 'Loading the graph…'));
    fill(body,
      doc.workflows.length > 1 ? h('p', {class: 'muted'}, `A workbook of ${doc.workflows.length} workflows: ${doc.workflows.join(', ')}.`) : null,
      h('div', {class: 'wf-grid'},
        graphCard,
        h('section', {class: 'card wf-yaml'}, h('div', {class: 'card-head'}, h('h2', null, 'Definition'), h('span', {class: 'muted small'}, 'YAML as stored')), codeView(doc.definition || ''))));
    graph(name, doc.version).then((g) => {
      const pick = h('select', {'aria-label': 'Workflow of the document'}, g.workflows.map((w, i) => h('option', {value: i}, w.name)));
      const show = () => {
        const wf = g.workflows[Number(pick.value) || 0];
        // Choosing a task shows where the document defines it.
        gv = new GraphView(wf, {onSelect: (task) => focusLine(body, (wf.tasks.find((t) => t.name === task) || {}).line)});
        fill(graphCard, h('div', {class: 'card-head'}, h('h2', null, 'Graph'), g.workflows.length > 1 ? pick : null), gv.el);
        requestAnimationFrame(() => gv.fit());
      };
      pick.addEventListener('change', show);
      show();
    }, (err) => fill(graphCard, h('p', {class: 'muted pad'}, err.status === 404 ? 'This server does not describe workflow graphs.' : `The graph could not be read: ${err.message}`)));
  };

  const remove = () => confirmAction({
    title: `Delete workflow ${name}?`,
    message: 'It is no longer listed and no new execution can start it. Executions already started keep running on their version, and its versions stay readable by number. This cannot be undone; storing a document under the same name later starts at the next version number.',
    confirm: 'Delete workflow',
    danger: true,
    run: async () => {
      await call('DELETE', workflowPath(name));
      go('/workflows');
    },
  });

  load();
  return {
    el,
    update(nq) {
      params = nq;
      load();
    },
  };
}

// The editor: a textarea with line numbers, validated as it is typed with
// the same diagnostics as `bora validate`.
export function editorView(name, q) {
  const ta = h('textarea', {id: 'yaml', class: 'editor-text', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', wrap: 'off', 'aria-label': 'Workflow document (YAML)', 'aria-describedby': 'diagnostics'});
  const gutter = h('ol', {class: 'gutter', 'aria-hidden': 'true'});
  const diags = h('div', {id: 'diagnostics', class: 'diagnostics', 'aria-live': 'polite'});
  const status = h('span', {class: 'muted small', 'aria-live': 'polite'});
  const save = h('button', {type: 'button', class: 'primary'}, 'Save as a new version');
  const validateBtn = h('button', {type: 'button'}, 'Validate');
  const error = h('div');
  let marks = new Map();
  let seq = 0;

  const el = h('div', {class: 'page editor-page'},
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumbs'}, h('a', {href: '#/workflows'}, 'Workflows'), ' / ',
      name ? [h('a', {href: `#/workflows/${enc(name)}`}, name), ' / edit'] : 'new'),
    h('div', {class: 'page-head'}, h('h1', null, name ? `Edit ${name}` : 'New workflow'),
      h('div', {class: 'exec-actions'}, status, validateBtn, save)),
    h('p', {class: 'muted'}, name
      ? 'Saving stores the document as a new version; executions already started keep the version they started with.'
      : 'Write a workflow document (Mistral workflow language v2). Saving stores each of its workflows under its name (a workbook under the workbook\u2019s name).'),
    error,
    h('div', {class: 'editor'}, gutter, ta),
    diags);

  const lines = () => {
    const n = ta.value.split('\n').length;
    const kids = [];
    for (let i = 1; i <= n; i++) kids.push(h('li', {class: marks.has(i) ? `mark-${marks.get(i)}` : null}, String(i)));
    fill(gutter, kids);
    gutter.scrollTop = ta.scrollTop;
  };

  const goTo = (line, col) => {
    const ls = ta.value.split('\n');
    let off = 0;
    for (let i = 0; i < line - 1 && i < ls.length; i++) off += ls[i].length + 1;
    off += Math.max(0, Math.min(col - 1, (ls[line - 1] || '').length));
    ta.focus();
    ta.setSelectionRange(off, off);
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 4) * lh);
  };

  const showDiagnostics = (list, valid) => {
    marks = new Map();
    for (const d of list) if (!marks.has(d.line) || d.severity === 'error') marks.set(d.line, d.severity);
    lines();
    fill(diags, list.length
      ? h('ul', {class: 'diag-list'}, list.map((d) => h('li', {class: `diag ${d.severity}`},
        h('button', {type: 'button', class: 'link', onclick: () => goTo(d.line, d.column), title: 'Go to this place'},
          h('span', {class: 'where mono'}, `${d.line}:${d.column}`), h('span', {class: 'sev'}, d.severity), h('span', {class: 'msg'}, d.message)))))
      : h('p', {class: 'ok'}, valid ? 'Valid: no problems found.' : ''));
  };

  const validate = async () => {
    const n = ++seq;
    if (!ta.value.trim()) {
      showDiagnostics([], false);
      status.textContent = '';
      return null;
    }
    status.textContent = 'checking…';
    try {
      const r = await call('POST', '/workflows/validate', {yaml: ta.value});
      if (n !== seq) return null;
      fill(error);
      showDiagnostics(r.diagnostics, r.valid);
      status.textContent = r.valid ? `valid${r.workflows.length ? ': ' + r.workflows.join(', ') : ''}` : `${r.diagnostics.filter((d) => d.severity === 'error').length} error(s)`;
      return r;
    } catch (err) {
      if (n !== seq) return null;
      status.textContent = '';
      if (err.problem && err.problem.diagnostics) showDiagnostics(err.problem.diagnostics, false);
      fill(error, problemBox(err));
      return null;
    }
  };
  const later = debounce(validate, 600);

  ta.addEventListener('input', () => {
    lines();
    later();
  });
  ta.addEventListener('scroll', () => (gutter.scrollTop = ta.scrollTop));
  ta.addEventListener('keydown', (ev) => {
    // Tab indents by two spaces (YAML allows no tabs); Shift+Tab leaves.
    if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      ev.preventDefault();
      ta.setRangeText('  ', ta.selectionStart, ta.selectionEnd, 'end');
      lines();
      later();
    }
  });
  validateBtn.addEventListener('click', validate);
  // Ctrl+S (⌘S) saves; closing the tab with unsaved changes asks first.
  let original = '';
  const dirty = () => ta.value !== original;
  const guard = (ev) => {
    if (dirty()) ev.preventDefault();
  };
  window.addEventListener('beforeunload', guard);
  ta.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
      ev.preventDefault();
      save.click();
    }
  });
  save.addEventListener('click', async () => {
    const r = await validate();
    if (!r || !r.valid) {
      if (r) diags.scrollIntoView({block: 'nearest'});
      return;
    }
    save.disabled = true;
    try {
      const res = await call('POST', '/workflows', {yaml: ta.value});
      original = ta.value;
      const first = res.workflows[0];
      go(`/workflows/${enc(first.name)}?version=${first.version}`);
    } catch (err) {
      if (err.problem && err.problem.diagnostics) showDiagnostics(err.problem.diagnostics, false);
      fill(error, problemBox(err));
    } finally {
      save.disabled = false;
    }
  });

  const v = Number(q.get('version')) || 0;
  if (name) {
    get(workflowPath(name, v)).then((w) => {
      ta.value = original = w.definition || '';
      lines();
      validate();
    }, (err) => fill(error, problemBox(err)));
  } else {
    ta.value = original = starter;
    lines();
  }
  return {
    el,
    mounted: () => ta.focus(),
    destroy: () => window.removeEventListener('beforeunload', guard),
  };
}

const starter = `version: '2.0'

hello:
  input:
    - name: World
  tasks:
    greet:
      action: std.echo output=<% 'Hello, ' + $.name + '!' %>
      publish:
        greeting: <% task().result %>
  output:
    greeting: <% $.greeting %>
`;
