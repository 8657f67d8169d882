package main

// The output of `roost cluster status`: tables for people, JSON for programs.

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roost-dev/roost/internal/cluster"
	"github.com/roost-dev/roost/internal/shards"
)

// printClusterStatus writes the members, a summary of the leases (every
// lease with leases), and the streams' health. A stream without a leader,
// or with a follower behind or offline, is marked in capitals.
func printClusterStatus(w io.Writer, st *cluster.Status, leases bool) {
	fmt.Fprintf(w, "as seen by %s: %d shards, lease %s\n\n", st.Node, st.Shards, st.Lease)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDR\tLIVE\tDRAINING\tSHARDS")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Name, m.Addr, yesNo(m.Live, "NO"), yesNo(m.Draining, "no"), m.Shards)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nleases: %s\n", leaseSummary(&st.Status))
	if leases {
		printLeases(w, st.Leases)
	}
	fmt.Fprintln(w)
	printStreams(w, st.Streams)
}

// yesNo is "yes", or no (in capitals where that needs attention).
func yesNo(b bool, no string) string {
	if b {
		return "yes"
	}
	return no
}

// leaseSummary counts the shards without a live owner and the leases not
// renewed for longer than the lease period (their owner is gone).
func leaseSummary(st *shards.Status) string {
	period, _ := time.ParseDuration(st.Lease)
	live := map[string]bool{}
	for _, m := range st.Members {
		live[m.Name] = m.Live
	}
	orphans, stale := st.Shards-len(st.Leases), 0
	for _, l := range st.Leases {
		if !live[l.Node] {
			orphans++
		}
		if age, err := time.ParseDuration(l.Age); err == nil && period > 0 && age > period {
			stale++
		}
	}
	s := fmt.Sprintf("%d of %d shards owned by live nodes", st.Shards-orphans, st.Shards)
	if stale > 0 {
		s += fmt.Sprintf("; %d NOT RENEWED for more than %s", stale, st.Lease)
	}
	return s
}

func printLeases(w io.Writer, leases []shards.LeaseStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tNODE\tEPOCH\tCHANGED")
	for _, l := range leases {
		node := l.Node
		if node == "" {
			node = "(free)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s ago\n", l.Shard, node, l.Epoch, l.Age)
	}
	tw.Flush()
}

func printStreams(w io.Writer, streams []cluster.StreamStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tREPLICAS\tLEADER\tFOLLOWERS\tMESSAGES\tBYTES\tHEALTH")
	for _, s := range streams {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tUNAVAILABLE: %s\n", s.Name, cell(s.Error, 80))
			continue
		}
		leader := s.Leader
		if leader == "" {
			leader = "NONE"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.Replicas, leader, followers(s.Followers),
			s.Messages, size(int64(s.Bytes)), health(&s))
	}
	tw.Flush()
}

// followers lists each follower and its state: "n2 current",
// "n3 BEHIND 12", "n3 OFFLINE (seen 40s ago)".
func followers(rs []cluster.ReplicaStatus) string {
	if len(rs) == 0 {
		return "-"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		switch {
		case r.Offline:
			parts[i] = fmt.Sprintf("%s OFFLINE (seen %s ago)", r.Name, r.Active)
		case !r.Current:
			parts[i] = fmt.Sprintf("%s BEHIND %d", r.Name, r.Lag)
		default:
			parts[i] = r.Name + " current"
		}
	}
	return strings.Join(parts, ", ")
}

func health(s *cluster.StreamStatus) string {
	online := 0
	if s.Leader != "" {
		online++
	}
	for _, f := range s.Followers {
		if !f.Offline {
			online++
		}
	}
	switch {
	case s.Leader == "" && s.Replicas > 1:
		return "NO LEADER: nothing can be written"
	case 2*online <= s.Replicas:
		return "NO QUORUM: writes fail"
	case !s.Healthy:
		return "DEGRADED"
	}
	return "ok"
}
