package proc

import (
	"os"
	"strings"
	"sync"
)

// tailBytes is how much of a process's latest output Tail keeps.
const tailBytes = 64 << 10

// output keeps what a process wrote: every line goes to its log file and to
// a bounded tail. It is safe for concurrent use.
type output struct {
	mu   sync.Mutex // guards the fields below
	file *os.File   // the whole log; nil once closed
	tail []byte     // the latest output, at most 2*tailBytes
	cut  bool       // whether older output was dropped from tail
}

// write appends one line to the file and to the tail.
func (o *output) write(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file != nil {
		o.file.WriteString(line) // a lost log line must not fail the test
	}
	o.tail = append(o.tail, line...)
	if len(o.tail) > 2*tailBytes { // trimming now and then keeps appends cheap
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailBytes:]...)
		o.cut = true
	}
}

// String returns the tail, at most about tailBytes, starting at a line.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, cut := string(o.tail), o.cut
	if len(s) > tailBytes {
		s, cut = s[len(s)-tailBytes:], true
	}
	if cut {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = "[…]\n" + s[i+1:]
		}
	}
	return s
}

// close closes the log file.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
}
