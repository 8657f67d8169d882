// Command roost runs Roost: `roost serve` starts the server with its demo
// classes. The flags of serve and bench have ROOST_* environment variables as
// fallbacks (--idle-timeout → ROOST_IDLE_TIMEOUT); flags win.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program's name) and returns
// the process's exit status: 0, or 1 after printing the error on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, errorLine(err))
		return 1
	}
	return 0
}

// errorLine is how err is printed: after one "roost: ". The errors of the
// roost package have begun with "roost: " too, so any at the start of err
// is dropped rather than repeated ("roost: roost: open: …").
func errorLine(err error) string {
	msg := err.Error()
	for strings.HasPrefix(msg, "roost: ") {
		msg = strings.TrimPrefix(msg, "roost: ")
	}
	return "roost: " + msg
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "roost",
		Short: "Roost: durable objects and workflows on SQLite",
		Long: `Roost serves uniquely addressable objects, each with its own private SQLite
database, over HTTP. Start a server with 'roost serve'.

The flags of serve and bench can also be set with an environment variable:
ROOST_ and the flag name in capitals with dashes as underscores (--data →
ROOST_DATA). Flags win. "roost objects" reads only ROOST_SERVER and
ROOST_ADMIN_TOKEN.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newBenchCmd(), newObjectsCmd(), newWorkflowsCmd(), newClusterCmd(), newGenCmd())
	return root
}

// envFallback sets every flag the user did not give from its ROOST_*
// variable, so that `--help` shows the defaults and the environment only
// fills gaps.
func envFallback(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "ROOST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := flags.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}
