package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// Client calls the admin API of a running server. Errors the server answers
// with are *errcode.Error values with the server's code; errors reaching
// the server have no code.
type Client struct {
	base  string // scheme://host[:port][/path], without a trailing slash
	token string
	hc    *http.Client
}

// NewClient returns a client of the server at base URL server (such as
// http://127.0.0.1:8080) that sends token, if not empty, as a bearer token.
// hc nil means http.DefaultClient.
func NewClient(server, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errcode.New(errcode.BadRequest, "server %s: want a URL such as http://127.0.0.1:8080", quote(server))
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/"), token: token, hc: hc}, nil
}

// List returns a page of the server's objects.
func (c *Client) List(ctx context.Context, o ListOptions) (Page, error) {
	q := url.Values{}
	set(q, "class", o.Class)
	set(q, "sort", o.Sort)
	set(q, "cursor", o.Cursor)
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Stale {
		q.Set("stale", "true")
	}
	var page Page
	err := c.getJSON(ctx, objectsPath, q, &page)
	return page, err
}

// Inspect returns what the object stores.
func (c *Client) Inspect(ctx context.Context, ref Ref, o InspectOptions) (*Inspection, error) {
	q := url.Values{}
	set(q, "prefix", o.Prefix)
	set(q, "start", o.Start)
	set(q, "cursor", o.Cursor)
	if o.KeysOnly {
		q.Set("keys_only", "true")
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.ValueBytes != 0 {
		q.Set("value_bytes", strconv.Itoa(o.ValueBytes))
	}
	var in Inspection
	if err := c.getJSON(ctx, objectPath(ref, ""), q, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// SQL runs q on the object's database.
func (c *Client) SQL(ctx context.Context, ref Ref, q Query) (*QueryResult, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, errcode.New(errcode.BadRequest, "SQL arguments: %v", err)
	}
	resp, err := c.do(ctx, http.MethodPost, objectPath(ref, "/sql"), nil, bytes.NewReader(body), "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the server's answer: %w", err)
	}
	// An answer streamed as the statement ran reports a failure after its
	// first rows in a last "error" member.
	var failed struct {
		Error *struct {
			Code    errcode.Code `json:"code"`
			Message string       `json:"message"`
		} `json:"error"`
	}
	var res QueryResult
	if err := json.Unmarshal(b, &failed); err == nil && failed.Error != nil {
		return nil, &errcode.Error{Code: failed.Error.Code, Message: failed.Error.Message}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("read the server's answer: %w", err)
	}
	return &res, nil
}

// Export writes a consistent copy of the object's database to w and
// returns its size. A copy cut short fails (the server aborts the
// response), so only a nil error means that w holds the whole file.
func (c *Client) Export(ctx context.Context, ref Ref, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, objectPath(ref, "/export"), nil, nil, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("export %s: copy cut short after %d bytes: %w", ref, n, err)
	}
	return n, nil
}

// Import replaces the object's database with the SQLite file read from r.
// Unless force is set, it fails with code conflict if the object holds
// data. If r is an *os.File, its size is sent ahead.
func (c *Client) Import(ctx context.Context, ref Ref, r io.Reader, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	resp, err := c.do(ctx, http.MethodPut, objectPath(ref, "/import"), q, r, "application/vnd.sqlite3")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Remove deletes everything the object stores.
func (c *Client) Remove(ctx context.Context, ref Ref) error {
	resp, err := c.do(ctx, http.MethodDelete, objectPath(ref, ""), nil, nil, "")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// objectPath is the escaped path of an object's operation op ("" or
// "/sql", ...). An object named "id" can only be reached by its ID: the
// gateway's rules read /{class}/id/ as the start of an ID.
func objectPath(ref Ref, op string) string {
	p := objectsPath + "/" + url.PathEscape(ref.Class) + "/"
	switch ref.Name {
	case "":
		p += "id/" + ref.ID.String()
	case "id":
		p += "id/" + ids.FromName(ref.Class, ref.Name).String()
	default:
		p += escapeName(ref.Name)
	}
	return p + op
}

// escapeName percent-encodes a name as one path segment. Dots are encoded
// too: a segment "." or ".." would be cleaned away by HTTP routers.
func escapeName(name string) string {
	return strings.ReplaceAll(url.PathEscape(name), ".", "%2E")
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// Classes returns the server's classes and their RPC methods.
func (c *Client) Classes(ctx context.Context) ([]Class, error) {
	var list ClassList
	err := c.getJSON(ctx, classesPath, nil, &list)
	return list.Classes, err
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	return nil
}

// do sends a request and returns its answer if it is a success; otherwise
// it returns the error the server answered with.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var src *bodyReader
	switch body.(type) {
	case nil, *bytes.Reader: // cannot fail; NewRequest sets its length
	default:
		src = &bodyReader{r: body}
		if f, ok := body.(*os.File); ok {
			src.name = f.Name()
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, src.reader(body))
	if err != nil {
		return nil, err
	}
	if f, ok := body.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			req.ContentLength = st.Size()
			req.Body = io.NopCloser(src) // the caller owns f
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if src != nil && src.err != nil { // our side failed, not the server
			return nil, src.err
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("reach the Roost server at %s: %w (is it running? set --server or ROOST_SERVER)", c.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, DecodeError(resp)
}

// bodyReader is a request body that keeps its read error: a file that
// cannot be read is the caller's problem, not a server that cannot be
// reached.
type bodyReader struct {
	r    io.Reader
	name string // the file's name, if it is one
	err  error
}

// reader returns b as the body of a request, or body if b is nil.
func (b *bodyReader) reader(body io.Reader) io.Reader {
	if b == nil {
		return body
	}
	return b
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = fmt.Errorf("read %s: %w", cmp.Or(b.name, "the request body"), err)
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			b.err = fmt.Errorf("read %s: %w", pe.Path, pe.Err) // the path once
		}
	}
	return n, err
}

// DecodeError reads a Roost server's JSON error from resp. An answer that
// is not one (a proxy's error page, say) becomes an error with a code for
// its status.
func DecodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error struct {
			Code    errcode.Code `json:"code"`
			Message string       `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		return &errcode.Error{Code: body.Error.Code, Message: body.Error.Message}
	}
	code := errcode.Internal
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		code = errcode.Unauthorized
	case http.StatusForbidden:
		code = errcode.Forbidden
	case http.StatusNotFound:
		code = errcode.NotFound
	}
	return &errcode.Error{Code: code, Message: fmt.Sprintf("the server answered %s: %s", resp.Status, quote(strings.TrimSpace(string(b))))}
}
