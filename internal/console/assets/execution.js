// execution.js: one execution: its graph with the states of its tasks, a
// timeline of its task executions, its input, output and state_info, one
// task execution in detail, and the commands that steer it.

import {h, fill, badge, when, clock, duration, span, jsonBlock, copyButton, finalStates, stateWord, oneLine, pretty} from './dom.js';
import {get, graph, executionPath, enc, ApiError} from './api.js';
import {go, poll, problemBox} from './shell.js';
import {GraphView, runsOf, runNumber, retryLimit, itemCounts, source} from './graph.js';
import {confirmAction, command, openStart} from './dialogs.js';

// maxListed bounds the rows of the timeline and the task list.
const maxListed = 500;

export function executionView(id, q) {
  let params = q;
  let exec = null;
  let gv = null;
  let wf = null; // the compiled workflow, when the server describes it
  let graphNote = null;
  let detail = null; // the selected task's detail, from the task route
  let detailKey = '';
  let noDetailRoute = false;

  const title = h('div', {class: 'exec-title'});
  const actions = h('div', {class: 'exec-actions'});
  const meta = h('dl', {class: 'meta'});
  const info = h('div');
  const error = h('div');
  const graphBox = h('div', {class: 'graph-card card'}, h('p', {class: 'muted pad'}, 'Loading…'));
  const side = h('aside', {class: 'side card', 'aria-label': 'Task execution'});
  const timeline = h('section', {class: 'card timeline', 'aria-label': 'Timeline'});
  const io = h('section', {class: 'io'});
  const el = h('div', {class: 'page execution-page'},
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumbs'}, h('a', {href: '#/executions'}, 'Executions'), ' / ', h('span', {class: 'mono'}, id)),
    h('div', {class: 'page-head'}, title, actions),
    meta, info, error,
    h('div', {class: 'exec-grid'}, graphBox, side),
    timeline, io);

  const selected = () => params.get('task') || '';
  const select = (name, run) => {
    const p = new URLSearchParams();
    if (name) p.set('task', name);
    if (run) p.set('run', run);
    go(`/executions/${enc(id)}${p.toString() ? '?' + p : ''}`, true);
  };

  const renderHead = () => {
    const e = exec;
    fill(title,
      h('h1', null, badge(e.state), ' ', h('a', {href: `#/workflows/${enc(e.definition)}?version=${e.version}`, title: 'The workflow definition'}, e.workflow)),
      h('div', {class: 'exec-id mono'}, e.id, ' ', copyButton(e.id, 'Copy id')));
    const end = finalStates.has(e.state) ? e.updated_at : null;
    const items = [
      ['Definition', h('a', {href: `#/workflows/${enc(e.definition)}?version=${e.version}`}, `${e.definition} version ${e.version}`)],
      ['Started', h('span', {title: e.created_at}, when(e.created_at))],
      [end ? 'Finished' : 'Updated', h('span', {title: e.updated_at}, when(e.updated_at))],
      ['Duration', duration(span(e.created_at, end))],
      ['Tasks', taskSummary(e.tasks)],
    ];
    if (e.parent_id) items.push(['Parent', h('a', {href: `#/executions/${enc(e.parent_id)}`, class: 'mono'}, e.parent_id)]);
    fill(meta, items.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
    fill(info, e.state_info ? h('div', {class: `state-info st-${e.state.toLowerCase()}`, role: e.state === 'ERROR' ? 'alert' : 'status'},
      h('strong', null, e.state === 'ERROR' ? 'Error' : 'State info'), h('pre', null, e.state_info)) : null);
    renderActions();
  };

  const renderActions = () => {
    const e = exec;
    const b = [];
    if (e.state === 'RUNNING') b.push(h('button', {type: 'button', onclick: () => send('pause'), title: 'Running actions finish; nothing new starts until you resume.'}, 'Pause'));
    if (e.state === 'PAUSED') b.push(h('button', {type: 'button', class: 'primary', onclick: () => send('resume')}, 'Resume'));
    if (e.state === 'RUNNING' || e.state === 'PAUSED') b.push(h('button', {type: 'button', class: 'danger', onclick: cancel}, 'Cancel…'));
    if (e.state === 'ERROR') {
      b.push(h('button', {type: 'button', class: 'primary', onclick: () => rerun()}, 'Rerun…'));
      b.push(h('button', {type: 'button', onclick: () => rerun(null, 'skip')}, 'Skip…'));
    }
    b.push(h('button', {type: 'button', class: 'ghost', title: 'Start a new execution with the same workflow, version, input and environment',
      onclick: () => openStart({workflow: e.workflow, version: e.version, input: e.input, env: e.env})}, 'Start again…'));
    fill(actions, b);
  };

  const send = async (op, body) => {
    fill(error);
    try {
      await command(id, op, body);
      restart();
    } catch (err) {
      fill(error, problemBox(err));
    }
  };

  const cancel = () => confirmAction({
    title: 'Cancel this execution?',
    message: 'Cancelling ends the execution for good: tasks not yet started never run, running actions are let finish but their results are dropped. It cannot be resumed afterwards.',
    confirm: 'Cancel execution',
    danger: true,
    fields: [{name: 'reason', label: 'Reason (optional, kept as its state info)'}],
    run: async (v) => {
      await command(id, 'cancel', {reason: v.reason});
      restart();
    },
  });

  // rerun runs a failed task again (op rerun), or skips it (op skip).
  const rerun = (task, op = 'rerun') => {
    const failed = [...runsOf(exec).values()].map((l) => l[l.length - 1]).filter((t) => t.state === 'ERROR');
    if (!failed.length) {
      fill(error, problemBox({problem: {title: `Nothing to ${op}`, detail: `No task of this execution failed: ${op} takes a failed task.`}}));
      return;
    }
    const first = task && failed.find((t) => t.name === task) ? task : failed[0].name;
    const options = [failed.find((t) => t.name === first), ...failed.filter((t) => t.name !== first)].map((t) => ({value: t.name, label: `${t.name} (${t.key})`}));
    const skip = op === 'skip';
    confirmAction({
      title: skip ? 'Skip a failed task' : 'Rerun a failed task',
      message: skip
        ? 'The task ends SKIPPED, publishes its publish-on-skip, and the execution goes on from its on-skip transitions (its on-success ones when it has none). The task does not run again.'
        : 'The task runs again and the execution resumes from it; the tasks that succeeded keep their results. The run that failed stays in the history.',
      confirm: skip ? 'Skip' : 'Rerun',
      fields: skip ? [{name: 'task', label: 'Task', kind: 'select', options}] : [
        {name: 'task', label: 'Task', kind: 'select', options},
        {name: 'env', label: 'Environment (optional JSON object, merged into env())', kind: 'json'},
      ],
      run: async (v) => {
        await command(id, op, {task: v.task, env: v.env});
        restart();
      },
    });
  };

  const renderGraph = () => {
    if (gv) {
      gv.update(exec);
      gv.select(selected());
      return;
    }
    if (!wf) {
      fill(graphBox, graphNote || h('p', {class: 'muted pad'}, 'Loading the workflow…'), taskList());
      return;
    }
    gv = new GraphView(wf, {
      exec,
      selected: selected(),
      onSelect: (name) => select(name),
      onOpen: (name) => {
        const list = runsOf(exec).get(name) || [];
        const run = list[list.length - 1];
        if (run && run.child_id) go(`/executions/${enc(run.child_id)}`);
      },
    });
    fill(graphBox, gv.el);
    requestAnimationFrame(() => gv.fit());
  };

  // taskList stands in for the graph when the server does not describe
  // workflows: the task executions, each selectable.
  const taskList = () => h('ul', {class: 'task-list'}, exec.tasks.map((t) =>
    h('li', null, h('button', {type: 'button', class: ['link', t.name === selected() && 'active'], onclick: () => select(t.name, t.key)}, badge(t.state), ' ', t.key))));

  const renderSide = () => {
    const name = selected();
    if (!name) {
      fill(side, h('div', {class: 'side-hint'},
        h('h2', null, 'Task executions'),
        h('p', {class: 'muted small'}, 'Select a task in the graph, the timeline or below to see its input, result or error, attempts and items.'),
        failedList(),
        allList()));
      return;
    }
    const runs = runsOf(exec).get(name) || [];
    const def = wf && wf.tasks.find((t) => t.name === name);
    const key = params.get('run') || (runs.length ? runs[runs.length - 1].key : '');
    const run = runs.find((r) => r.key === key) || runs[runs.length - 1];
    const head = h('div', {class: 'side-head'},
      h('h2', null, name),
      badge(run ? run.state : 'NOTRUN'),
      h('button', {type: 'button', class: 'small ghost close', 'aria-label': 'Close the task', onclick: () => select('')}, '✕'));
    const parts = [head];
    if (runs.length > 1) {
      parts.push(h('div', {class: 'runs', role: 'tablist', 'aria-label': 'Runs of the task'}, h('span', {class: 'muted'}, 'Runs: '),
        runs.map((r) => h('button', {type: 'button', role: 'tab', 'aria-selected': r === run ? 'true' : 'false', class: ['small', r === run ? 'primary' : 'ghost'],
          onclick: () => select(name, r.key)}, `#${runNumber(r.key)} ${stateWord(r.state)}`))));
    }
    if (!run) {
      parts.push(h('p', {class: 'muted'}, wf && wf.type === 'reverse' ? 'This task has not run: the task this execution runs to does not require it, or it has not been reached yet.' : 'This task has not run (yet).'));
      if (def) parts.push(definitionFacts(def));
      fill(side, parts);
      return;
    }
    const d = detail && detail.key === run.key ? detail : null;
    // A task too large for the execution's document comes whole from its
    // own route.
    const full = d || run;
    const withItems = run.items != null || !!(def && def.with_items && def.with_items.length);
    // A plain task's one unit: its action and input as the engine evaluated them.
    const unit = !withItems && d && d.units && d.units.length ? d.units[0] : null;
    const what = unit && unit.action ? unit.action : def ? (def.workflow ? source(def.workflow) : source(def.action) || 'std.noop') : '';
    const facts = [
      ['Key', h('span', {class: 'mono'}, run.key)],
      [def && def.workflow ? 'Workflow' : 'Action', h('span', {class: 'mono'}, what)],
      ['Created', h('span', {title: run.created_at}, when(run.created_at))],
      ['Started', run.started_at ? h('span', {title: run.started_at}, when(run.started_at)) : h('span', {class: 'muted'}, finalStates.has(run.state) ? '—' : 'not yet')],
      ['Finished', run.finished_at ? h('span', {title: run.finished_at}, when(run.finished_at)) : h('span', {class: 'muted'}, '—')],
      ['Duration', run.started_at ? duration(span(run.started_at, run.finished_at)) : ''],
    ];
    const limit = retryLimit(def);
    if (!withItems) {
      const n = unit ? unit.attempt : Math.max(run.attempts, run.started_at ? 1 : 0);
      facts.push(['Attempt', h('span', {title: 'Bora keeps the latest attempt: its number, times and outcome'}, `${n}${limit > 1 ? ' of ' + limit : ''}`,
        n > 1 ? h('span', {class: 'muted small'}, ` (the times and outcome are the latest attempt’s)`) : null)]);
    }
    if (withItems) {
      const c = itemCounts(run);
      facts.push(['Items', c.known ? `${c.total}: ${c.done} done, ${c.running} running, ${c.failed} failed${c.cancelled ? `, ${c.cancelled} cancelled` : ''}` : String(c.total)]);
      facts.push(['Attempts', String(run.attempts)]);
    }
    if (run.child_id) facts.push(['Child execution', h('a', {href: `#/executions/${enc(run.child_id)}`, class: 'mono'}, run.child_id)]);
    if (unit && unit.child_id && !run.child_id) facts.push(['Child execution', h('a', {href: `#/executions/${enc(unit.child_id)}`, class: 'mono'}, unit.child_id)]);
    parts.push(h('dl', {class: 'facts'}, facts.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v)))));
    if (run.state_info && run.state !== 'ERROR') parts.push(h('div', {class: 'state-info'}, h('strong', null, 'State info'), h('pre', null, run.state_info)));
    if (run.state === 'ERROR') {
      parts.push(h('div', {class: 'state-info st-error', role: 'alert'}, h('strong', null, 'Error'), h('pre', {class: 'task-error'}, full.error !== undefined ? (typeof full.error === 'string' ? full.error : pretty(full.error)) : run.state_info || '')));
      if (exec.state === 'ERROR' && run === runs[runs.length - 1]) {
        parts.push(h('p', {class: 'row-actions start'},
          h('button', {type: 'button', class: 'primary small', onclick: () => rerun(name)}, 'Rerun this task…'),
          h('button', {type: 'button', class: 'small', onclick: () => rerun(name, 'skip')}, 'Skip it…')));
      }
    }
    if (unit) parts.push(jsonBlock(unit.input ?? null, {label: 'Input (as evaluated)', empty: 'no input'}));
    // A with-items task's items come first: its result is their list.
    if (withItems && d && d.units) parts.push(unitsTable(d, run, def, moreUnits));
    if (run.truncated && !d) parts.push(h('p', {class: 'muted small'}, 'Its values are too large for the execution’s document; loading them…'));
    if (run.state === 'SUCCESS' || (full.result != null && run.state !== 'ERROR')) parts.push(jsonBlock(full.result, {label: 'Result', empty: 'null'}));
    parts.push(jsonBlock(full.published, {label: 'Published', empty: 'nothing published'}));
    if (!d && !noDetailRoute) parts.push(h('p', {class: 'muted small'}, 'Loading its input and items…'));
    if (def) parts.push(definitionFacts(def));
    fill(side, parts);
  };

  const failedList = () => {
    const failed = exec.tasks.filter((t) => t.state === 'ERROR');
    if (!failed.length) return null;
    return h('div', null, h('h3', null, 'Failed'), h('ul', {class: 'task-list'}, failed.map((t) =>
      h('li', null, h('button', {type: 'button', class: 'link', onclick: () => select(t.name, t.key)}, badge(t.state), ' ', t.key),
        h('div', {class: 'muted small'}, oneLine(t.state_info || '', 140))))));
  };

  const allList = () => {
    if (!exec.tasks.length) return h('p', {class: 'muted'}, 'No task has started yet.');
    const shown = exec.tasks.slice(-maxListed);
    return h('div', null, h('h3', null, `All (${exec.tasks.length})`),
      shown.length < exec.tasks.length ? h('p', {class: 'muted small'}, `The latest ${shown.length}:`) : null,
      h('ul', {class: 'task-list all'}, shown.map((t) =>
      h('li', null, h('button', {type: 'button', class: 'link', onclick: () => select(t.name, t.key)}, badge(t.state), ' ', h('span', {class: 'mono'}, t.key)),
        h('span', {class: 'muted small'}, t.started_at ? ' ' + duration(span(t.started_at, t.finished_at)) : '')))));
  };

  const renderTimeline = () => {
    const all = exec.tasks.slice().sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    // A huge execution shows its latest task executions (the rows are DOM).
    const tasks = all.slice(-maxListed);
    const t0 = Date.parse(exec.created_at);
    const end = finalStates.has(exec.state) ? Date.parse(exec.updated_at) : Date.now();
    let t1 = Math.max(end, t0 + 1);
    for (const t of tasks) t1 = Math.max(t1, Date.parse(t.finished_at || t.started_at || t.created_at) || t0);
    const total = t1 - t0;
    const pct = (t) => `${(((Date.parse(t) - t0) / total) * 100).toFixed(3)}%`;
    const wpct = (a, b) => `${Math.max(((Date.parse(b || new Date(t1).toISOString()) - Date.parse(a)) / total) * 100, 0.4).toFixed(3)}%`;
    const rows = tasks.map((t) => {
      const st = t.state.toLowerCase();
      const wait = t.started_at ? h('span', {class: 'tl-wait', style: {left: pct(t.created_at), width: wpct(t.created_at, t.started_at)}}) : h('span', {class: 'tl-wait', style: {left: pct(t.created_at), width: wpct(t.created_at, t.finished_at)}});
      const run = t.started_at ? h('span', {class: `tl-run st-${st}`, style: {left: pct(t.started_at), width: wpct(t.started_at, t.finished_at)}}) : null;
      const dur = t.started_at ? duration(span(t.started_at, t.finished_at)) : stateWord(t.state);
      const label = `${t.key}: ${stateWord(t.state)}, created ${clock(t.created_at)}${t.started_at ? ', started ' + clock(t.started_at) : ''}${t.finished_at ? ', finished ' + clock(t.finished_at) : ''}`;
      return h('li', {class: ['tl-row', t.name === selected() && 'active'], dataset: {key: t.key}},
        h('button', {type: 'button', class: 'tl-name link', onclick: () => select(t.name, t.key), title: label}, badge(t.state), h('span', {class: 'mono'}, t.key)),
        h('div', {class: 'tl-track', title: label}, wait, run),
        h('span', {class: 'tl-dur'}, dur));
    });
    fill(timeline,
      h('div', {class: 'card-head'}, h('h2', null, 'Timeline'),
        h('span', {class: 'muted small'}, `${all.length} task execution${all.length === 1 ? '' : 's'} over ${duration(total)}${tasks.length < all.length ? `, the latest ${tasks.length} shown` : ''}`),
        h('span', {class: 'tl-legend muted small'}, h('span', {class: 'tl-key wait'}), 'waiting to start', h('span', {class: 'tl-key run'}), 'running or done')),
      tasks.length ? h('div', {class: 'tl-scale muted small'}, h('span', null, clock(exec.created_at)), h('span', null, `+${duration(total / 2)}`), h('span', null, `+${duration(total)}`)) : null,
      tasks.length ? h('ol', {class: 'tl-rows'}, rows) : h('p', {class: 'muted pad'}, 'No task has started yet.'));
  };

  const renderIO = () => {
    fill(io,
      h('div', {class: 'card'}, jsonBlock(exec.input, {label: 'Input', empty: 'no input'})),
      h('div', {class: 'card'}, finalStates.has(exec.state) || exec.output != null
        ? jsonBlock(exec.output, {label: 'Output', empty: 'no output'})
        : h('div', {class: 'json'}, h('div', {class: 'json-head'}, h('span', {class: 'label'}, 'Output')), h('p', {class: 'muted'}, 'when the execution ends'))),
      exec.env != null ? h('div', {class: 'card'}, jsonBlock(exec.env, {label: 'Environment'})) : null);
  };

  // moreUnits reads the next page of the selected task's units.
  const moreUnits = async () => {
    if (!detail || !detail.next_cursor) return;
    const next = await get(`${executionPath(id)}/tasks/${enc(detail.key)}`, {limit: 100, cursor: detail.next_cursor});
    detail = {...detail, units: [...detail.units, ...next.units], next_cursor: next.next_cursor, paged: true};
    renderSide();
  };

  const loadDetail = async () => {
    const name = selected();
    if (!name || noDetailRoute) return;
    const runs = runsOf(exec).get(name) || [];
    const key = params.get('run') || (runs.length ? runs[runs.length - 1].key : '');
    const run = runs.find((r) => r.key === key);
    if (!run) return;
    // A final task's detail does not change: read it once; nor is it read
    // again while the user pages through its items.
    if (detail && detail.key === key && (finalStates.has(detail.state) || detail.paged)) return;
    try {
      detail = await get(`${executionPath(id)}/tasks/${enc(key)}`, {limit: 100});
      detailKey = key;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.problem.type && err.problem.type.endsWith('route-not-found')) noDetailRoute = true;
      else throw err;
    }
  };

  const refresh = async () => {
    try {
      exec = await get(executionPath(id));
    } catch (err) {
      if (err.status === 404) {
        fill(el, h('div', {class: 'empty'}, h('h1', null, 'No such execution'), problemBox(err), h('a', {href: '#/executions'}, 'Back to the executions')));
        return false;
      }
      fill(error, problemBox(err));
      throw err;
    }
    fill(error);
    if (!wf && !graphNote) {
      try {
        const g = await graph(exec.definition, exec.version);
        wf = g.workflows.find((w) => w.name === exec.workflow) || g.workflows.find((w) => exec.workflow.endsWith('.' + w.name)) || g.workflows[0];
      } catch (err) {
        graphNote = h('p', {class: 'muted pad'}, err.status === 404 ? 'This server does not describe workflow graphs; the task executions:' : `The workflow's graph could not be read: ${err.message}`);
      }
    }
    await loadDetail().catch(() => {});
    renderHead();
    renderGraph();
    renderSide();
    renderTimeline();
    renderIO();
    const busy = !finalStates.has(exec.state) || exec.tasks.some((t) => !finalStates.has(t.state) && t.state !== 'WAITING');
    return busy;
  };

  const onKey = (ev) => {
    if (ev.key === 'Escape' && selected() && !document.querySelector('dialog[open]')) select('');
  };
  document.addEventListener('keydown', onKey);
  let poller = poll(refresh, 1500);
  const restart = () => {
    poller.stop();
    poller = poll(refresh, 1000);
  };

  return {
    el,
    update(nq) {
      const before = `${selected()}|${params.get('run') || ''}`;
      params = nq;
      if (!exec) return;
      if (before !== `${selected()}|${params.get('run') || ''}`) {
        detail = null;
        renderSide();
        if (gv) gv.select(selected());
        renderTimeline();
        loadDetail().then(renderSide, () => {});
      }
    },
    destroy() {
      poller.stop();
      document.removeEventListener('keydown', onKey);
    },
  };
}

function taskSummary(tasks) {
  const c = {};
  for (const t of tasks) c[t.state] = (c[t.state] || 0) + 1;
  const order = ['RUNNING', 'SCHEDULED', 'DELAYED', 'WAITING', 'PAUSED', 'SUCCESS', 'ERROR', 'CANCELLED'];
  const parts = order.filter((s) => c[s]).map((s) => `${c[s]} ${stateWord(s)}`);
  return `${tasks.length}${parts.length ? ' (' + parts.join(', ') + ')' : ''}`;
}

// unitsTable lists a with-items task's items: each at its latest attempt,
// a click shows its input and outcome (and its sub-workflow execution).
function unitsTable(d, run, def, more) {
  const limit = retryLimit(def);
  const rows = d.units.map((u) => {
    const tr = h('tr', {class: 'unit', dataset: {item: u.item}, tabindex: '0', 'aria-expanded': 'false'},
      h('td', {class: 'num'}, String(u.item)),
      h('td', null, badge(u.state)),
      h('td', null, `${u.attempt}${limit > 1 ? ' of ' + limit : ''}`),
      h('td', {title: u.started_at || ''}, u.started_at ? clock(u.started_at) : '—'),
      h('td', null, u.started_at ? duration(span(u.started_at, u.finished_at)) : ''));
    const detailRow = h('tr', {class: 'unit-detail', hidden: true}, h('td', {colspan: 5},
      u.child_id ? h('p', null, 'Sub-workflow execution ', h('a', {href: `#/executions/${encodeURIComponent(u.child_id)}`, class: 'mono'}, u.child_id)) : null,
      jsonBlock(u.input ?? null, {label: 'Input (as evaluated)', empty: 'no input'}),
      u.state === 'ERROR' ? jsonBlock(u.error ?? null, {label: 'Error'}) : u.result !== undefined ? jsonBlock(u.result, {label: 'Result'}) : null));
    const toggle = () => {
      detailRow.hidden = !detailRow.hidden;
      tr.setAttribute('aria-expanded', String(!detailRow.hidden));
    };
    tr.addEventListener('click', (ev) => {
      if (!ev.target.closest('a')) toggle();
    });
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        toggle();
      }
    });
    return [tr, detailRow];
  });
  const total = run.items ?? d.units.length;
  return h('div', {class: 'units'},
    h('h3', null, `Items (${d.units.length < total ? `${d.units.length} of ${total} shown` : total})`),
    h('p', {class: 'muted small'}, 'Each item at its latest attempt; click one for its input and outcome.' + (d.units.length < total && !d.next_cursor ? ' Items not started yet are not listed.' : '')),
    h('table', {class: 'list compact'},
      h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Item'), h('th', {scope: 'col'}, 'State'), h('th', {scope: 'col'}, 'Attempt'), h('th', {scope: 'col'}, 'Started'), h('th', {scope: 'col'}, 'Took'))),
      h('tbody', null, rows)),
    d.next_cursor ? h('p', null, h('button', {type: 'button', class: 'small', onclick: (ev) => {
      ev.target.disabled = true;
      more().catch((err) => {
        ev.target.disabled = false;
        ev.target.textContent = `More items (failed: ${err.message})`;
      });
    }}, 'More items')) : null);
}

// definitionFacts shows what the definition says of a task.
function definitionFacts(def) {
  const rows = [];
  const add = (k, v) => {
    if (v != null && v !== '' && !(Array.isArray(v) && !v.length)) rows.push([k, Array.isArray(v) ? v.join(', ') : source(v)]);
  };
  add(def.workflow ? 'workflow' : 'action', def.workflow || def.action || 'std.noop');
  add('input', def.input);
  add('with-items', def.with_items);
  add('concurrency', def.concurrency);
  add('join', def.join);
  add('requires', def.requires);
  if (def.retry) add('retry', Object.entries(def.retry).map(([k, v]) => `${k.replace('_', '-')}: ${source(v)}`).join(', '));
  add('timeout', def.timeout);
  add('wait-before', def.wait_before);
  add('wait-after', def.wait_after);
  add('pause-before', def.pause_before);
  add('fail-on', def.fail_on);
  add('safe-rerun', def.safe_rerun);
  add('publish', def.publish);
  add('publish-on-error', def.publish_on_error);
  return h('details', {class: 'def'},
    h('summary', null, `Definition${def.line ? ` (line ${def.line})` : ''}`),
    def.description ? h('p', null, def.description) : null,
    h('dl', {class: 'facts'}, rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', {class: 'mono'}, v)))));
}
