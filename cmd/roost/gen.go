package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/tsgen"
)

func newGenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate client code for a running server's classes",
	}
	cmd.AddCommand(newGenTSCmd())
	return cmd
}

func newGenTSCmd() *cobra.Command {
	var g objectsGlobals
	var out string
	cmd := &cobra.Command{
		Use: "ts", Short: "Write TypeScript types for the RPC methods of a running server's classes", Args: cobra.NoArgs,
		Long: `Ask a running server (its admin API, GET /_roost/classes) for its classes and
the JSON Schemas of their RPC methods, and write TypeScript declarations:
a type for each named Go type of a request or a response, and the interface
RoostMethods, RoostMethods[class][method] = { request; response }, which the
TypeScript client (clients/ts) takes for typed calls:

  roost gen ts -o src/roost-types.ts
  const client = new RoostClient<RoostMethods>("http://127.0.0.1:8080");
  const balance = await client.object("account", "ada").call("deposit", { cents: 500 });

Fields follow encoding/json: a field without omitempty is required, a
time.Time is a string, a []byte a base64 string, a Go map a record. The
output starts with a "DO NOT EDIT" line: generate it again when a method
changes. --server and --token are those of 'roost objects' (env
ROOST_SERVER, ROOST_ADMIN_TOKEN).`,
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, _ []string) error {
			classes, err := c.Classes(ctx)
			if err != nil {
				return err
			}
			src, err := tsgen.Generate(classes, g.server)
			if err != nil {
				return fmt.Errorf("generate TypeScript: %w", err)
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(src)
				return err
			}
			if err := writeFileAtomic(out, src); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d classes)\n", out, len(classes))
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&g.server, "server", "http://127.0.0.1:8080", "the server's base URL (env ROOST_SERVER)")
	f.StringVar(&g.token, "token", "", "the server's admin token, if it has one (env ROOST_ADMIN_TOKEN)")
	f.StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
