package cluster_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCluster_AnyNodeServesAnyObject(t *testing.T) {
	c := start(t, 3)
	hc, urls := c.Client(), c.URLs()
	for i := range 30 {
		name := objName("r", i)
		must(t, hc, http.MethodPut, urls[i%3]+"/reg/"+name, "v"+name)
		for _, u := range urls {
			if got := must(t, hc, http.MethodGet, u+"/reg/"+name, ""); got != "v"+name {
				t.Fatalf("GET %s/reg/%s = %q, want %q", u, name, got, "v"+name)
			}
		}
	}
	for i := range 9 {
		must(t, hc, http.MethodPost, urls[i%3]+"/ctr/shared", "")
	}
	for _, u := range urls {
		if got := must(t, hc, http.MethodGet, u+"/ctr/shared", ""); got != "9" {
			t.Fatalf("the counter read through %s = %s, want 9", u, got)
		}
	}
	// RPC between objects that different nodes own: each call adds 1.
	for i := range 12 {
		got := must(t, hc, http.MethodGet, fmt.Sprintf("%s/call/%s?to=%s", urls[i%3], objName("caller", i), "rpc"), "")
		if got != fmt.Sprint(i+1) {
			t.Fatalf("call %d answered %s, want %d", i, got, i+1)
		}
	}
	// RPC over HTTP through any node, the counter on one of them; errors
	// keep their codes.
	for i := range 6 {
		got := must(t, hc, http.MethodPost, urls[i%3]+"/ctr/over-http/rpc/Add", `{"N":2}`)
		if want := fmt.Sprintf(`{"Value":%d}`, 2*(i+1)); got != want {
			t.Fatalf("POST %s/ctr/over-http/rpc/Add = %s, want %s", urls[i%3], got, want)
		}
	}
	for _, u := range urls {
		status, body, err := do(t.Context(), hc, http.MethodPost, u+"/ctr/over-http/rpc/Nope", `{}`)
		if err != nil || status != http.StatusNotFound || !strings.Contains(body, "unknown_method") {
			t.Fatalf("POST %s/ctr/over-http/rpc/Nope: %d %q %v, want 404 unknown_method", u, status, body, err)
		}
	}
}

func TestCluster_StampedeConstructsOnce(t *testing.T) {
	log := filepath.Join(t.TempDir(), "ctor.log")
	c := start(t, 3, "--ctor-log", log)
	hc, urls := c.Client(), c.URLs()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			got, err := retry(t.Context(), hc, http.MethodGet, urls[i%3]+"/ctor/fresh", "")
			if err == nil && got != "1" {
				err = fmt.Errorf("request %d: the object reports %s constructions", i, got)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 1 {
		t.Fatalf("the constructor ran %d times in the cluster for %d first requests over 3 nodes:\n%s", lines, n, b)
	}
}

// The admin API of any node operates on objects other nodes own: the
// request goes to the owner.
func TestCluster_AdminOperationsReachTheOwner(t *testing.T) {
	c := start(t, 3)
	hc, urls := c.Client(), c.URLs()
	for i := range 6 {
		name := objName("adm", i)
		must(t, hc, http.MethodPut, urls[0]+"/reg/"+name, "v"+name)
		for _, u := range urls {
			got := must(t, hc, http.MethodGet, u+"/_roost/objects/reg/"+name+"/", "")
			if !strings.Contains(got, `"key":"v"`) || !strings.Contains(got, `"value":"v`+name+`"`) {
				t.Fatalf("inspect %s through %s: %s", name, u, got)
			}
		}
		status, body, err := do(t.Context(), hc, http.MethodDelete, urls[i%3]+"/_roost/objects/reg/"+name+"/", "")
		if err != nil || status != http.StatusNoContent {
			t.Fatalf("remove %s through %s: %d %s %v", name, urls[i%3], status, body, err)
		}
		for _, u := range urls {
			if got := must(t, hc, http.MethodGet, u+"/reg/"+name, ""); got != "" {
				t.Fatalf("after the removal %s reads %q through %s", name, got, u)
			}
		}
	}
}
