// Command idlegridctl is the requester's CLI: quote, deploy and reach GPU
// clusters on an Idlegrid control plane with an API key.
//
//	export IDLEGRID_SERVER=https://grid.example.com IDLEGRID_API_KEY=igk_…
//	idlegridctl quote --gpus 2 --model 4090 --hours 3
//	idlegridctl deploy --gpus 2 --model 4090 --hours 3
//	idlegridctl forward cls_… 8265 &
//	ray job submit --address http://127.0.0.1:8265 -- python train.py
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `Usage: idlegridctl [--server URL] [--key KEY] COMMAND [flags]

Commands:
  quote      price a cluster on the live supply (valid 5 minutes)
  deploy     deploy a cluster and show its progress until it is ready
  ls         list your clusters
  status     show one cluster: nodes, events, cost so far
  extend     add hours to a running cluster
  terminate  stop a cluster and release its devices
  forward    forward a local port to the cluster's head node
             (8265: Ray dashboard and Jobs API, 10001: Ray client)

The server and API key may also come from IDLEGRID_SERVER and
IDLEGRID_API_KEY. Create a key in the console under API keys.
Run 'idlegridctl COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole CLI; it returns the exit code (0 ok, 1 failed, 2 usage).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("idlegridctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usage) }
	server := global.String("server", getenv("IDLEGRID_SERVER"), "control plane URL")
	key := global.String("key", getenv("IDLEGRID_API_KEY"), "API key (igk_…)")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if global.NArg() == 0 {
		global.Usage()
		return 2
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	commands := map[string]func(context.Context, *client, []string, io.Writer) error{
		"quote": cmdQuote, "deploy": cmdDeploy, "ls": cmdList, "status": cmdStatus,
		"extend": cmdExtend, "terminate": cmdTerminate, "forward": cmdForward,
	}
	fn, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "idlegridctl: unknown command %q\n\n", cmd)
		global.Usage()
		return 2
	}
	c, err := newClient(*server, *key)
	if err != nil {
		fmt.Fprintf(stderr, "idlegridctl: %v\n", err)
		return 2
	}
	c.log = stderr
	err = fn(ctx, c, rest, stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "idlegridctl %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(stderr, "idlegridctl %s: %v\n", cmd, err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func newFlags(name, args string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: idlegridctl %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags wherever they stand among positional arguments, so
// "status cls_x --json" and "status --json cls_x" both work.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func oneArg(what string, pos []string) (string, error) {
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return "", usagef("give exactly one %s", what)
	}
	return pos[0], nil
}
