package roosttest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// TB is the part of [testing.TB] that the harness uses, and that a test's
// own helpers may use too. *testing.T, *testing.B and *testing.F satisfy
// it, so [New] takes the t of any test, benchmark or fuzz target; [Run]
// passes one to code that runs outside go test.
type TB interface {
	Cleanup(fn func())
	Context() context.Context
	Error(args ...any)
	Errorf(format string, args ...any)
	Failed() bool
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Helper()
	Log(args ...any)
	Logf(format string, args ...any)
	Name() string
	Output() io.Writer
	TempDir() string
}

// Run runs fn as a test outside go test, in a runnable example or a small
// program, and reports whether it passed. It returns once fn and its
// cleanups have ended. The t it passes to fn behaves as a *testing.T does:
//
//   - fn runs on a goroutine of its own. Fatal and Fatalf print their
//     message and end that goroutine (runtime.Goexit); call them only from
//     fn's goroutine, as with testing. Error and Errorf print their message,
//     mark fn failed and let it go on.
//   - Log, Logf and everything written to Output go to standard error, never
//     to standard output, so they do not disturb an example's // Output.
//     Each message is prefixed with Name, the name of the function that
//     called Run.
//   - TempDir returns a new directory at each call; they are all removed at
//     the end.
//   - Context is canceled just before the cleanups run. Cleanup functions run
//     when fn ends, even if it failed, last registered first; a Fatal in one
//     ends only that one.
//   - Helper does nothing.
//
// If fn panics, Run prints the panic and its stack, runs the cleanups (so the
// app of an [Env] is closed and its directory removed), then panics with the
// same value.
//
//	passed := roosttest.Run(func(t roosttest.TB) {
//		env := roosttest.New(t, setup)
//		_, body := env.HTTP("GET", "/counter/a", "")
//		fmt.Print(body)
//	})
func Run(fn func(t TB)) bool {
	name := "roosttest.Run"
	if pc, _, _, ok := runtime.Caller(1); ok {
		if f := runtime.FuncForPC(pc); f != nil {
			name = f.Name()[strings.LastIndex(f.Name(), "/")+1:]
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{name: name, ctx: ctx}
	panicked, value := r.call(func() { fn(r) }, true)
	cancel()
	r.cleanup()
	if panicked {
		panic(value)
	}
	return !r.Failed()
}

// runner is the TB of [Run].
type runner struct {
	name string
	ctx  context.Context

	mu       sync.Mutex // guards the fields below
	failed   bool
	cleanups []func()
}

var _ TB = (*runner)(nil)

// call runs fn on a goroutine of its own and waits for it to end. It reports
// a panic (and prints it) instead of letting it crash the program. If
// checkExit, fn ending without returning and without a Fatal fails the run,
// as a test that calls runtime.Goexit itself fails.
func (r *runner) call(fn func(), checkExit bool) (panicked bool, value any) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		returned := false
		defer func() {
			if returned {
				return
			}
			// recover is nil after runtime.Goexit (Fatal) and non-nil after a
			// panic, even panic(nil), since Go 1.21.
			if value = recover(); value != nil {
				panicked = true
				r.Errorf("panic: %v\n%s", value, debug.Stack())
			} else if checkExit && !r.Failed() {
				r.Error("the test called runtime.Goexit")
			}
		}()
		fn()
		returned = true
	}()
	<-done
	return panicked, value
}

// cleanup runs the cleanup functions, last registered first, each on a
// goroutine of its own; those that a cleanup registers run too.
func (r *runner) cleanup() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		fn := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		if panicked, value := r.call(fn, false); panicked {
			defer panic(value) // after the other cleanups, as testing does
		}
	}
}

func (r *runner) Cleanup(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, fn)
}

func (r *runner) Context() context.Context { return r.ctx }

func (r *runner) Error(args ...any) {
	r.Log(args...)
	r.fail()
}

func (r *runner) Errorf(format string, args ...any) {
	r.Logf(format, args...)
	r.fail()
}

func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runner) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *runner) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *runner) Helper() {}

func (r *runner) Log(args ...any) { r.print(fmt.Sprintln(args...)) }

func (r *runner) Logf(format string, args ...any) { r.print(fmt.Sprintf(format, args...)) }

func (r *runner) Name() string { return r.name }

func (r *runner) Output() io.Writer { return stderr{} }

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "roosttest")
	if err != nil {
		r.Fatalf("TempDir: %v", err)
	}
	// Registered before the cleanups of the code that uses the directory,
	// so it runs after them.
	r.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			r.Errorf("TempDir: remove %s: %v", dir, err)
		}
	})
	return dir
}

func (r *runner) fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

// print writes msg to standard error, on a line of its own after the name.
func (r *runner) print(msg string) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", r.name, strings.TrimSuffix(msg, "\n"))
}

// stderr writes to the standard error the process has at each write.
type stderr struct{}

func (stderr) Write(p []byte) (int, error) { return os.Stderr.Write(p) }
