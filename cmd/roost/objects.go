package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
)

// objectsGlobals are the flags of every `roost objects` command.
type objectsGlobals struct {
	server, token string
}

func newObjectsCmd() *cobra.Command {
	var g objectsGlobals
	cmd := &cobra.Command{
		Use:   "objects",
		Short: "List, inspect, query, export, import and remove the objects of a running server",
		Long: `Operate on the objects of a running 'roost serve' through its admin API
(/_roost/ on the server's address). An object is named by its class and its
name, or its ID: an argument of 64 lowercase hex characters is an ID, and
one of 12 to 63 is the start of an ID (as 'ls' prints them) that must match
exactly one object of the class; --name reads either as a name.

  roost objects ls counter --sort size          # the largest counters first
  roost objects inspect counter room-42         # KV pairs, SQL tables, timers
  roost objects sql counter room-42 'SELECT * FROM counter'
  roost objects export counter room-42 -o room-42.sqlite
  roost objects import counter room-43 room-42.sqlite
  roost objects rm counter room-43 --yes

The server answers only loopback callers unless it runs with --admin-token;
then pass the same token with --token. --server and --token fall back to
ROOST_SERVER and ROOST_ADMIN_TOKEN (the other flags of these commands have no
environment variables: --write, --force and --yes are never implied).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.server, "server", "http://127.0.0.1:8080", "the server's base URL (env ROOST_SERVER)")
	pf.StringVar(&g.token, "token", "", "the server's admin token, if it has one (env ROOST_ADMIN_TOKEN)")
	cmd.AddCommand(newLsCmd(&g), newInspectCmd(&g), newSQLCmd(&g), newExportCmd(&g), newImportCmd(&g), newRmCmd(&g))
	return cmd
}

// run wraps a command's work: it fills --server and --token from the
// environment, makes the client, cancels on SIGINT, and gives the server's
// errors their code.
func (g *objectsGlobals) run(fn func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := envDefault(cmd.Flags(), "server", "ROOST_SERVER"); err != nil {
			return err
		}
		if err := envDefault(cmd.Flags(), "token", "ROOST_ADMIN_TOKEN"); err != nil {
			return err
		}
		c, err := admin.NewClient(g.server, g.token, nil)
		if err != nil {
			return describe(err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		return describe(fn(ctx, c, cmd, args))
	}
}

// envDefault sets flag from the variable env unless it was given.
func envDefault(flags *pflag.FlagSet, flag, env string) error {
	f := flags.Lookup(flag)
	if f == nil || f.Changed {
		return nil
	}
	if v, ok := os.LookupEnv(env); ok {
		if err := flags.Set(flag, v); err != nil {
			return fmt.Errorf("environment %s: %w", env, err)
		}
	}
	return nil
}

// describe writes the server's errors as "code: message".
func describe(err error) error {
	ce, ok := errors.AsType[*errcode.Error](err)
	if !ok {
		return err
	}
	return errors.New(string(ce.Code) + ": " + ce.Message)
}

func newLsCmd(g *objectsGlobals) *cobra.Command {
	var (
		o                 admin.ListOptions
		all, wide, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "ls [class]",
		Short: "List the server's objects, a page at a time",
		Long: `List the server's objects (of one class, if given) from its inventory:
class, ID, name (if it was addressed by one), size, creation, last activity,
and pending alarms and timers. IDs are cut to their first 12 characters,
which the other commands take as long as no other object's ID starts with
them (--wide shows them whole). --sort orders by key (class, then ID), size
(largest first), active (most recent first) or created (newest first).
A page holds --limit objects; the command prints the --cursor of the next
page on stderr, or follows every page with --all.

The server writes its inventory's latest changes before it lists. On a full
disk it cannot: ls then fails with storage_full, and --stale lists the
inventory as last written (without the changes of its last second or so);
rm works on a full disk and frees the object's space.`,
		Args: cobra.MaximumNArgs(1),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Class = args[0]
			}
			var objs []admin.Object
			for {
				page, err := c.List(ctx, o)
				if err != nil {
					return err
				}
				objs = append(objs, page.Objects...)
				o.Cursor = page.Next
				if !all || page.Next == "" {
					break
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), admin.Page{Objects: objs, Next: o.Cursor})
			}
			printObjects(cmd.OutOrStdout(), objs, wide)
			if o.Cursor != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more objects: add --cursor %s (or list them all with --all)\n", o.Cursor)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.Sort, "sort", admin.SortKey, "order: key, size, active or created")
	f.IntVar(&o.Limit, "limit", 100, "objects per page (at most 1000)")
	f.StringVar(&o.Cursor, "cursor", "", "continue after the page that printed this cursor")
	f.BoolVar(&all, "all", false, "follow every page")
	f.BoolVar(&wide, "wide", false, "show whole IDs")
	f.BoolVar(&o.Stale, "stale", false, "list the inventory as last written, without its latest changes (for a full disk, where they cannot be written)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type inspectOptions struct {
	admin.InspectOptions
	refFlags
	asJSON bool
}

func newInspectCmd(g *objectsGlobals) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect <class> <name|id>",
		Short: "Show what an object stores: KV pairs, SQL tables, alarm and timers",
		Long: `Show an object's inventory entry, its KV pairs (a page of --limit, from
--start or --cursor, with --prefix; values cut to --value-bytes, text as
quoted strings and other bytes as base64), its own SQL tables, views, indexes
and triggers with their row counts, and its alarm, timers and cron schedules.
It reads committed data, in the object's turn, without constructing the
object.`,
		Args: cobra.ExactArgs(2),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ref, err := o.ref(ctx, c, args[0], args[1])
			if err != nil {
				return err
			}
			in, err := c.Inspect(ctx, ref, o.InspectOptions)
			if err != nil {
				return err
			}
			if o.asJSON {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			printInspection(cmd.OutOrStdout(), in, o.KeysOnly)
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&o.KeysOnly, "keys-only", false, "list keys and sizes, not values")
	f.StringVar(&o.Prefix, "prefix", "", "show the keys that start with this")
	f.StringVar(&o.Start, "start", "", "show keys from this one on")
	f.StringVar(&o.Cursor, "cursor", "", "continue after the keys an earlier inspect printed this cursor for")
	f.IntVar(&o.Limit, "limit", admin.DefaultKVLimit, "KV pairs to show (at most 1000)")
	f.IntVar(&o.ValueBytes, "value-bytes", admin.DefaultValueBytes, "bytes of each value to fetch (negative: all)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	o.refFlags.add(cmd)
	return cmd
}

type sqlOptions struct {
	refFlags
	write, asJSON bool
	maxRows       int
	args          string
}

func newSQLCmd(g *objectsGlobals) *cobra.Command {
	var o sqlOptions
	cmd := &cobra.Command{
		Use:   "sql <class> <name|id> <query>",
		Short: "Run SQL on an object's database (read-only unless --write)",
		Long: `Run SQL on an object's database, in the object's turn, and print the rows of
its last statement. The rules of the objects' own SQL apply: no ATTACH, no
engine pragmas, no transaction control, no _roost_* tables.

It is read-only: a statement that writes fails with code read_only, unless
--write is given. A write commits before the command returns, and the
object's instance is reset, so that its next event sees the new data.

Over HTTP, the command sends (with Authorization: Bearer <token> if the
server has --admin-token):

  POST /_roost/objects/{class}/{name}/sql   (or .../{class}/id/{id}/sql)
  Content-Type: application/json

  {"query": "SELECT * FROM t WHERE id = ?", "args": [1], "write": false, "max_rows": 100}

query is required. args (optional) are bound to the ? parameters in order:
strings, numbers (integers bind as INTEGER, others as REAL), booleans or
null. write (default false) is --write. max_rows (default 0: 1000; at most
10000) is --max-rows. The body is at most 16 MiB. The answer, 200:

  {"columns": ["id", "v"], "rows": [[1, "a"]], "truncated": true, "truncated_by": "max_rows", "rows_affected": 0}

columns and rows are those of the last statement (empty arrays for one
that returns no rows); a value is a number, a string, null, {"blob":
"<base64>"} for a BLOB that is not valid UTF-8 (one that is is a string),
or "Infinity" or "-Infinity" for an infinite REAL. truncated is there only
when rows were left out: truncated_by is "max_rows", or "max_bytes" when
the rows reached the server's bound on their size as JSON (roost serve
--admin-sql-max-bytes, default 16 MiB). rows_affected counts the rows the
statements inserted, updated or deleted. Errors are
{"error": {"code": "...", "message": "..."}} with codes such as read_only,
sql_error, sql_not_authorized, not_found (an object that has no storage,
on a read), unknown_class, bad_request and timeout (504: the request ran
over roost serve --admin-sql-timeout, default 5s, in the object's turn and
was interrupted; nothing of it was committed).

A read's rows are sent as SQLite produces them. A failure after the first
64 KiB of the answer went out cannot change its status any more: the JSON
then ends with an "error" member instead of "rows_affected". A write's
answer is sent once it committed.`,
		Args: cobra.ExactArgs(3),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ref, err := o.ref(ctx, c, args[0], args[1])
			if err != nil {
				return err
			}
			q := admin.Query{Query: args[2], Write: o.write, MaxRows: o.maxRows}
			if o.args != "" {
				var a admin.Query
				if err := json.Unmarshal([]byte(`{"args":`+o.args+`}`), &a); err != nil {
					return fmt.Errorf("--args: want a JSON array of strings, numbers, booleans or null: %w", err)
				}
				q.Args = a.Args
			}
			res, err := c.SQL(ctx, ref, q)
			if err != nil {
				return err
			}
			if o.asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			printResult(cmd.OutOrStdout(), res, o.write)
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&o.write, "write", false, "let the statement change the object's data")
	f.IntVar(&o.maxRows, "max-rows", 0, "most rows to return (0: 1000; at most 10000)")
	f.StringVar(&o.args, "args", "", `arguments for the query's ? parameters, as a JSON array: '[1, "a"]'`)
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	o.refFlags.add(cmd)
	return cmd
}

func newExportCmd(g *objectsGlobals) *cobra.Command {
	var (
		rf    refFlags
		out   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "export <class> <name|id> -o <file>",
		Short: "Copy an object's database to a SQLite file",
		Long: `Copy an object's database to a file: a consistent copy, taken with SQLite's
backup API in the object's turn while the server runs, that the sqlite3 shell
opens (Roost's internal tables _roost_kv and _roost_timers included). The
file appears whole or not at all; an existing file is kept unless --force.`,
		Args: cobra.ExactArgs(2),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ref, err := rf.ref(ctx, c, args[0], args[1])
			if err != nil {
				return err
			}
			n, err := exportTo(ctx, c, ref, out, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s to %s (%s)\n", ref, out, size(n))
			return nil
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the file if it exists")
	cmd.MarkFlagRequired("output")
	rf.add(cmd)
	return cmd
}

// exportTo writes the export to a temporary file beside path and renames
// it into place once it is complete and synced.
func exportTo(ctx context.Context, c *admin.Client, ref admin.Ref, path string, force bool) (n int64, err error) {
	if _, err := os.Lstat(path); err == nil && !force {
		return 0, fmt.Errorf("%s exists; pass --force to replace it", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = c.Export(ctx, ref, f); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return n, os.Rename(f.Name(), path)
}

func newImportCmd(g *objectsGlobals) *cobra.Command {
	var (
		rf    refFlags
		force bool
	)
	cmd := &cobra.Command{
		Use:   "import <class> <name|id> <file>",
		Short: "Replace an object's database with a SQLite file",
		Long: `Replace an object's database with a SQLite file (such as one that export
wrote), atomically, in the object's turn: on any failure the object is as
before. The object must be new or hold no data, unless --force is given.
Its instance is reset, and the file's alarm and timers are scheduled.

The file must use 4096-byte pages, pass PRAGMA integrity_check and hold only
what the object's own SQL could have made (no virtual tables, nothing on
Roost's _roost_* tables); Roost's tables it lacks are created empty. The
server checks the file's SQLite header first, so anything else is refused
before it is uploaded whole, and accepts files up to roost serve
--admin-import-max-bytes (default 1 GiB).`,
		Args: cobra.ExactArgs(3),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ref, err := rf.ref(ctx, c, args[0], args[1])
			if err != nil {
				return err
			}
			f, err := openImport(args[2])
			if err != nil {
				return err
			}
			defer f.Close()
			if err := c.Import(ctx, ref, f, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s into %s\n", args[2], ref)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace the data of an object that holds some")
	rf.add(cmd)
	return cmd
}

// openImport opens the file to import: a directory is refused here, with
// what it is, rather than failing the upload.
func openImport(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory: give the SQLite database file to import (such as one that roost objects export wrote)", path)
	}
	return f, nil
}

func newRmCmd(g *objectsGlobals) *cobra.Command {
	var (
		rf  refFlags
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "rm <class> <name|id>",
		Short: "Delete everything an object stores",
		Long: `Delete everything an object stores: its KV pairs, SQL tables, alarm and
timers, its files and its inventory entry, like DeleteAll committed on its
own; its instance is reset. There is no undo: export it first to keep a copy.
Asks for confirmation on a terminal; --yes skips the question (and is
required when stdin is not a terminal).`,
		Args: cobra.ExactArgs(2),
		RunE: g.run(func(ctx context.Context, c *admin.Client, cmd *cobra.Command, args []string) error {
			ref, err := rf.ref(ctx, c, args[0], args[1])
			if err != nil {
				return err
			}
			if !yes {
				if err := confirm(cmd, ref); err != nil {
					return err
				}
			}
			if err := c.Remove(ctx, ref); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", ref)
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	rf.add(cmd)
	return cmd
}

// confirm asks on a terminal whether to remove ref.
func confirm(cmd *cobra.Command, ref admin.Ref) error {
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !terminal(in) {
		return errors.New("refusing to remove without --yes when stdin is not a terminal")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Remove %s and everything it stores? [y/N] ", ref)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not removed")
	}
	return nil
}

// terminal reports whether f is a character device, such as a terminal.
func terminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
