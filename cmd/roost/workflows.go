package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/workflow"
)

// workflowsGlobals are the flags of every `roost workflows` command.
type workflowsGlobals struct {
	server string
}

// newWorkflowsCmd makes `roost workflows`, the client of the workflow API.
func newWorkflowsCmd() *cobra.Command {
	var g workflowsGlobals
	cmd := &cobra.Command{
		Use:   "workflows",
		Short: "Start, list, inspect and control the workflow instances of a running server",
		Long: `Operate on the workflow instances of a running 'roost serve' through its
workflow API (/workflows/ on the server's address). A workflow is named by
its name (order, threestep), an instance by its ID.

  roost workflows start threestep --params 1 --wait 30s
  roost workflows start order --id o-1 --params '{"customer":"ann","item":"soup","cents":900}'
  roost workflows status order o-1               # status, output or error, steps
  roost workflows ls order --status sleeping
  roost workflows event order o-1 delivered '{"by":"bob"}'
  roost workflows pause order o-1                # also resume, terminate, restart
  roost workflows purge order --older-than 24h   # finished instances, with their journals

--server falls back to ROOST_SERVER.`,
	}
	cmd.PersistentFlags().StringVar(&g.server, "server", "http://127.0.0.1:8080", "the server's base URL (env ROOST_SERVER)")
	cmd.AddCommand(newWfStartCmd(&g), newWfStatusCmd(&g), newWfLsCmd(&g), newWfEventCmd(&g), newWfPurgeCmd(&g))
	for _, op := range []struct{ name, short string }{
		{"pause", "Pause an instance at its next step"},
		{"resume", "Resume a paused instance"},
		{"terminate", "End an instance for good"},
		{"restart", "Run an instance again from the start with the same params"},
	} {
		cmd.AddCommand(newWfControlCmd(&g, op.name, op.short))
	}
	return cmd
}

// run wraps a command's work like [objectsGlobals.run]: it fills --server
// from the environment, makes the client, cancels on SIGINT, and gives the
// server's errors their code.
func (g *workflowsGlobals) run(fn func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := envDefault(cmd.Flags(), "server", "ROOST_SERVER"); err != nil {
			return err
		}
		c, err := newWFClient(g.server, nil)
		if err != nil {
			return describe(err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		return describe(fn(ctx, c, cmd, args))
	}
}

// newWfStartCmd makes `roost workflows start`.
func newWfStartCmd(g *workflowsGlobals) *cobra.Command {
	var (
		id, params string
		wait       time.Duration
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "start <workflow>",
		Short: "Start an instance of a workflow and print its ID",
		Long: `Start an instance of a workflow with --params (JSON; default null) and print
its ID. --id names the instance (1 to 100 letters, digits, '-', '_', '.' or
':', but not "." or ".."); an instance of that ID that exists is left as it is (its ID is printed,
with a note on stderr). Without --id the server picks a random one.
With --wait, the command waits up to that long for the instance to finish
and prints its status instead.`,
		Args: cobra.ExactArgs(1),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			if params != "" && !json.Valid([]byte(params)) {
				return fmt.Errorf("--params is not JSON: %s", quoteArg(params))
			}
			if wait < 0 {
				return errors.New("--wait must not be negative")
			}
			body, err := json.Marshal(struct {
				ID     string          `json:"id,omitempty"`
				Params json.RawMessage `json:"params,omitempty"`
			}{id, json.RawMessage(params)})
			if err != nil {
				return err
			}
			q := url.Values{}
			if wait > 0 {
				q.Set("wait", min(wait, workflow.MaxWait).String())
			}
			deadline := time.Now().Add(wait)
			var raw json.RawMessage
			code, err := c.do(ctx, http.MethodPost, q, body, &raw, args[0], "instances")
			if err != nil {
				return err
			}
			var created struct{ ID string }
			if err := json.Unmarshal(raw, &created); err != nil {
				return fmt.Errorf("read the server's answer: %w", err)
			}
			if code == http.StatusOK {
				fmt.Fprintf(cmd.ErrOrStderr(), "instance %s of %s already existed\n", created.ID, args[0])
			}
			switch {
			case wait == 0 && asJSON:
				return writeJSON(cmd.OutOrStdout(), raw)
			case wait == 0:
				fmt.Fprintln(cmd.OutOrStdout(), created.ID)
				return nil
			}
			raw, err = c.waitMore(ctx, args[0], raw, deadline)
			if err != nil {
				return err
			}
			return showStatus(cmd, raw, asJSON, true)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "the instance's ID (default: a random one)")
	f.StringVar(&params, "params", "", `the params, as JSON: '1', '{"customer":"ann"}'`)
	f.DurationVar(&wait, "wait", 0, "wait up to this long for the instance to finish, then print its status")
	f.BoolVar(&asJSON, "json", false, "print JSON (with --wait, the status)")
	return cmd
}

// newWfStatusCmd makes `roost workflows status`.
func newWfStatusCmd(g *workflowsGlobals) *cobra.Command {
	var (
		wait   time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status <workflow> <id>",
		Short: "Show an instance's status, output or error, and steps",
		Long: `Show an instance's status, its output (once complete) or error (once
errored), and its history: every step, sleep and wait for an event with its
state, attempts, start and duration (or, for a sleep, a wait or a retry not
over yet, when it is due). A step's state is done, retrying, sleeping or
waiting; in an instance that finished, one its end cut short (the sleep of
a terminated order, say) is canceled. With --wait, wait up to that long for
the instance to finish first. --json prints the server's JSON.`,
		Args: cobra.ExactArgs(2),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			if wait < 0 {
				return errors.New("--wait must not be negative")
			}
			deadline := time.Now().Add(wait)
			raw, err := c.status(ctx, args[0], args[1], wait)
			if err != nil {
				return err
			}
			if wait > 0 {
				if raw, err = c.waitMore(ctx, args[0], raw, deadline); err != nil {
					return err
				}
			}
			return showStatus(cmd, raw, asJSON, wait > 0)
		}),
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the instance to finish")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// newWfLsCmd makes `roost workflows ls`.
func newWfLsCmd(g *workflowsGlobals) *cobra.Command {
	var (
		status, cursor string
		limit          int
		all, asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "ls <workflow>",
		Short: "List a workflow's instances, a page at a time",
		Long: `List a workflow's instances by ID: ID, status, creation and last change.
--status keeps those in one status (queued, running, sleeping, waiting,
paused, complete, errored, terminated). A page holds --limit instances; the
command prints the --cursor of the next page on stderr, or follows every
page with --all.`,
		Args: cobra.ExactArgs(1),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			var list []workflow.Summary
			for {
				q := url.Values{}
				setNotEmpty(q, "status", status)
				setNotEmpty(q, "cursor", cursor)
				if limit != 0 {
					q.Set("limit", strconv.Itoa(limit))
				}
				var page workflow.Page
				if _, err := c.do(ctx, http.MethodGet, q, nil, &page, args[0], "instances"); err != nil {
					return err
				}
				list = append(list, page.Instances...)
				cursor = page.Cursor
				if !all || cursor == "" {
					break
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), workflow.Page{Instances: list, Cursor: cursor})
			}
			printInstances(cmd.OutOrStdout(), list)
			if cursor != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "next page: --cursor %s (or list them all with --all)\n", cursor)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "list the instances in this status only")
	f.IntVar(&limit, "limit", 100, "instances per page (at most 1000)")
	f.StringVar(&cursor, "cursor", "", "continue after the page that printed this cursor")
	f.BoolVar(&all, "all", false, "follow every page")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// setNotEmpty sets q's k to v unless v is empty.
func setNotEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// newWfEventCmd makes `roost workflows event`.
func newWfEventCmd(g *workflowsGlobals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "event <workflow> <id> <type> [payload]",
		Short: "Send an event to an instance",
		Long: `Send an event of a type, with a JSON payload (default null), to an instance:
its WaitForEvent for that type takes it, now or later. An instance that
finished refuses it (invalid_state).`,
		Args: cobra.RangeArgs(3, 4),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			payload := []byte("null")
			if len(args) == 4 {
				payload = []byte(args[3])
				if !json.Valid(payload) {
					return fmt.Errorf("the payload is not JSON: %s", quoteArg(args[3]))
				}
			}
			if _, err := c.do(ctx, http.MethodPost, nil, payload, nil, args[0], "instances", args[1], "events", args[2]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent event %s to %s/%s\n", args[2], args[0], args[1])
			return nil
		}),
	}
	return cmd
}

// newWfPurgeCmd makes `roost workflows purge`.
func newWfPurgeCmd(g *workflowsGlobals) *cobra.Command {
	var olderThan time.Duration
	var status string
	cmd := &cobra.Command{
		Use:   "purge <workflow> --older-than DURATION",
		Short: "Remove finished instances with their journals",
		Long: `Remove the instances of a workflow that finished (complete, errored or
terminated) longer ago than --older-than, with their params, journals,
outputs and storage. The server does this on its own once an instance is
older than its --workflow-retention (default 30 days); purge cleans up
sooner. Instances that run, sleep, wait or are paused stay. --older-than 0
removes every finished instance; --status takes one final status only.`,
		Args: cobra.ExactArgs(1),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			if olderThan < 0 {
				return errcode.New(errcode.BadRequest, "--older-than %s: want a duration ≥ 0", olderThan)
			}
			q := url.Values{"older_than": {olderThan.String()}}
			if status != "" {
				q.Set("status", status)
			}
			var out struct {
				Purged int `json:"purged"`
			}
			if _, err := c.do(ctx, http.MethodPost, q, nil, &out, args[0], "purge"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d finished instances of %s\n", out.Purged, args[0])
			return nil
		}),
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "remove the instances that finished longer ago than this (required; 0: every finished one)")
	cmd.Flags().StringVar(&status, "status", "", "remove only instances in this status: complete, errored or terminated")
	_ = cmd.MarkFlagRequired("older-than")
	return cmd
}

// newWfControlCmd makes the command of the instance operation op (pause,
// resume, terminate or restart).
func newWfControlCmd(g *workflowsGlobals, op, short string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   op + " <workflow> <id>",
		Short: short,
		Long: short + `, and print its status then. An instance whose status does
not allow it refuses (invalid_state).`,
		Args: cobra.ExactArgs(2),
		RunE: g.run(func(ctx context.Context, c *wfClient, cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if _, err := c.do(ctx, http.MethodPost, nil, nil, &raw, args[0], "instances", args[1], op); err != nil {
				return err
			}
			return showStatus(cmd, raw, asJSON, false)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// quoteArg shows a command-line argument in an error, cut to 100
// characters.
func quoteArg(s string) string { return strconv.Quote(cell(s, 100)) }

// showStatus prints the status raw as JSON or for people; waited tells
// whether the command waited, and so should say if the instance is not
// finished.
func showStatus(cmd *cobra.Command, raw json.RawMessage, asJSON, waited bool) error {
	var st workflow.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	if asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		buf.WriteByte('\n')
		_, err := buf.WriteTo(cmd.OutOrStdout())
		if err == nil && waited && !st.Done() {
			fmt.Fprintf(cmd.ErrOrStderr(), "instance %s is still %s\n", st.ID, st.Status)
		}
		return err
	}
	printStatus(cmd.OutOrStdout(), &st)
	if waited && !st.Done() {
		fmt.Fprintf(cmd.ErrOrStderr(), "instance %s is still %s\n", st.ID, st.Status)
	}
	return nil
}

// printStatus writes an instance's status and its steps as tables.
func printStatus(w io.Writer, st *workflow.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workflow\t%s\nid\t%s\nstatus\t%s\n", st.Workflow, st.ID, st.Status)
	if len(st.Output) > 0 {
		fmt.Fprintf(tw, "output\t%s\n", compactJSON(st.Output, 200))
	}
	if st.Error != nil {
		fmt.Fprintf(tw, "error\t%s: %s\n", st.Error.Code, cell(st.Error.Message, 200))
	}
	fmt.Fprintf(tw, "params\t%s\n", compactJSON(st.Params, 200))
	fmt.Fprintf(tw, "created\t%s\nupdated\t%s\n", when(st.Created), when(st.Updated))
	if st.Finished != nil {
		fmt.Fprintf(tw, "finished\t%s\n", when(*st.Finished))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nsteps (%d)\n", len(st.Steps))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tATTEMPTS\tSTARTED\tDURATION")
	for _, s := range st.Steps {
		attempts := "-"
		if s.Attempts > 0 {
			attempts = strconv.Itoa(s.Attempts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(s.Name, 40), s.Kind, s.State, attempts, when(s.Started), stepDuration(s))
	}
	tw.Flush()
}

// stepDuration is how long a step took; for one not over, when its sleep,
// wait or retry is due, if known.
func stepDuration(s workflow.StepInfo) string {
	switch {
	case s.Ended != nil:
		d := s.Ended.Sub(s.Started)
		if d >= time.Millisecond {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(time.Microsecond).String()
	case s.Until != nil:
		return "until " + when(*s.Until)
	}
	return "-"
}

// compactJSON shows a JSON value on one line, cut to max characters.
func compactJSON(raw json.RawMessage, max int) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return cell(string(raw), max)
	}
	return cell(buf.String(), max)
}

// printInstances writes a listing as a table.
func printInstances(w io.Writer, list []workflow.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tUPDATED")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Status, when(s.Created), when(s.Updated))
	}
	tw.Flush()
}

// wfClient calls the workflow API of a running server. Errors the server
// answers with are *errcode.Error values with the server's code; errors
// reaching the server have no code.
type wfClient struct {
	base string // scheme://host[:port][/path], without a trailing slash
	hc   *http.Client
}

// newWFClient returns a client of the server at base URL server (such as
// http://127.0.0.1:8080). hc nil means http.DefaultClient.
func newWFClient(server string, hc *http.Client) (*wfClient, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errcode.New(errcode.BadRequest, "server %s: want a URL such as http://127.0.0.1:8080", quoteArg(server))
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &wfClient{base: strings.TrimSuffix(u.String(), "/"), hc: hc}, nil
}

// status gets an instance's status, after waiting up to wait (at most
// [workflow.MaxWait]) for it to finish.
func (c *wfClient) status(ctx context.Context, name, id string, wait time.Duration) (json.RawMessage, error) {
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", min(wait, workflow.MaxWait).String())
	}
	var raw json.RawMessage
	_, err := c.do(ctx, http.MethodGet, q, nil, &raw, name, "instances", id)
	return raw, err
}

// waitMore waits, past the server's longest wait, until the instance whose
// status is raw finished or deadline passed, and returns its last status.
func (c *wfClient) waitMore(ctx context.Context, name string, raw json.RawMessage, deadline time.Time) (json.RawMessage, error) {
	for {
		var st workflow.Status
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("read the server's answer: %w", err)
		}
		left := time.Until(deadline)
		if st.Done() || left <= 0 {
			return raw, nil
		}
		var err error
		if raw, err = c.status(ctx, name, st.ID, left); err != nil {
			return nil, err
		}
	}
}

// do sends a request to /workflows/ followed by the path segments (each
// escaped), with body as JSON if not nil, and decodes a successful answer
// into v if not nil. It returns the answer's status, or the error the server
// answered with.
func (c *wfClient) do(ctx context.Context, method string, q url.Values, body []byte, v any, path ...string) (int, error) {
	u := c.base + strings.TrimSuffix(workflow.Prefix, "/")
	for _, seg := range path {
		u += "/" + url.PathEscape(seg)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, fmt.Errorf("reach the Roost server at %s: %w (is it running? set --server or ROOST_SERVER)", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, admin.DecodeError(resp)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return resp.StatusCode, fmt.Errorf("read the server's answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}
