#!/usr/bin/python3
"""Run Bora conformance cases on the Mistral engine (the oracle).

The engine and the local executor run in this process on an in-memory
SQLite database with the fake RPC transport, the way Mistral's own engine
tests (mistral/tests/unit/engine/base.py) run them. For each case directory
the script builds the document that `bora run --json` prints:

    {"workflow", "state", "state_info", "output",
     "tasks": [{"name", "state", "state_info", "published", "result"}]}

Usage (see ../README.md):
    oracle.py CASE_DIR...                    print each case's full document
    oracle.py --expect [--force] CASE_DIR... write the trimmed expected.json
    oracle.py --check CASE_DIR...            match each expected.json against
                                             Mistral under the matching rules
"""

import eventlet

eventlet.monkey_patch(os=True, select=True, socket=True, thread=True,
                      time=True)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402
import oslo_messaging as messaging  # noqa: E402
from oslo_service import service  # noqa: E402

TERMINAL = ('SUCCESS', 'ERROR', 'CANCELLED')

# Creation order of task executions. Timestamps in the database have a
# resolution of one second, too coarse to order tasks, so the harness counts
# creations itself.
START_ORDER = {}


def count_task_creations():
    from mistral.db.v2 import api as db_api
    create = db_api.create_task_execution

    def counted(values, *args, **kwargs):
        task_ex = create(values, *args, **kwargs)
        START_ORDER.setdefault(task_ex.id, len(START_ORDER))
        return task_ex

    db_api.create_task_execution = counted


def setup():
    from mistral import config  # noqa: F401  (registers the options)
    from mistral import context as auth_context
    from mistral.db.v2 import api as db_api
    from mistral.engine import engine_server
    from mistral.executors import base as exe
    from mistral.rpc import base as rpc_base
    from mistral.rpc import clients as rpc_clients
    from mistral.services import actions as action_service
    from mistral.services import security
    cfg.CONF(args=[], default_config_files=[])
    logging.getLogger(None).logger.setLevel(logging.ERROR)
    cfg.CONF.set_override('connection', 'sqlite://', group='database')
    cfg.CONF.set_override('max_overflow', -1, group='database')
    cfg.CONF.set_override('max_pool_size', 1000, group='database')
    cfg.CONF.set_override('type', 'local', group='executor')
    cfg.CONF.set_override('only_builtin_actions', True,
                          group='legacy_action_provider')
    cfg.CONF.set_override('load_action_generators', False,
                          group='legacy_action_provider')
    # Pick delayed jobs (wait-before, retry delays, timeouts) up promptly.
    cfg.CONF.set_override('fixed_delay', 0.1, group='scheduler')
    cfg.CONF.set_override('random_delay', 0, group='scheduler')
    messaging.get_transport(cfg.CONF)
    cfg.CONF.set_default('transport_url', 'fake:/')

    db_api.setup_db()
    count_task_creations()
    auth_context.set_ctx(auth_context.MistralContext.from_dict({
        'user_name': 'oracle-user',
        'user': '1-2-3-4',
        'tenant': security.DEFAULT_PROJECT_ID,
        'project_id': security.DEFAULT_PROJECT_ID,
        'project_name': 'oracle',
        'is_admin': False,
    }))
    rpc_base.cleanup()
    rpc_clients.cleanup()
    exe.cleanup()
    exe.get_executor('local')
    eng_svc = engine_server.get_oslo_service(setup_profiler=False)

    def launch(s):
        launcher = service.ServiceLauncher(cfg.CONF)
        launcher.launch_service(s)
        launcher.wait()

    eventlet.spawn(launch, eng_svc)
    action_service.get_system_action_provider()
    eng_svc.wait_started()
    return eng_svc.engine


def clean():
    from mistral.db.v2 import api as db_api
    from mistral.lang import parser as spec_parser
    with db_api.transaction():
        db_api.delete_workflow_executions()
        db_api.delete_task_executions()
        db_api.delete_action_executions()
        db_api.delete_workbooks()
        db_api.delete_workflow_definitions()
        db_api.delete_action_definitions()
        db_api.delete_delayed_calls()
        db_api.delete_scheduled_jobs()
    spec_parser.clear_caches()


def load_json(path, default):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def define(text):
    """Register the document as a workbook or as workflows; return names."""
    import yaml
    from mistral.services import workbooks as wb_service
    from mistral.services import workflows as wf_service
    doc = yaml.safe_load(text)
    if 'workflows' in doc or 'actions' in doc:
        wb_service.create_workbook_v2(text)
        return ['%s.%s' % (doc['name'], n) for n in doc.get('workflows', {})]
    wf_service.create_workflows(text)
    return [k for k in doc if k not in ('version', 'name', 'description')]


def settled(wf_ex):
    """A terminal or paused execution."""
    return wf_ex.state in TERMINAL or wf_ex.state == 'PAUSED'


def quiet(wf_ex):
    """No task of the execution is still moving."""
    return all(t.state not in ('RUNNING', 'RUNNING_DELAYED', 'WAITING')
               for t in wf_ex.task_executions)


def document(wf_ex):
    from mistral.workflow import data_flow
    tasks = sorted(wf_ex.task_executions,
                   key=lambda t: START_ORDER.get(t.id, len(START_ORDER)))
    out = []
    for t in tasks:
        out.append({
            'name': t.name,
            'state': t.state,
            'state_info': t.state_info,
            'published': t.published,
            'result': data_flow.get_task_execution_result(t),
        })
    return {
        'workflow': wf_ex.name,
        'state': wf_ex.state,
        'state_info': wf_ex.state_info,
        'output': wf_ex.output,
        'tasks': out,
    }


def run_case(engine, case_dir, timeout=60):
    from mistral.db.v2 import api as db_api
    clean()
    with open(os.path.join(case_dir, 'workflow.yaml')) as f:
        text = f.read()
    names = define(text)
    wf_input = load_json(os.path.join(case_dir, 'input.json'), {})
    env = load_json(os.path.join(case_dir, 'env.json'), None)
    params = dict(load_json(os.path.join(case_dir, 'params.json'), {}))
    name = params.pop('workflow', None)
    if name is None:
        if len(names) != 1:
            raise SystemExit('%s: several workflows and no params.workflow'
                             % case_dir)
        name = names[0]
    if env is not None:
        params['env'] = env
    wf_ex = engine.start_workflow(name, wf_input=wf_input, **params)
    deadline = time.time() + timeout
    while True:
        with db_api.transaction():
            if settled(db_api.get_workflow_execution(wf_ex.id)):
                break
        if time.time() > deadline:
            raise SystemExit('%s: no final state in %ss' % (case_dir,
                                                              timeout))
        time.sleep(0.05)
    # Tasks scheduled just before the execution ended (by a 'succeed',
    # 'fail' or 'pause' command) and sub-workflows of timed-out tasks may
    # still finish; let them, for a while, before the next case cleans up.
    quiet_deadline = time.time() + 3
    while True:
        with db_api.transaction():
            ex = db_api.get_workflow_execution(wf_ex.id)
            children_done = all(
                e.state != 'RUNNING'
                for e in db_api.get_workflow_executions()
                if e.id != ex.id
            )
            if (quiet(ex) and children_done) or \
                    time.time() > quiet_deadline:
                return document(ex)
        time.sleep(0.05)


FAILURE_PREFIX = 'Failure caused by error in tasks: '


def summarize_state_info(info):
    """A short substring of Mistral's state_info that Bora can match.

    Mistral writes "Failure caused by error in tasks: a, b" followed by
    details with generated ids; the stable part is the name of the first
    failed task. Messages of engine commands are kept whole. Anything else
    keeps its first line and is reviewed by hand.
    """
    if info is None:
        return None
    if info.startswith(FAILURE_PREFIX):
        names = info[len(FAILURE_PREFIX):].split('\n', 1)[0]
        return names.split(',')[0].strip()
    return info.split('\n', 1)[0]


def expected(doc, has_output_on_error):
    """Trim a full document to the subset a case asserts."""
    exp = {'workflow': doc['workflow'], 'state': doc['state']}
    info = summarize_state_info(doc['state_info'])
    if info is not None:
        exp['state_info'] = info
    if doc['state'] == 'SUCCESS':
        exp['output'] = doc['output']
    elif doc['state'] == 'ERROR' and has_output_on_error:
        out = dict(doc['output'] or {})
        if 'result' in out and out['result'] == doc['state_info']:
            out['result'] = info
        exp['output'] = out
    tasks = []
    for t in doc['tasks']:
        e = {'name': t['name']}
        if t['state'] in TERMINAL:
            e['state'] = t['state']
            e['published'] = t['published']
            if t['state'] == 'SUCCESS':
                e['result'] = t['result']
        tasks.append(e)
    exp['tasks'] = tasks
    return exp


def json_equal(a, b):
    """JSON equality: numbers by value, booleans never equal to numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(json_equal, a, b))
    return type(a) is type(b) and a == b


def mismatches(exp, doc):
    """Where doc breaks the matching rules of README.md; empty if it matches."""
    out = []
    for key, want in exp.items():
        got = doc.get(key)
        if key == 'state_info':
            if not isinstance(got, str) or want not in got:
                out.append('state_info: %r not in %r' % (want, got))
        elif key == 'output':
            out.extend(output_mismatches(want, got, doc.get('state')))
        elif key == 'tasks':
            out.extend(task_mismatches(want, got or []))
        elif not json_equal(want, got):
            out.append('%s: want %r, got %r' % (key, want, got))
    return out


def output_mismatches(want, got, state):
    if state == 'ERROR' and isinstance(want, dict) and \
            isinstance(want.get('result'), str) and isinstance(got, dict):
        rest_want = {k: v for k, v in want.items() if k != 'result'}
        rest_got = {k: v for k, v in got.items() if k != 'result'}
        out = []
        if not isinstance(got.get('result'), str) or \
                want['result'] not in got['result']:
            out.append('output.result: %r not in %r' % (want['result'],
                                                         got.get('result')))
        if not json_equal(rest_want, rest_got):
            out.append('output: want %r, got %r' % (rest_want, rest_got))
        return out
    if not json_equal(want, got):
        return ['output: want %r, got %r' % (want, got)]
    return []


def task_mismatches(want, got):
    def by_name(tasks):
        groups = {}
        for t in tasks:
            groups.setdefault(t['name'], []).append(t)
        return groups

    want_by, got_by = by_name(want), by_name(got)
    out = []
    for name in sorted(set(want_by) | set(got_by)):
        w, g = want_by.get(name, []), got_by.get(name, [])
        if len(w) != len(g):
            out.append('tasks %s: want %d executions, got %d'
                       % (name, len(w), len(g)))
            continue
        for i, (we, ge) in enumerate(zip(w, g)):
            for key, val in we.items():
                if key == 'name':
                    continue
                if key == 'state_info':
                    ok = isinstance(ge.get(key), str) and val in ge[key]
                else:
                    ok = json_equal(ge.get(key), val)
                if not ok:
                    out.append('tasks %s[%d].%s: want %r, got %r'
                               % (name, i, key, val, ge.get(key)))
    return out


def has_output_on_error(case_dir):
    with open(os.path.join(case_dir, 'workflow.yaml')) as f:
        return 'output-on-error' in f.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--expect', action='store_true',
                   help='write CASE_DIR/expected.json (trimmed) when absent')
    p.add_argument('--force', action='store_true',
                   help='with --expect, overwrite an existing expected.json')
    p.add_argument('--check', action='store_true',
                   help='check that the oracle matches each expected.json '
                   'under the matching rules')
    p.add_argument('cases', nargs='+')
    args = p.parse_args()
    engine = setup()
    failed = 0
    for case in args.cases:
        case = case.rstrip('/')
        try:
            doc = run_case(engine, case)
        except Exception:
            failed += 1
            print('== %s: FAILED' % case, file=sys.stderr)
            traceback.print_exc()
            continue
        if not (args.expect or args.check):
            print('== %s' % case)
            print(json.dumps(doc, indent=2, default=str))
            continue
        exp = expected(doc, has_output_on_error(case))
        text = json.dumps(exp, indent=2, default=str) + '\n'
        path = os.path.join(case, 'expected.json')
        if args.check:
            with open(path) as f:
                problems = mismatches(json.load(f), doc)
            if problems:
                print('== %s: MISMATCH' % case)
                for m in problems:
                    print('   ' + m)
            else:
                print('== %s: ok' % case)
            continue
        if os.path.exists(path) and not args.force:
            print('== %s: kept existing expected.json' % case)
            continue
        with open(path, 'w') as f:
            f.write(text)
        print('== %s: wrote %s' % (case, doc['state']))
        print(text)
    sys.stdout.flush()
    os._exit(1 if failed else 0)


if __name__ == '__main__':
    main()
