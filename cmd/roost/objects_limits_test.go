package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// postSQL posts q to the admin SQL route of counter/name and returns the
// answer's status and body, read into dst as it arrives.
func postSQL(t testing.TB, srv *httptest.Server, name, q string, dst io.Writer) (int, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "max_rows": 10000})
	resp, err := srv.Client().Post(srv.URL+"/_roost/objects/counter/"+name+"/sql", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(dst, resp.Body)
	return resp.StatusCode, err
}

// zeroRows is SQL whose n rows each hold a text of 2,000,000 NUL bytes
// (valid UTF-8, so each is sent as a 12 MB JSON string of \u0000 escapes).
func zeroRows(n int) string {
	return "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + strconv.Itoa(n) + ") SELECT i, zeroblob(2000000) FROM c"
}

// heapPeak samples the heap in use until stop is called, and returns its
// peak then.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// countingWriter counts what it is given and keeps only its end.
type countingWriter struct {
	n    int64
	tail []byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.tail = append(w.tail, p[max(len(p)-256, 0):]...)
	w.tail = w.tail[max(len(w.tail)-256, 0):]
	return len(p), nil
}

// Not parallel: it measures the process's heap while the server streams.
func TestObjects_SQLStreamsLargeResultsInBoundedMemory(t *testing.T) {
	// No time bound: under the race detector the answer takes a while.
	srv, _ := serveAdmin(t, roost.Config{Admin: roost.AdminConfig{SQLMaxBytes: 1 << 40, SQLTimeout: -1}})
	increment(t, srv, "z", 1)
	const rows = 24 // 288 MB of JSON
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := heapPeak()
	var got countingWriter
	status, err := postSQL(t, srv, "z", zeroRows(rows), &got)
	peak := stop()
	if err != nil || status != http.StatusOK {
		t.Fatalf("SQL: %d %v", status, err)
	}
	if want := int64(rows) * 12_000_000; got.n < want || !strings.HasSuffix(string(got.tail), `],"rows_affected":0}`+"\n") {
		t.Fatalf("answer of %d bytes ending %q; want over %d, complete", got.n, got.tail, want)
	}
	// One row is 2 MB as read and 12 MB as JSON; the whole answer is 288 MB.
	grew := int64(peak) - int64(base.HeapInuse)
	t.Logf("answer %d MB; heap in use %d MB before, peak %d MB (+%d MB)", got.n>>20, base.HeapInuse>>20, peak>>20, grew>>20)
	if grew > 100<<20 {
		t.Fatalf("the heap grew by %d MB while streaming a %d MB answer: want under 100 MB", grew>>20, got.n>>20)
	}
}

func TestObjects_SQLAnswerIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	srv, _ := serveAdmin(t, roost.Config{Admin: roost.AdminConfig{SQLMaxBytes: 30 << 20, SQLTimeout: -1}})
	increment(t, srv, "z", 1)
	var body bytes.Buffer
	status, err := postSQL(t, srv, "z", zeroRows(40), &body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("SQL: %d %v", status, err)
	}
	var res struct {
		Rows        [][]any `json:"rows"`
		Truncated   bool    `json:"truncated"`
		TruncatedBy string  `json:"truncated_by"`
		Error       any     `json:"error"`
	}
	if err := json.Unmarshal(body.Bytes(), &res); err != nil {
		t.Fatalf("answer of %d bytes is not JSON: %v", body.Len(), err)
	}
	if len(res.Rows) != 2 || !res.Truncated || res.TruncatedBy != "max_bytes" || res.Error != nil || body.Len() > 30<<20+4096 {
		t.Fatalf("answer: %d bytes, %d rows, truncated %t by %q, error %v; want 2 rows of 12 MB, truncated by max_bytes",
			body.Len(), len(res.Rows), res.Truncated, res.TruncatedBy, res.Error)
	}
	// The CLI says which bound cut the rows, and how to get under it.
	out := mustCLI(t, "objects", "sql", "counter", "z", zeroRows(40), "--server="+srv.URL)
	if !strings.Contains(out, "(2 rows)") || !strings.Contains(out, "--admin-sql-max-bytes") {
		t.Fatalf("CLI output lacks the row count or the bound:\n%.300s", out)
	}
}

// infinite is a query that never ends: SQLite counts forever.
const infinite = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c"

func TestObjects_SQLTimeoutInterruptsTheStatementAndTheObjectServesOn(t *testing.T) {
	t.Parallel()
	srv, _ := serveAdmin(t, roost.Config{Admin: roost.AdminConfig{SQLTimeout: 500 * time.Millisecond}})
	increment(t, srv, "busy", 1)

	// Over HTTP: 504 with code timeout. Before the bound, the statement ran
	// until the client gave up.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"query": infinite})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/_roost/objects/counter/busy/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the infinite query was not stopped by the server: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), `"code":"timeout"`) {
		t.Fatalf("infinite query: %s %s, want 504 timeout", resp.Status, b)
	}

	// Through the CLI, while the object's own traffic waits its turn: the
	// increments are served once the statement is interrupted.
	var wg sync.WaitGroup
	var cliErr error
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := newRootCmd()
		cmd.SetArgs([]string{"objects", "sql", "counter", "busy", infinite, "--server=" + srv.URL})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cliErr = cmd.ExecuteContext(ctx)
	})
	increment(t, srv, "busy", 1)
	wg.Wait()
	if cliErr == nil || !strings.HasPrefix(cliErr.Error(), "timeout: ") || !strings.Contains(cliErr.Error(), "--admin-sql-timeout") {
		t.Fatalf("CLI error %v, want timeout naming --admin-sql-timeout", cliErr)
	}
	if v := counterValue(t, srv, "busy"); v != 2 {
		t.Fatalf("counter = %d after the timeouts, want 2", v)
	}
	// A statement that times out after its first rows went out: the
	// status was 200, and the answer ends with the error, which the CLI
	// reports.
	const late = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i, randomblob(1000) FROM c WHERE i <= 1000 OR i < 0"
	var answer bytes.Buffer
	status, err := postSQL(t, srv, "busy", late, &answer)
	if err != nil || status != http.StatusOK || !bytes.HasSuffix(answer.Bytes(), []byte("}}\n")) ||
		!bytes.Contains(answer.Bytes(), []byte(`],"error":{"code":"timeout","message":`)) {
		t.Fatalf("late timeout: %d %v, answer of %d bytes ending %q", status, err, answer.Len(), answer.Bytes()[max(answer.Len()-200, 0):])
	}
	if _, _, err := roostCLI(t, "objects", "sql", "counter", "busy", late, "--server="+srv.URL); err == nil || !strings.HasPrefix(err.Error(), "timeout: ") {
		t.Fatalf("CLI on a late timeout: %v, want timeout", err)
	}
	// A write that times out commits nothing.
	_, _, err = roostCLI(t, "objects", "sql", "counter", "busy", "UPDATE counter SET value = ("+infinite+")", "--write", "--server="+srv.URL)
	if err == nil || !strings.HasPrefix(err.Error(), "timeout: ") {
		t.Fatalf("write that runs forever: %v, want timeout", err)
	}
	if v := counterValue(t, srv, "busy"); v != 2 {
		t.Fatalf("counter = %d after a write that timed out, want 2", v)
	}
}

// zeros is an endless upload of zero bytes that counts what was read of
// it, up to a cap (so that a server that reads it all ends too).
type zeros struct {
	prefix []byte
	read   atomic.Int64
	cap    int64
}

func (z *zeros) Read(p []byte) (int, error) {
	n := z.read.Load()
	if n >= z.cap {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.cap-n)]
	clear(p)
	if n < int64(len(z.prefix)) {
		copy(p, z.prefix[n:])
	}
	z.read.Add(int64(len(p)))
	return len(p), nil
}

// importBody puts body to the import route of counter/name.
func importBody(t testing.TB, srv *httptest.Server, name string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", srv.URL+"/_roost/objects/counter/"+name+"/import", body)
	req.Header.Set("Content-Type", "application/vnd.sqlite3")
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestObjects_ImportChecksTheHeaderFirstAndBoundsTheUpload(t *testing.T) {
	t.Parallel()
	srv, _ := serveAdmin(t, roost.Config{Admin: roost.AdminConfig{ImportMaxBytes: 1 << 20}})
	increment(t, srv, "src", 3)
	file := filepath.Join(t.TempDir(), "src.sqlite")
	mustCLI(t, "objects", "export", "counter", "src", "-o", file, "--server="+srv.URL)
	header, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	header = header[:100]
	const limit = 256 << 20 // what the server could read at most

	// Not a database: refused after its first bytes, not after gigabytes.
	z := &zeros{cap: limit}
	status, body := importBody(t, srv, "x", z)
	if status != http.StatusBadRequest || !strings.Contains(body, "not a SQLite database") || z.read.Load() > 16<<20 {
		t.Fatalf("import of zeros: %d %s after reading %d bytes; want 400 not a SQLite database, early", status, body, z.read.Load())
	}
	// A database's header, then more than the bound: refused once past it.
	z = &zeros{prefix: header, cap: limit}
	status, body = importBody(t, srv, "x", z)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "--admin-import-max-bytes") || z.read.Load() > 16<<20 {
		t.Fatalf("import over the bound: %d %s after reading %d bytes; want 413 naming --admin-import-max-bytes, early", status, body, z.read.Load())
	}
	// A header that says the database is bigger than the bound: refused at once.
	big := bytes.Clone(header)
	copy(big[28:32], []byte{0, 1, 0, 0}) // 65,536 pages of 4 KiB
	z = &zeros{prefix: big, cap: limit}
	status, body = importBody(t, srv, "x", z)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "its header says 268435456") || z.read.Load() > 16<<20 {
		t.Fatalf("import of a big database: %d %s after reading %d bytes", status, body, z.read.Load())
	}
	// The real file goes in.
	mustCLI(t, "objects", "import", "counter", "copy", file, "--server="+srv.URL)
	if v := counterValue(t, srv, "copy"); v != 3 {
		t.Fatalf("imported counter = %d, want 3", v)
	}
}

func TestObjects_ImportNamesABadFileNotTheServer(t *testing.T) {
	t.Parallel()
	srv, _ := serveAdmin(t, roost.Config{MaxDatabaseSize: 64 << 20}) // bounds what a server that reads /dev/zero whole writes
	s := "--server=" + srv.URL
	dir := t.TempDir()
	_, _, err := roostCLI(t, "objects", "import", "counter", "x", dir, s)
	if err == nil || !strings.Contains(err.Error(), "is a directory") || strings.Contains(err.Error(), "is it running") {
		t.Fatalf("import of a directory: %v; want it named as a directory, not as the server", err)
	}
	start := time.Now()
	_, _, err = roostCLI(t, "objects", "import", "counter", "x", "/dev/zero", s)
	if err == nil || !strings.HasPrefix(err.Error(), "bad_request: ") || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("import of /dev/zero: %v; want bad_request: not a SQLite database", err)
	}
	t.Logf("import of /dev/zero failed after %s", time.Since(start).Round(time.Millisecond))
}

// TestObjects_SQLClientThatStopsReadingDoesNotHoldTheObject: the rows are
// written to the client in the object's turn, so each write is bounded by
// the SQL timeout: a client that never reads its answer fails it, and the
// object's other events go on.
func TestObjects_SQLClientThatStopsReadingDoesNotHoldTheObject(t *testing.T) {
	t.Parallel()
	srv, _ := serveAdmin(t, roost.Config{Admin: roost.AdminConfig{SQLTimeout: 500 * time.Millisecond, SQLMaxBytes: 1 << 30}})
	increment(t, srv, "held", 1)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body, _ := json.Marshal(map[string]any{"query": zeroRows(40)}) // 480 MB of answer
	fmt.Fprintf(conn, "POST /_roost/objects/counter/held/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// The connection is never read. The object serves the next events once
	// the stalled write times out.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/counter/held/increment", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("increment while a client stalls on its SQL answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("increment while a client stalls on its SQL answer: %s", resp.Status)
	}
}
