package dsl

import (
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// wfState is what the loader knows about the workflow it is reading.
type wfState struct {
	name  string
	typ   string
	tasks map[string]*yaml.Node // task name → its key node
	order []string
	// varRefs are the variables the workflow's expressions read.
	varRefs []varRef
}

func (l *loader) loadWorkflow(p pair) *Workflow {
	w := &Workflow{Name: p.Key, Type: Direct, Pos: posOf(p.KeyN), Tasks: map[string]*Task{}}
	st := &wfState{name: p.Key, typ: Direct, tasks: map[string]*yaml.Node{}}
	l.wf = st
	defer func() { l.wf = nil }()

	ps := l.pairs(p.Value, "workflow key")
	var tasksN, defaultsN *yaml.Node
	for _, e := range ps {
		switch e.Key {
		case "type":
			switch t := scalarText(e.Value); {
			case t == Direct || t == Reverse:
				w.Type, st.typ = t, t
			default:
				l.errorf(e.Value, "workflow type must be `direct` or `reverse`, not `%s`%s", t, didYouMean(t, []string{Direct, Reverse}, false))
			}
		case "tasks":
			tasksN = e.Value
		case "task-defaults":
			defaultsN = e.Value
		}
	}
	if tasksN == nil {
		l.errorf(p.KeyN, "workflow `%s` has no `tasks`", p.Key)
	} else if n := resolve(tasksN); n.Kind != yaml.MappingNode {
		l.errorf(tasksN, "`tasks` must be a mapping of task names to tasks, not %s", kindName(tasksN))
		tasksN = nil
	}
	var taskPairs []pair
	if tasksN != nil {
		taskPairs = l.pairs(tasksN, "task")
		if len(taskPairs) == 0 {
			l.errorf(tasksN, "workflow `%s` has no tasks", p.Key)
		}
		for _, tp := range taskPairs {
			if l.checkTaskName(tp) {
				st.tasks[tp.Key] = tp.KeyN
				st.order = append(st.order, tp.Key)
			}
		}
	}

	for _, e := range ps {
		switch e.Key {
		case "type", "tasks", "task-defaults", "name", "version":
		case "description":
			w.Description = l.str(e.Value, "description")
		case "tags":
			w.Tags = l.tags(e.Value)
		case "input":
			w.Input = l.params(e.Value, "workflow")
		case "output", "output-on-error":
			var sites []site
			v := l.value(e.Value, &sites)
			t := l.compile(v, sites, loc{N: e.Value})
			if e.Key == "output" {
				w.Output = t
			} else {
				w.OutputOnError = t
			}
		case "vars":
			if resolve(e.Value).Kind != yaml.MappingNode {
				l.errorf(e.Value, "`vars` must be a mapping of names to values, not %s", kindName(e.Value))
				continue
			}
			var sites []site
			v := l.value(e.Value, &sites)
			w.Vars = l.compile(v, sites, loc{N: e.Value})
		case "policies":
			l.warnf(e.KeyN, "`policies` is ignored here, as Mistral ignores it; put retry, timeout and the other policies under `task-defaults`")
		default:
			// Mistral ignores keys it does not know at this level (files
			// keep YAML anchors there); so does Bora, saying so.
			l.warnf(e.KeyN, "unknown workflow key `%s` is ignored%s", e.Key, didYouMean(e.Key, workflowKeys, true))
		}
	}

	var defaults *taskSpec
	if defaultsN != nil {
		defaults = l.loadTaskDefaults(defaultsN)
	}
	specs := make([]*taskSpec, 0, len(taskPairs))
	for _, tp := range taskPairs {
		if _, ok := st.tasks[tp.Key]; !ok {
			continue
		}
		if ts := l.loadTask(tp); ts != nil {
			specs = append(specs, ts)
		}
	}
	w.Spec = l.spec(p.Value, map[string]any{"name": p.Key, "version": "2.0"})
	for _, ts := range specs {
		ts.t.Spec = l.spec(ts.node, map[string]any{"name": ts.t.Name, "type": w.Type, "version": "2.0"})
		ts.mergeDefaults(defaults)
		l.finishTask(ts)
		w.Tasks[ts.t.Name] = ts.t
		w.Order = append(w.Order, ts.t.Name)
	}
	if len(specs) != len(st.order) || len(specs) == 0 {
		// Some tasks failed to load; graph checks would only add noise.
		return w
	}
	if w.Type == Direct {
		l.checkDirect(w, specs)
	} else {
		l.checkReverse(w, specs)
	}
	l.checkVars(w, specs)
	return w
}

var reservedNames = map[string]bool{"noop": true, "fail": true, "succeed": true, "pause": true}

// Mistral's name limits, in characters: a task name, and the name of a
// task with `join` (Mistral derives longer keys from it).
const (
	maxTaskName     = 255
	maxJoinTaskName = maxTaskName - 47
)

// checkTaskName reports names a task may not have.
func (l *loader) checkTaskName(p pair) bool {
	name := p.Key
	switch {
	case reservedNames[name]:
		l.errorf(p.KeyN, "`%s` is an engine command and cannot name a task; choose another name (e.g. `%s_task`)", name, name)
	case name == "":
		l.errorf(p.KeyN, "a task name must not be empty")
	case utf8.RuneCountInString(name) > maxTaskName:
		l.errorf(p.KeyN, "task name is %d characters long; Mistral's limit is %d", utf8.RuneCountInString(name), maxTaskName)
	case hasExpr(name):
		l.errorf(p.KeyN, "task name `%s` must not hold an expression", name)
	default:
		for _, c := range name {
			if c == ' ' || c == '\t' || c == '\n' || c == '=' || c == '(' || c == ')' || c == '"' || c == '\'' {
				l.errorf(p.KeyN, "task name `%s` cannot be used in transitions: names may not hold spaces, quotes, `=`, `(` or `)`", name)
				return false
			}
		}
		return true
	}
	return false
}

// spec decodes a definition as written, with extra entries over it, for
// the spec fields of task() and execution(). Its problems were reported
// when the definition was read: a loader of its own decodes it quietly.
func (l *loader) spec(n *yaml.Node, extra map[string]any) map[string]any {
	quiet := &loader{file: l.file, src: l.src}
	m, ok := quiet.value(n, nil).(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
