package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/cluster"
)

func newClusterCmd() *cobra.Command {
	var g objectsGlobals
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show a cluster's nodes, shards and streams, and drain a node before stopping it",
		Long: `Operate on a cluster of 'roost serve --node …' processes through the admin API
of any of its nodes (/_roost/cluster).

  roost cluster status                  # nodes, shards per node, leases, streams' health and lag
  roost cluster status --json           # the same as JSON
  roost cluster drain n2                # move n2's shards to the other nodes

Drain before stopping a node: its shards move with no failed request (each
shard's objects finish their events and commit on the old owner, then the
new owner takes the shard over). --server and --token are those of
'roost objects' (env ROOST_SERVER, ROOST_ADMIN_TOKEN).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.server, "server", "http://127.0.0.1:8080", "a node's base URL (env ROOST_SERVER)")
	pf.StringVar(&g.token, "token", "", "the node's admin token, if it has one (env ROOST_ADMIN_TOKEN)")
	cmd.AddCommand(newClusterStatusCmd(&g), newClusterDrainCmd(&g))
	return cmd
}

func newClusterStatusCmd(g *objectsGlobals) *cobra.Command {
	var asJSON, leases bool
	cmd := &cobra.Command{
		Use: "status", Short: "Print the cluster's nodes, shards, leases and streams", Args: cobra.NoArgs,
		Long: `Print the cluster as the node at --server sees it: its members (live,
draining, shards held), a summary of the shard leases (every lease with
--leases), and the health of each JetStream stream Roost keeps: its leader,
each follower's state and lag, messages and bytes. A stream with no leader
(no quorum) or a follower behind or offline is marked in capitals; a
stream whose leader does not answer within 2s is shown UNAVAILABLE.`,
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, _ []string) error {
			raw, err := c.ClusterStatus(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				var out bytes.Buffer
				if err := json.Indent(&out, raw, "", "  "); err != nil {
					return fmt.Errorf("read the status: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.String())
				return nil
			}
			var st cluster.Status
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("read the status: %w", err)
			}
			printClusterStatus(cmd.OutOrStdout(), &st, leases)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&leases, "leases", false, "list every shard's lease")
	return cmd
}

func newClusterDrainCmd(g *objectsGlobals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use: "drain NODE", Short: "Move every shard of NODE to the other nodes", Args: cobra.ExactArgs(1),
		Long: `Move every shard of NODE to the other nodes and return once NODE holds none;
NODE can then be stopped with no failed request. It stays marked draining
(the other nodes give it no shard) until it restarts. It fails, with a
non-zero exit, for a name that is not a member of the cluster, or when
--timeout passes first (the drain goes on).`,
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := c.Drain(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "drained %s: it holds no shard and can be stopped\n", args[0])
			return nil
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the node's shards to move")
	return cmd
}
