package natsd

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A server on its own serves JetStream to an in-process connection, and
// Close stops every goroutine it started (TestMain checks).
func TestStart_ServesJetStreamAndCloses(t *testing.T) {
	s, err := Start(t.Context(), Config{Name: "n1", Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nc, err := s.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("JetStream does not answer: %v", err)
	}
}
