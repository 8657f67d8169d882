// Command roost runs Roost: `roost serve` starts the server with its demo
// classes. The flags of serve and bench have ROOST_* environment variables as
// fallbacks (--idle-timeout → ROOST_IDLE_TIMEOUT); flags win.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "roost:", err)
		os.Exit(1)
	}
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
	root.AddCommand(newServeCmd(), newBenchCmd(), newObjectsCmd(), newWorkflowsCmd())
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
