package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/editor"
	"github.com/roost-dev/roost/yjs"
)

// Two pages of the editor demo edit one Yjs document through the yjs
// class: each sees the other's text and name.
func TestEditor_TwoPagesEditOneDocument(t *testing.T) {
	t.Parallel()
	url := startEditor(t) + "/editor?doc=browser-test"
	browser := newBrowser(t)
	a, b := newTab(t, browser, "a"), newTab(t, browser, "b")
	for _, p := range []*tab{a, b} {
		p.do("open the editor", chromedp.Navigate(url))
		p.waitEditor("status", "connected")
	}

	a.do("type", chromedp.SendKeys(chromedp.ID("text"), "hello from a"))
	b.waitEditor("text", "hello from a")
	b.do("type", chromedp.Focus(chromedp.ID("text")), chromedp.Evaluate[chromedp.Void](
		`document.getElementById('text').setSelectionRange(0, 0)`), chromedp.SendKeys(chromedp.ID("text"), "b: "))
	a.waitEditor("text", "b: hello from a")
	b.waitEditor("text", "b: hello from a")

	// An emoji is two UTF-16 units; replacing it with one of the same first
	// unit must not split it (Y.Text would store U+FFFD).
	a.typeOver("", " 😀")
	b.waitEditor("text", "b: hello from a 😀")
	b.typeOver("😀", "💀")
	a.waitEditor("text", "b: hello from a 💀")
	b.waitEditor("text", "b: hello from a 💀")

	// Each page lists both people: itself first, then the other.
	nameA, nameB := a.editorValue("me"), b.editorValue("me")
	a.waitEditor("people", fmt.Sprintf("%s,%s", nameA, nameB))
	b.waitEditor("people", fmt.Sprintf("%s,%s", nameB, nameA))
}

// startEditor serves an app with the yjs class and the editor page on
// 127.0.0.1 and returns its URL.
func startEditor(t *testing.T) string {
	t.Helper()
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		app.Close(ctx)
	})
	yjs.Register(app, "yjs", nil)
	editor.Register(app)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// typeOver selects the last occurrence of old in the textarea (its end if
// old is empty) and types keys over it.
func (p *tab) typeOver(old, keys string) {
	p.t.Helper()
	sel := fmt.Sprintf(`(() => {
	const area = document.getElementById('text');
	const at = area.value.lastIndexOf(%q);
	if (at < 0) throw new Error('no ' + %[1]q + ' in the text');
	area.setSelectionRange(at, at + %[1]q.length);
})()`, old)
	p.do("type "+keys+" over "+old, chromedp.Focus(chromedp.ID("text")),
		chromedp.Evaluate[chromedp.Void](sel), chromedp.SendKeys(chromedp.ID("text"), keys))
}

// pollEvery is how often waitEditor reads the page: a textarea's value
// changes without a DOM mutation to wake a poll on.
const pollEvery = 50 * time.Millisecond

// editorState is a JavaScript expression for what the editor page shows.
const editorState = `(() => ({
	status: document.getElementById('status').textContent,
	text: document.getElementById('text').value,
	me: document.getElementById('me').textContent,
	people: [...document.querySelectorAll('#people li')].map(li => li.dataset.name).join(','),
}))()`

// waitEditor waits until the field of editorState equals want.
func (p *tab) waitEditor(field, want string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	pred := fmt.Sprintf(`(want) => %s[%q] === want`, editorState, field)
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](pred,
		chromedp.WithPollingInterval(pollEvery),
		chromedp.WithPollingTimeout(waitTimeout),
		chromedp.WithPollingArgs(want),
	))
	if err != nil {
		p.t.Fatalf("%s: wait for %s = %q: %v; page: %s", p.name, field, want, err, p.editorJSON())
	}
}

// editorValue returns a field of editorState.
func (p *tab) editorValue(field string) string {
	p.t.Helper()
	var state map[string]string
	if err := json.Unmarshal([]byte(p.editorJSON()), &state); err != nil {
		p.t.Fatal(err)
	}
	return state[field]
}

func (p *tab) editorJSON() string {
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](editorState))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return string(v)
}
