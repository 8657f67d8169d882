package ids

// codedError is an error that carries its stable code (see
// internal/errcode), through the ErrorCode method that errcode.Of looks
// for: a leaf cannot import errcode, so its errors name their code.
type codedError struct{ msg, code string }

func (e *codedError) Error() string { return e.msg }

// ErrorCode returns the error's stable code.
func (e *codedError) ErrorCode() string { return e.code }
