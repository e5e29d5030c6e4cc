// dialogs.js: modal dialogs: start an execution, confirm an action that
// cannot be undone, rerun a task, give the server's token.

import {h, fill, newKey, pretty} from './dom.js';
import {call, get, graph, workflowPath, executionPath, ApiError} from './api.js';
import {check} from './json.js';
import {go, problemBox} from './shell.js';

// modal opens a <dialog>; it is removed from the page when it closes.
export function modal({title, className, body, onClose}) {
  const d = h('dialog', {class: ['modal', className], 'aria-label': title},
    h('div', {class: 'modal-head'},
      h('h2', null, title),
      h('button', {type: 'button', class: 'small ghost', 'aria-label': 'Close', onclick: () => d.close()}, '✕')),
    body);
  d.addEventListener('close', () => {
    d.remove();
    if (onClose) onClose(d.returnValue);
  });
  document.body.appendChild(d);
  d.showModal();
  return d;
}

// jsonField is a textarea whose text must be JSON (an object), checked as
// it is typed; the message says the line and column of the first mistake.
export function jsonField({name, label, value = '', help, allowEmpty = true, rows = 6}) {
  const ta = h('textarea', {name, id: `f-${name}`, rows, spellcheck: 'false', autocomplete: 'off', class: 'code-input', 'aria-describedby': `f-${name}-msg`});
  ta.value = value;
  const msg = h('div', {class: 'field-msg', id: `f-${name}-msg`, 'aria-live': 'polite'});
  const f = {
    el: h('div', {class: 'field'}, h('label', {for: `f-${name}`}, label), ta, msg, help ? h('p', {class: 'help'}, help) : null),
    ta,
    result: null,
    edited: false,
    validate() {
      const r = check(ta.value, {object: true, allowEmpty});
      f.result = r;
      ta.classList.toggle('invalid', !r.ok);
      ta.setAttribute('aria-invalid', r.ok ? 'false' : 'true');
      fill(msg, r.ok ? '' : `${label}: line ${r.line}, column ${r.col}: ${r.message}`);
      msg.classList.toggle('error', !r.ok);
      return r.ok;
    },
    // raw is the checked text to send, or null when empty.
    raw() {
      return f.result && f.result.ok && !f.result.empty ? ta.value : null;
    },
    set(v) {
      ta.value = v;
      f.validate();
    },
  };
  ta.addEventListener('input', () => {
    f.edited = true;
    f.validate();
  });
  f.validate();
  return f;
}

// definitions lists the stored workflows (at most a few pages of them).
async function definitions() {
  const out = [];
  let cursor = '';
  for (let i = 0; i < 5; i++) {
    const page = await get('/workflows', {limit: 100, cursor});
    out.push(...page.workflows);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

// inputTemplate is a JSON object with a workflow's inputs and their defaults.
function inputTemplate(wf) {
  if (!wf || !wf.input || !wf.input.length) return '{}';
  const o = {};
  for (const p of wf.input) o[p.name] = 'default' in p ? p.default : null;
  return pretty(o);
}

// openStart opens the start form. pre: workflow, version, input, env.
export function openStart(pre = {}) {
  const key = new Map(); // request body → Idempotency-Key, so a retry starts one execution
  const defSel = h('select', {id: 'f-definition', name: 'definition', required: true}, h('option', {value: ''}, 'loading…'));
  const wfSel = h('select', {id: 'f-workflow', name: 'workflow'});
  const wfField = h('div', {class: 'field', hidden: true}, h('label', {for: 'f-workflow'}, 'Workflow of the workbook'), wfSel);
  const verSel = h('select', {id: 'f-version', name: 'version'});
  const taskSel = h('select', {id: 'f-task', name: 'task_name'});
  const taskField = h('div', {class: 'field', hidden: true}, h('label', {for: 'f-task'}, 'Run to task (reverse workflow)'), taskSel);
  const idIn = h('input', {id: 'f-id', name: 'id', placeholder: 'made up when empty', pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}', autocomplete: 'off', spellcheck: 'false'});
  const input = jsonField({name: 'input', label: 'Input', value: pre.input != null ? pretty(pre.input) : '{}', help: 'A JSON object: the workflow\u2019s input.', rows: 8});
  const env = jsonField({name: 'env', label: 'Environment', value: pre.env != null ? pretty(pre.env) : '', help: 'Optional JSON object, read with env().', rows: 3});
  if (pre.input != null) input.edited = true;
  const errors = h('div', {class: 'form-errors'});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Start');
  let graphs = null; // workflows of the chosen version, from the graph route
  let runnable = []; // names an execution may be started by

  const form = h('form', {class: 'form', method: 'dialog', novalidate: true},
    h('div', {class: 'row'},
      h('div', {class: 'field grow'}, h('label', {for: 'f-definition'}, 'Workflow'), defSel),
      h('div', {class: 'field'}, h('label', {for: 'f-version'}, 'Version'), verSel)),
    wfField, taskField, input.el, env.el,
    h('div', {class: 'field'}, h('label', {for: 'f-id'}, 'Execution id'), idIn),
    errors,
    h('div', {class: 'actions'},
      h('button', {type: 'button', class: 'ghost', onclick: () => d.close()}, 'Cancel'),
      submit));
  const d = modal({title: 'Start an execution', className: 'start', body: form});

  const chosenWorkflow = () => (runnable.length > 1 ? wfSel.value : runnable[0] || defSel.value);
  const wfGraph = () => graphs && graphs.workflows.find((w) => w.name === chosenWorkflow() || `${defSel.value}.${w.name}` === chosenWorkflow());

  const refreshWorkflow = () => {
    const wf = wfGraph();
    const reverse = wf && wf.type === 'reverse';
    taskField.hidden = !reverse;
    if (reverse) fill(taskSel, wf.tasks.map((t) => h('option', {value: t.name}, t.name)));
    if (!input.edited) input.set(inputTemplate(wf));
  };

  const loadVersion = async () => {
    graphs = null;
    const def = defSel.value;
    if (!def) return;
    try {
      const w = await get(workflowPath(def, verSel.value || 0));
      runnable = w.workflows || [def];
      graphs = await graph(def, w.version).catch(() => null);
    } catch (err) {
      fill(errors, problemBox(err, {compact: true}));
      return;
    }
    wfField.hidden = runnable.length <= 1;
    const keep = wfSel.value || pre.workflow;
    fill(wfSel, runnable.map((n) => h('option', {value: n, selected: n === keep}, n)));
    refreshWorkflow();
  };

  const loadDefinition = async () => {
    fill(errors);
    const def = defSel.value;
    const opt = defSel.selectedOptions[0];
    const latest = Number(opt && opt.dataset.latest) || 0;
    const versions = [h('option', {value: ''}, latest ? `latest (${latest})` : 'latest')];
    for (let v = latest; v >= 1; v--) versions.push(h('option', {value: v, selected: pre.version === v}, String(v)));
    fill(verSel, versions);
    if (def) await loadVersion();
  };

  defSel.addEventListener('change', () => {
    pre.version = null;
    loadDefinition();
  });
  verSel.addEventListener('change', loadVersion);
  wfSel.addEventListener('change', refreshWorkflow);

  definitions().then((list) => {
    if (!list.length) {
      fill(defSel, h('option', {value: ''}, 'no workflows stored'));
      fill(errors, h('p', {class: 'muted'}, 'Store a workflow first: ', h('a', {href: '#/new', onclick: () => d.close()}, 'new workflow'), '.'));
      submit.disabled = true;
      return;
    }
    const want = pre.workflow || '';
    const match = list.find((w) => w.name === want) || list.find((w) => want.startsWith(w.name + '.'));
    fill(defSel, h('option', {value: ''}, 'choose a workflow'),
      list.map((w) => h('option', {value: w.name, selected: match === w, dataset: {latest: w.version}}, `${w.name}  (v${w.version})`)));
    if (match) loadDefinition();
  }, (err) => fill(errors, problemBox(err, {compact: true})));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(errors);
    const bad = [];
    if (!defSel.value) bad.push('Choose a workflow.');
    if (!input.validate()) bad.push('The input is not a JSON object (see above).');
    if (!env.validate()) bad.push('The environment is not a JSON object (see above).');
    if (idIn.value && !idIn.checkValidity()) bad.push('The execution id may have letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128.');
    if (bad.length) {
      fill(errors, h('div', {class: 'problem compact', role: 'alert'}, bad.map((b) => h('p', null, b))));
      return;
    }
    // The checked JSON texts go as they were written, numbers and all.
    const parts = [`"workflow":${JSON.stringify(chosenWorkflow())}`];
    if (verSel.value) parts.push(`"version":${Number(verSel.value)}`);
    if (input.raw()) parts.push(`"input":${input.raw()}`);
    if (env.raw()) parts.push(`"env":${env.raw()}`);
    if (!taskField.hidden && taskSel.value) parts.push(`"task_name":${JSON.stringify(taskSel.value)}`);
    if (idIn.value) parts.push(`"id":${JSON.stringify(idIn.value)}`);
    const body = `{${parts.join(',')}}`;
    if (!key.has(body)) key.set(body, newKey());
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const e = await call('POST', '/executions', {raw: body, headers: {'Idempotency-Key': key.get(body)}});
      d.close();
      go(`/executions/${encodeURIComponent(e.id)}`);
    } catch (err) {
      fill(errors, problemBox(err));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Start';
    }
  });
  return d;
}

// confirmAction asks before an action; fields are extra inputs
// ({name, label, kind: 'text'|'json'|'select', options}). It resolves to
// the fields' values, or null when the user backs out.
export function confirmAction({title, message, confirm, danger = false, fields = [], run}) {
  return new Promise((resolve) => {
    const errors = h('div', {class: 'form-errors'});
    const inputs = fields.map((f) => {
      if (f.kind === 'json') return {f, j: jsonField({name: f.name, label: f.label, value: f.value || '', help: f.help, rows: 4})};
      if (f.kind === 'select') {
        const el = h('select', {id: `f-${f.name}`, name: f.name}, f.options.map((o) => h('option', {value: o.value}, o.label)));
        return {f, el, wrap: h('div', {class: 'field'}, h('label', {for: `f-${f.name}`}, f.label), el, f.help ? h('p', {class: 'help'}, f.help) : null)};
      }
      const el = h('input', {id: `f-${f.name}`, name: f.name, maxlength: 1024, placeholder: f.placeholder || ''});
      return {f, el, wrap: h('div', {class: 'field'}, h('label', {for: `f-${f.name}`}, f.label), el)};
    });
    const ok = h('button', {type: 'submit', class: danger ? 'danger' : 'primary'}, confirm);
    let result = null;
    const form = h('form', {class: 'form', method: 'dialog', novalidate: true},
      message ? h('p', {class: 'confirm-text'}, message) : null,
      inputs.map((i) => (i.j ? i.j.el : i.wrap)),
      errors,
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'ghost', onclick: () => d.close()}, 'Back'),
        ok));
    const d = modal({title, className: 'confirm', body: form, onClose: () => resolve(result)});
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const i of inputs) {
        if (i.j) {
          if (!i.j.validate()) return;
          values[i.f.name] = i.j.raw();
        } else {
          values[i.f.name] = i.el.value;
        }
      }
      if (!run) {
        result = values;
        d.close();
        return;
      }
      ok.disabled = true;
      try {
        result = (await run(values)) ?? values;
        d.close();
      } catch (err) {
        fill(errors, problemBox(err));
      } finally {
        ok.disabled = false;
      }
    });
  });
}

// promptToken asks for the bearer token the server requires.
export function promptToken(had) {
  return new Promise((resolve) => {
    let value = null;
    const inp = h('input', {id: 'f-token', type: 'password', autocomplete: 'off', required: true});
    const form = h('form', {class: 'form', method: 'dialog'},
      h('p', null, had
        ? 'The server refused the token this tab sent. Give the token it was started with.'
        : 'This server requires a token (bora serve --token or BORA_TOKEN). It is kept in this browser tab only.'),
      h('div', {class: 'field'}, h('label', {for: 'f-token'}, 'Token'), inp),
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Use this token')));
    const d = modal({title: 'Token required', className: 'token', body: form, onClose: () => resolve(value)});
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      value = inp.value.trim();
      d.close();
    });
  });
}

// command sends pause, resume, cancel or rerun with an Idempotency-Key.
export function command(id, op, body = {}) {
  const raw = [];
  if (body.reason) raw.push(`"reason":${JSON.stringify(body.reason)}`);
  if (body.task) raw.push(`"task":${JSON.stringify(body.task)}`);
  if (body.env) raw.push(`"env":${body.env}`); // checked JSON text
  return call('POST', `${executionPath(id)}/${op}`, {raw: `{${raw.join(',')}}`, headers: {'Idempotency-Key': newKey()}});
}

export {ApiError};
