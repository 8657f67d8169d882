package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// ListenTimeout bounds the wait for a process's "listening" line or
	// readiness: generous, for a loaded machine.
	ListenTimeout = 60 * time.Second
	// ExitTimeout bounds the wait for a process to exit after a signal.
	ExitTimeout = 30 * time.Second
)

// Spec says how to run a process.
type Spec struct {
	Path string   // the binary, e.g. from Roost or Build
	Args []string // its arguments
	Env  []string // KEY=value pairs added to the test's environment
	// LogFile receives the process's stdout and stderr, appended (a
	// restarted process adds to its predecessor's). Empty means a new file in
	// t.TempDir().
	LogFile string
	// MaxOpenFiles, when positive, runs the process under `ulimit -n` of
	// that many files (through bash, which execs the binary).
	MaxOpenFiles int
}

// Process is one running (or exited) subprocess of a test.
type Process struct {
	cmd       *exec.Cmd
	name      string // the binary's base name, for messages
	logPath   string
	logStart  int64 // where this run's output begins in the log file
	out       *output
	addr      string        // from the listening line; set before listening closes
	listening chan struct{} // closed at the first "listening" line
	exited    chan struct{} // closed once the output is drained and the process waited for
	err       error         // cmd.Wait's result; read only after exited is closed
}

// Start starts a process as Spawn does and waits for its "listening" log
// line (slog's msg=listening with addr=HOST:PORT), failing the test if it
// exits first or does not log it within ListenTimeout.
func Start(t testing.TB, spec Spec) *Process {
	t.Helper()
	p := Spawn(t, spec)
	p.WaitListening(t)
	return p
}

// Spawn starts a process without waiting for anything. Its output goes to
// its log file and to Tail. A cleanup kills it (SIGKILL) if it still runs
// when the test ends, and waits for it.
func Spawn(t testing.TB, spec Spec) *Process {
	t.Helper()
	cmd, logPath := command(t, spec)
	p := &Process{cmd: cmd, name: filepath.Base(spec.Path), logPath: logPath,
		listening: make(chan struct{}), exited: make(chan struct{})}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.cleanup)
	return p
}

// command prepares the exec.Cmd of spec and the path of its log file.
func command(t testing.TB, spec Spec) (*exec.Cmd, string) {
	path, args := spec.Path, spec.Args
	if spec.MaxOpenFiles > 0 {
		script := "ulimit -n " + strconv.Itoa(spec.MaxOpenFiles) + ` && exec "$0" "$@"`
		path, args = "bash", append([]string{"-c", script, spec.Path}, args...)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	logPath := spec.LogFile
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), filepath.Base(spec.Path)+".log")
	}
	return cmd, logPath
}

// start opens the log, starts the process and the goroutine that drains
// its output.
func (p *Process) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open process log: %w", err)
	}
	if fi, err := f.Stat(); err == nil {
		p.logStart = fi.Size() // a log shared by the runs of a restarted node
	}
	p.out = &output{file: f}
	r, w, err := os.Pipe()
	if err != nil {
		f.Close()
		return fmt.Errorf("output pipe: %w", err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	err = p.cmd.Start()
	w.Close() // the child holds its own copy
	if err != nil {
		r.Close()
		f.Close()
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	go p.drain(r)
	return nil
}

// drain copies the output until every writer closed it, notes the
// listening address, then waits for the process.
func (p *Process) drain(r *os.File) {
	defer close(p.exited)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			p.out.write(line)
			p.noteListening(line)
		}
		if err != nil {
			break
		}
	}
	r.Close()
	p.err = p.cmd.Wait()
	p.out.close()
}

// noteListening records the address of the first listening line.
func (p *Process) noteListening(line string) {
	select {
	case <-p.listening:
		return
	default:
	}
	if a, ok := ListenAddr(line); ok {
		p.addr = a
		close(p.listening)
	}
}

// ListenAddr returns the addr= value of slog's "listening" line, in its text
// or JSON form.
func ListenAddr(line string) (string, bool) {
	if !strings.Contains(line, "msg=listening") && !strings.Contains(line, `"msg":"listening"`) {
		return "", false
	}
	for f := range strings.FieldsFuncSeq(line, func(r rune) bool { return r == ' ' || r == ',' || r == '{' || r == '}' }) {
		f = strings.Replace(f, `"addr":`, "addr=", 1)
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			return strings.Trim(a, `"`), true
		}
	}
	return "", false
}

// cleanup kills the process if it still runs and waits for it.
func (p *Process) cleanup() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// WaitListening waits for the "listening" line and returns its address,
// failing the test if the process exits first or within ListenTimeout logs
// none.
func (p *Process) WaitListening(t testing.TB) string {
	t.Helper()
	select {
	case <-p.listening:
		return p.addr
	case <-p.exited:
		t.Fatalf("%s exited before listening (%v); output:\n%s", p, p.err, p.Tail())
	case <-time.After(ListenTimeout):
		t.Fatalf("%s logged no listening address within %v; output:\n%s", p, ListenTimeout, p.Tail())
	}
	return ""
}

// Addr returns the address of the "listening" line, or "" before it.
func (p *Process) Addr() string {
	select {
	case <-p.listening:
		return p.addr
	default:
		return ""
	}
}

// URL returns "http://" and Addr.
func (p *Process) URL() string { return "http://" + p.Addr() }

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// String names the process for messages: binary and pid.
func (p *Process) String() string {
	return fmt.Sprintf("%s (pid %d)", p.name, p.PID())
}

// Tail returns the latest output (about 64 KiB at most), for failure
// messages.
func (p *Process) Tail() string { return p.out.String() }

// LogPath returns the path of the file holding the whole output.
func (p *Process) LogPath() string { return p.logPath }

// Log returns the process's whole output so far (in a log file that
// several runs append to, this run's part), failing the test if the log
// file cannot be read.
func (p *Process) Log(t testing.TB) string {
	t.Helper()
	b, err := p.readLog()
	if err != nil {
		t.Fatalf("read the log of %s: %v", p, err)
	}
	return string(b)
}

// Output returns the process's whole output so far (as Log), or a line
// saying why the log file could not be read: for searches and messages
// where failing the test is not wanted.
func (p *Process) Output() string {
	b, err := p.readLog()
	if err != nil {
		return fmt.Sprintf("(read the log of %s: %v)\n", p, err)
	}
	return string(b)
}

// readLog reads this run's part of the log file.
func (p *Process) readLog() ([]byte, error) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil, err
	}
	return b[min(p.logStart, int64(len(b))):], nil
}

// Exited returns a channel closed once the process has exited and its
// output is drained.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err returns how the process ended (exec.Cmd.Wait's result). Call it only
// after Exited is closed.
func (p *Process) Err() error { return p.err }

// Signal sends sig, failing the test if it cannot be sent (the process
// has exited).
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v (did it exit on its own?); output:\n%s", sig, p, err, p.Tail())
	}
}

// Wait waits up to d for the process to exit and returns Err. If it is
// still running then, Wait kills it and fails the test.
func (p *Process) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		p.cleanup()
		t.Fatalf("%s did not exit within %v; output:\n%s", p, d, p.Tail())
		return nil
	}
}

// Kill sends SIGKILL and waits for the process to die of it.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGKILL)
	err := p.Wait(t, ExitTimeout)
	if s, ok := signaled(err); !ok || s != syscall.SIGKILL {
		t.Fatalf("%s ended with %v, want killed by SIGKILL; output:\n%s", p, err, p.Tail())
	}
}

// Term sends SIGTERM and requires a clean exit (status 0) within
// ExitTimeout.
func (p *Process) Term(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	if err := p.Wait(t, ExitTimeout); err != nil {
		t.Fatalf("%s exited with %v after SIGTERM, want status 0; output:\n%s", p, err, p.Tail())
	}
}

// signaled returns the signal that ended a process, from Wait's error.
func signaled(err error) (syscall.Signal, bool) {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}
