package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/dop251/goja"
)

// std.javascript (also std.js) runs a script, as Mistral's does:
//
//   - script (required): the body of a function; its `return` value is the
//     result.
//   - context: any value, seen by the script as `$`.
//
// The result is the returned value as JSON.stringify gives it (undefined
// and functions become null, a Date its ISO text). A script that throws, or
// does not compile, fails the action with "JavaScriptAction failed: " and
// the error.
//
// Scripts run in goja, an ECMAScript 5.1+ interpreter written in Go, in a
// fresh runtime per call that has no file, network, process or module
// access: only the language's own objects. Each call is bounded by
// JSTimeLimit (and the task's timeout) and by JSMemoryLimit.

var jsSignature = Signature{Required: []string{"script"}, Optional: []string{"context"}}

// Budgets of one std.javascript call.
const (
	// JSTimeLimit bounds the time one script may run.
	JSTimeLimit = 10 * time.Second
	// JSMemoryLimit bounds how much the heap may grow while a script runs;
	// builtins that would make a longer string or array in one call refuse.
	JSMemoryLimit = 64 << 20
	// jsStackLimit bounds the script's call depth.
	jsStackLimit = 10_000
	// jsPoll is how often the memory watchdog looks at the heap.
	jsPoll = 2 * time.Millisecond
	// jsGrace is how long a script gets to stop once interrupted (a
	// builtin call runs to its end first) before it is abandoned.
	jsGrace = 2 * time.Second
)

func init() {
	// goja matches the regular expressions RE2 cannot run with regexp2,
	// which backtracks; a pathological pattern must not run for ever
	// inside one builtin call, where no interrupt reaches it.
	regexp2.DefaultMatchTimeout = JSTimeLimit
}

// jsTurn lets one script run at a time in a process, so that the heap's
// growth while it runs is its own.
var jsTurn = make(chan struct{}, 1)

// Errors of a script stopped for its budget.
var (
	errJSTime   = fmt.Errorf("the script ran longer than %s, the limit of one call", JSTimeLimit)
	errJSMemory = fmt.Errorf("the script used more than %d MiB, the limit of one call", JSMemoryLimit>>20)
)

func runJavaScript(ctx context.Context, p params) (any, error) {
	script, ok := p.m["script"].(string)
	if !ok {
		return nil, badParam(p.typeErr("script", "a string", p.m["script"]))
	}
	return evalJS(ctx, script, p.m["context"], JSTimeLimit, JSMemoryLimit)
}

type jsResult struct {
	val any
	err error
}

// evalJS runs script as the body of a function with `$` bound to data.
func evalJS(ctx context.Context, script string, data any, limit time.Duration, memory uint64) (any, error) {
	dataJSON, err := json.Marshal(data)
	if err != nil {
		return nil, badParam(fmt.Errorf("std.javascript: context is not JSON: %w", err))
	}
	select {
	case jsTurn <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-jsTurn
		}
	}
	vm := goja.New()
	vm.SetMaxCallStackSize(jsStackLimit)
	done := make(chan jsResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- jsResult{err: fmt.Errorf("JavaScriptAction failed: %v", p)}
			}
		}()
		v, err := runScript(vm, script, dataJSON, memory)
		done <- jsResult{v, err}
	}()

	timer := time.NewTimer(limit)
	defer timer.Stop()
	poll := time.NewTicker(jsPoll)
	defer poll.Stop()
	base := heapBytes()
	var stop error
	for stop == nil {
		select {
		case r := <-done:
			release()
			return r.val, r.err
		case <-ctx.Done():
			stop = context.Cause(ctx)
		case <-timer.C:
			stop = errJSTime
		case <-poll.C:
			if heapBytes() > base+memory {
				// Garbage counts until it is collected: look again
				// after a collection before blaming the script.
				runtime.GC()
				if heapBytes() > base+memory {
					stop = errJSMemory
				}
			}
		}
	}
	vm.Interrupt(stop)
	grace := time.NewTimer(jsGrace)
	defer grace.Stop()
	select {
	case <-done:
		release()
	case <-grace.C:
		// A builtin call that does not return; its goroutine is left to
		// end on its own, and the next script may run meanwhile.
		release()
	}
	if ctx.Err() != nil {
		return nil, stop
	}
	return nil, fmt.Errorf("JavaScriptAction failed: %w", stop)
}

// runScript binds `$`, runs the script and turns its value into JSON-like
// data the way JSON.stringify sees it.
func runScript(vm *goja.Runtime, script string, dataJSON []byte, memory uint64) (any, error) {
	guard, err := vm.RunString(jsGuards)
	if err != nil {
		return nil, fmt.Errorf("std.javascript: install the guards: %w", err)
	}
	install, _ := goja.AssertFunction(guard)
	if _, err := install(goja.Undefined(), vm.ToValue(memory)); err != nil {
		return nil, fmt.Errorf("std.javascript: install the guards: %w", err)
	}
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	ctxVal, err := parse(goja.Undefined(), vm.ToValue(string(dataJSON)))
	if err != nil {
		return nil, fmt.Errorf("std.javascript: bind the context: %w", err)
	}
	if err := vm.Set("$", ctxVal); err != nil {
		return nil, fmt.Errorf("std.javascript: bind the context: %w", err)
	}
	// As Mistral does: the script is the body of a function, called once.
	v, err := vm.RunScript("script", "function f() {\n"+script+"\n}\nf()")
	if err == nil {
		if goja.IsUndefined(v) || goja.IsNull(v) {
			return nil, nil
		}
		v, err = stringify(goja.Undefined(), v)
	}
	if err != nil {
		return nil, jsError(err)
	}
	if goja.IsUndefined(v) {
		return nil, nil // a function or a symbol
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(v.String())))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("JavaScriptAction failed: the result is not JSON: %w", err)
	}
	return normalizeNumbers(out), nil
}

// jsError turns what goja returned into the action's error.
func jsError(err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if cause, ok := ie.Value().(error); ok {
			return fmt.Errorf("JavaScriptAction failed: %w", cause)
		}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return fmt.Errorf("JavaScriptAction failed: %s", ex.Value().String())
	}
	var se *goja.CompilerSyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("JavaScriptAction failed: SyntaxError: %s", se.Message)
	}
	return fmt.Errorf("JavaScriptAction failed: %w", err)
}

// heapBytes is the memory the heap's objects take, live or not yet
// collected.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// jsGuards makes the builtins that build a string or an array in one call
// (where no interrupt reaches them) refuse sizes over the memory budget.
// Strings are counted in characters, arrays in elements of 16 bytes.
const jsGuards = `(function (bytes) {
  'use strict';
  var chars = bytes, elems = Math.floor(bytes / 16);
  function check(what, n, max) {
    if (n > max) throw new RangeError(what + ' would make ' + n + ' elements, more than a script may build');
  }
  function guard(obj, name, max, size) {
    var orig = obj[name];
    Object.defineProperty(obj, name, {
      value: function () { check(name, size(this, arguments), max); return orig.apply(this, arguments); },
      writable: true, configurable: true
    });
  }
  function num(v) { v = Math.floor(Number(v)); return v > 0 ? v : 0; }
  guard(String.prototype, 'repeat', chars, function (s, a) { return String(s).length * num(a[0]); });
  guard(String.prototype, 'padStart', chars, function (s, a) { return num(a[0]); });
  guard(String.prototype, 'padEnd', chars, function (s, a) { return num(a[0]); });
  guard(Array.prototype, 'join', chars, function (s, a) {
    return num(s.length) * (a[0] === undefined ? 1 : String(a[0]).length);
  });
  guard(Array.prototype, 'fill', elems, function (s) { return num(s.length); });
  guard(Array, 'from', elems, function (s, a) { return a[0] == null ? 0 : num(a[0].length); });
  function sized(C, per) {
    var W = function () {
      if (typeof arguments[0] === 'number') check(C.name, arguments[0] * per, bytes);
      return Reflect.construct(C, arguments, new.target || C);
    };
    W.prototype = C.prototype;
    Object.setPrototypeOf(W, C);
    Object.defineProperty(W, 'name', {value: C.name});
    return W;
  }
  var g = Function('return this')();
  g.Array = sized(Array, 16);
  ['ArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
   'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array'].forEach(function (n) {
    if (g[n]) g[n] = sized(g[n], g[n].BYTES_PER_ELEMENT || 1);
  });
})`
