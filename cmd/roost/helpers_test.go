package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

type atomicCounter struct{ atomic.Int64 }

func httptestClient(t testing.TB, srv *httptest.Server) *http.Client {
	t.Helper()
	c := srv.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}
