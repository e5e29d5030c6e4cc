package action

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/borawf/bora/internal/dsl"
)

// StdPrefix starts the names of the standard actions; user actions may not
// use it, so that a workflow written for Mistral means the same in Bora.
const StdPrefix = "std."

// Errors Register returns.
var (
	ErrDuplicate = errors.New("action already registered")
	ErrReserved  = errors.New("action name is reserved")
)

// Signature describes an action's parameters, so that a workflow can be
// checked before it runs.
type Signature struct {
	Required []string
	Optional []string
}

// Describer is implemented by actions that declare their parameters. Every
// standard action does.
type Describer interface {
	Signature() Signature
}

// Registry maps action names to actions. It is safe for concurrent use;
// register actions before the worker starts.
type Registry struct {
	mu      sync.RWMutex
	actions map[string]Action
}

// NewRegistry returns a registry holding every standard action, under the
// default policy (embedded: loopback allowed).
func NewRegistry() *Registry { return NewRegistryWith(Policy{}) }

// NewRegistryWith returns a registry holding every standard action, under
// the operator's policy p.
func NewRegistryWith(p Policy) *Registry {
	r := &Registry{actions: make(map[string]Action)}
	for name, a := range standard(p.withDefaults()) {
		r.actions[name] = a
	}
	return r
}

// Register adds a user action. It refuses an empty name or one with
// white space, a nil action, a name under StdPrefix (ErrReserved) and a
// name already registered (ErrDuplicate).
func (r *Registry) Register(name string, a Action) error {
	switch {
	case name == "" || strings.ContainsFunc(name, isSpace):
		return fmt.Errorf("register action %q: the name must be non-empty and hold no white space", name)
	case a == nil:
		return fmt.Errorf("register action %q: the action is nil", name)
	case strings.HasPrefix(name, StdPrefix):
		return fmt.Errorf("register action %q: %w: names starting with %q are the standard actions", name, ErrReserved, StdPrefix)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.actions == nil {
		r.actions = make(map[string]Action)
	}
	if _, ok := r.actions[name]; ok {
		return fmt.Errorf("register action %q: %w", name, ErrDuplicate)
	}
	r.actions[name] = a
	return nil
}

// Lookup returns the action registered under name.
func (r *Registry) Lookup(name string) (Action, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.actions[name]
	return a, ok
}

// Signature returns the declared parameters of the action registered under
// name; ok is false when there is no such action or it declares none.
func (r *Registry) Signature(name string) (sig Signature, ok bool) {
	a, found := r.Lookup(name)
	if !found {
		return Signature{}, false
	}
	d, ok := a.(Describer)
	if !ok {
		return Signature{}, false
	}
	return d.Signature(), true
}

// Names returns every registered name, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.actions))
	for n := range r.actions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Specs returns the catalogue of the registered actions for the workflow
// loader's action checks (dsl.CheckActions).
func (r *Registry) Specs() map[string]dsl.ActionSpec {
	out := map[string]dsl.ActionSpec{}
	for _, n := range r.Names() {
		sig, _ := r.Signature(n)
		out[n] = dsl.ActionSpec{Required: sig.Required, Optional: sig.Optional}
	}
	return out
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}
