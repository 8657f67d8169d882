package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/roost-dev/roost/internal/errcode"
)

// ErrorCodeHeader carries the code of an error answer written by
// [WriteError].
const ErrorCodeHeader = "Roost-Error-Code"

// ReadError turns an answer that WriteError wrote back into the error it
// reports: a node that forwarded a call to another gives its caller the
// same error, code and message, as the owner did. It returns nil for an
// answer without ErrorCodeHeader (the object's own answer).
func ReadError(resp *http.Response) error {
	code := resp.Header.Get(ErrorCodeHeader)
	if code == "" {
		return nil
	}
	var b errorBody
	_ = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&b)
	if b.Error.Message == "" {
		b.Error.Message = "the owner node answered " + resp.Status
	}
	return &errcode.Error{Code: errcode.Code(code), Message: b.Error.Message}
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

// WriteError answers with {"error":{"code":"…","message":"…"}} and the status
// of the error's code, errcode.Status(errcode.Of(err)). A nil err counts as
// an internal error.
//
// The message is err.Error(), except that an internal error always reads
// "internal error", and a bare context error (one carrying no code of its
// own) reads a fixed sentence: neither may leak Roost's internals. Callers
// log an internal error themselves before writing it. Every 503 answer
// (overloaded, shutting_down, object_reset) carries "Retry-After: 1".
//
// The code is also in the header Roost-Error-Code (ErrorCodeHeader), by
// which a node tells a forwarded call's error from an object's own answer.
//
// WriteError must be called before anything else is written to w.
func WriteError(w http.ResponseWriter, err error) {
	code, msg := ErrorDetail(err)
	status := errcode.Status(code)
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}}) // cannot fail: strings only
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(ErrorCodeHeader, string(code))
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n')) // the client may be gone; nothing to do about it
}

// ErrorDetail returns the code and message a client sees for err, as
// WriteError writes them.
func ErrorDetail(err error) (errcode.Code, string) {
	code := errcode.Of(err)
	if code == "" {
		code = errcode.Internal
	}
	return code, message(code, err)
}

// message is the text a client sees for err, whose code is code.
func message(code errcode.Code, err error) string {
	switch {
	case code == errcode.Internal:
		return "internal error"
	case code == errcode.Timeout && !errcode.Coded(err):
		return "the deadline passed before the request finished"
	case code == errcode.Canceled && !errcode.Coded(err):
		return "the request was canceled"
	}
	return err.Error()
}

// ErrorObject returns the {"code":"…","message":"…"} object that WriteError
// writes for err, for an answer that must report an error after its status
// went out (a streamed result that fails midway).
func ErrorObject(err error) []byte {
	code := errcode.Of(err)
	if code == "" {
		code = errcode.Internal
	}
	b, _ := json.Marshal(errorDetail{Code: code, Message: message(code, err)}) // cannot fail: strings only
	return b
}
