package main

// The output of `roost objects`: tables for people, JSON for programs.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/roost-dev/roost/internal/admin"
)

func printObjects(w io.Writer, objs []admin.Object, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tID\tNAME\tSIZE\tCREATED\tLAST ACTIVE\tTIMERS\tNEXT WAKE")
	for _, o := range objs {
		id := o.ID.String()
		if !wide {
			id = id[:minIDPrefix] // what the other commands take
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", o.Class, id, cell(o.Name, 40), size(o.Size),
			when(o.Created), when(o.LastActive), o.Timers, when(o.NextWake))
	}
	tw.Flush()
}

func printInspection(w io.Writer, in *admin.Inspection, keysOnly bool) {
	ob := in.Object
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "class\t%s\nid\t%s\n", ob.Class, ob.ID)
	if ob.Name != "" {
		fmt.Fprintf(tw, "name\t%s\n", cell(ob.Name, 200))
	}
	fmt.Fprintf(tw, "size\t%s\ncreated\t%s\nlast active\t%s\n", size(ob.Size), when(ob.Created), when(ob.LastActive))
	fmt.Fprintf(tw, "timers\t%d (next wake %s)\n", ob.Timers, when(ob.NextWake))
	tw.Flush()
	printKV(w, in, keysOnly)
	printTables(w, in.Tables)
	printTimers(w, in.Timers)
}

func printKV(w io.Writer, in *admin.Inspection, keysOnly bool) {
	fmt.Fprintf(w, "\nKV pairs (%d shown)\n", len(in.KV))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if keysOnly {
		fmt.Fprintln(tw, "KEY\tSIZE")
	} else {
		fmt.Fprintln(tw, "KEY\tSIZE\tVALUE")
	}
	for _, kv := range in.KV {
		key := cell(kv.Key, 60)
		if kv.KeyEncoding == admin.EncodingBase64 {
			key = "base64:" + key
		}
		fmt.Fprintf(tw, "%s\t%s", key, size(int64(kv.Size)))
		if !keysOnly {
			fmt.Fprintf(tw, "\t%s", kvValue(kv))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if in.KVNext != "" {
		fmt.Fprintf(w, "more KV pairs: add --cursor %s\n", in.KVNext)
	}
}

func printTables(w io.Writer, tables []admin.Table) {
	fmt.Fprintf(w, "\nSQL (%d)\n", len(tables))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tROWS")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", t.Type, cell(t.Name, 60), t.Rows)
	}
	tw.Flush()
}

func printTimers(w io.Writer, timers []admin.Timer) {
	fmt.Fprintf(w, "\nalarm and timers (%d)\n", len(timers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tNEXT\tSCHEDULED\tATTEMPT\tSPEC\tPAYLOAD")
	for _, t := range timers {
		name := cell(t.Name, 40)
		if t.Name == "" {
			name = "(alarm)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, t.Kind, when(t.Next), when(t.Scheduled), t.Attempt,
			t.Spec, size(int64(t.PayloadSize)))
	}
	tw.Flush()
}

// kvValue is a value's cell: a quoted string, or base64 for bytes.
func kvValue(kv admin.KV) string {
	if kv.Value == nil {
		return ""
	}
	v := *kv.Value
	cut := kv.Truncated
	if len(v) > 80 {
		v, cut = truncate(v, 80), true
	}
	if kv.Encoding == admin.EncodingBase64 {
		v = "base64:" + v
	} else {
		v = strconv.Quote(v)
	}
	if cut {
		v += "…"
	}
	return v
}

func printResult(w io.Writer, res *admin.QueryResult, write bool) {
	if len(res.Columns) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = sqlValue(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		fmt.Fprintf(w, "(%d rows)\n", len(res.Rows))
	}
	switch {
	case res.TruncatedBy == admin.TruncatedByBytes:
		fmt.Fprintf(w, "(more rows not shown: the answer reached the server's bound on its size, roost serve --admin-sql-max-bytes; select fewer or smaller columns, such as length(x) or substr(x, 1, 100))\n")
	case res.Truncated:
		fmt.Fprintf(w, "(more rows not shown: raise --max-rows)\n")
	}
	if write {
		fmt.Fprintf(w, "%d rows changed\n", res.RowsAffected)
	}
}

// sqlValue is a value's cell, in SQLite's literal syntax for NULL and
// blobs.
func sqlValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		s := "x'" + hex.EncodeToString(v) + "'"
		if len(s) > 83 {
			s = s[:80] + "…"
		}
		return s
	case string:
		return cell(v, 80)
	}
	return fmt.Sprint(v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cell shows s in a table cell: control characters escaped, cut to max
// characters.
func cell(s string, max int) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) || !utf8.ValidString(s) {
		s = strings.Trim(strconv.Quote(s), `"`)
	}
	if utf8.RuneCountInString(s) > max {
		return truncate(s, max-1) + "…"
	}
	return s
}

// truncate cuts s to its first n characters.
func truncate(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// size is n bytes in binary units.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// when shows a time in UTC to the second; "-" if it is unknown or none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
