package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost/internal/admin"
)

func newClusterCmd() *cobra.Command {
	var g objectsGlobals
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show a cluster's nodes and shards, and drain a node before stopping it",
		Long: `Operate on a cluster of 'roost serve --node …' processes through the admin API
of any of its nodes (/_roost/cluster).

  roost cluster status                  # nodes, shards per node, leases and epochs
  roost cluster drain n2                # move n2's shards to the other nodes

Drain before stopping a node: its shards move with no failed request (each
shard's objects finish their events and commit on the old owner, then the
new owner takes the shard over). --server and --token are those of
'roost objects' (env ROOST_SERVER, ROOST_ADMIN_TOKEN).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.server, "server", "http://127.0.0.1:8080", "a node's base URL (env ROOST_SERVER)")
	pf.StringVar(&g.token, "token", "", "the node's admin token, if it has one (env ROOST_ADMIN_TOKEN)")
	cmd.AddCommand(&cobra.Command{
		Use: "status", Short: "Print the cluster's nodes, shards and leases (JSON)", Args: cobra.NoArgs,
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, _ []string) error {
			raw, err := c.ClusterStatus(ctx)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, raw, "", "  "); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.String())
			return nil
		}),
	}, &cobra.Command{
		Use: "drain NODE", Short: "Move every shard of NODE to the other nodes", Args: cobra.ExactArgs(1),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			if err := c.Drain(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "drained %s: it holds no shard\n", args[0])
			return nil
		}),
	})
	return cmd
}
