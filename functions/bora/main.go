// Command bora runs Bora workflows in one process and validates workflow
// files. Run `bora help` for the commands.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/borawf/bora/internal/record"
)

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order `bora help` shows them. Each
// lives in its own file; adding one is one line here.
var commands = []command{
	{"validate", "check workflow files and report every problem", runValidate},
	{"run", "run one execution of a workflow to its end, embedded", runCmd},
	{"serve", "carry every execution in a database forward, embedded", serveCmd},
	{"show", "list the executions in a database, or show one", showCmd},
	{"pause", "pause an execution", controlCmd(record.OpPause)},
	{"resume", "resume a paused execution and follow it to its end", controlCmd(record.OpResume)},
	{"cancel", "cancel an execution", controlCmd(record.OpCancel)},
	{"rerun", "run a failed task of an execution again", controlCmd(record.OpRerun)},
	{"skip", "skip a failed task of an execution and go on past it", controlCmd(record.OpSkip)},
	{"complete", "complete an attempt of an asynchronous action with its result", completeCmd("complete")},
	{"fail", "fail an attempt of an asynchronous action with an error", completeCmd("fail")},
	{"heartbeat", "say that an attempt of an asynchronous action is still being worked on", completeCmd("heartbeat")},
	{"submit", "store workflow documents on the API's server", submitCmd},
	{"start", "start an execution of a stored workflow on the API's server", startCmd},
	{"get", "show an execution kept by the API's server", getCmd},
	{"list", "list the executions (or workflows) kept by the API's server", listCmd},
	{"watch", "follow an execution on the API's server to its end", watchCmd},
	{"trigger", "create, list, show or delete cron triggers on the API's server", triggerCmd},
	{"console", "serve the web console of a deployed API on this machine", consoleCmd},
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand named by args[0] and returns the exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	moved, args, err := globalFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "bora: %v\n", err)
		return exitUsage
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if len(moved) > 0 && !remoteCommands[args[0]] && lookup(args[0]) != nil {
		fmt.Fprintf(stderr, "bora %s: --endpoint, --token and --sigv4 are for the commands that talk to an API (bora help lists them); %s works on a local file\n", args[0], args[0])
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				// Asked for, help goes to stdout.
				return c.run([]string{"-h"}, stdout, stdout)
			}
			fmt.Fprintf(stderr, "bora help: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	default:
		c := lookup(name)
		if c == nil {
			fmt.Fprintf(stderr, "bora: unknown command %q%s\nRun 'bora help' for usage.\n", name, suggestCommand(name))
			return exitUsage
		}
		return c.run(append(moved, args[1:]...), stdout, stderr)
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// suggestCommand names a command that shares a prefix with name.
func suggestCommand(name string) string {
	for _, c := range commands {
		if len(name) >= 2 && (strings.HasPrefix(c.name, name) || strings.HasPrefix(name, c.name)) {
			return fmt.Sprintf("; did you mean %q?", c.name)
		}
	}
	return ""
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Bora runs workflows written in the Mistral workflow language (v2).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  bora <command> [arguments]")
	fmt.Fprintln(w, "  bora --endpoint URL <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "submit, start, get, list, watch and trigger talk to an API: bora serve's, or a")
	fmt.Fprintln(w, "deployed stack's (--endpoint or BORA_ENDPOINT); pause, resume, cancel and rerun")
	fmt.Fprintln(w, "work on a database (--db) or an API.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'bora help <command>' for the details of a command.")
}
