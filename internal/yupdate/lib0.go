package yupdate

// Reader reads lib0's encoding, which y-protocols' messages use around
// updates and state vectors: variable-length integers and byte strings.
// The first error sticks; check Err after the reads.
type Reader struct{ d decoder }

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{decoder{b: b}} }

// Uint reads a variable-length unsigned integer of at most 53 bits.
func (r *Reader) Uint() uint64 { return r.d.uint() }

// Count reads a number of elements that each take a byte or more of what
// follows: a count beyond the end is an error.
func (r *Reader) Count() int { return r.d.count() }

// Bytes reads a length-prefixed byte string (a view of the input).
func (r *Reader) Bytes() []byte { return r.d.bytes() }

// Err returns the first error, wrapping ErrMalformed.
func (r *Reader) Err() error { return r.d.err }

// Writer writes lib0's encoding.
type Writer struct{ e encoder }

// Uint writes a variable-length unsigned integer.
func (w *Writer) Uint(n uint64) *Writer { w.e.uint(n); return w }

// Bytes writes a length-prefixed byte string.
func (w *Writer) Bytes(b []byte) *Writer { w.e.bytes(b); return w }

// String writes a length-prefixed string.
func (w *Writer) String(s string) *Writer {
	w.e.uint(uint64(len(s)))
	w.e.b = append(w.e.b, s...)
	return w
}

// Encoded returns what was written.
func (w *Writer) Encoded() []byte { return w.e.b }
