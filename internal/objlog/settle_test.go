package objlog

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A failed expected-sequence check is settled by the record that follows
// the expected sequence: the publish's own (an earlier try, or a stale
// leader's answer while the real one stored it) is a success; another
// node's means this one was not stored; none to read leaves it unsettled
// (publish again), with an unknown outcome, never "not applied".
func TestPublish_FailedCheckIsSettledByTheNextRecord(t *testing.T) {
	js := startJetStream(t)
	m := newMember(t, js, 1, 0)
	l := m.log
	subj := "roost.obj.t.settle"
	first, err := l.publish(subj, 0, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	// Ours landed after expect 0 (an earlier try): success, its sequence.
	if seq, err := l.publish(subj, 0, []byte("a")); err != nil || seq != first {
		t.Fatalf("the same record again: seq %d, %v; want %d, nil", seq, err, first)
	}
	// Another record follows expect 0: not stored, the check's error.
	if _, err := l.publish(subj, 0, []byte("b")); !wrongLast(err) {
		t.Fatalf("another record after the expected sequence: %v, want the failed check", err)
	}
	// Nothing follows the sequence a stale answer named: unknown.
	_, settled, err := l.settle(t.Context(), subj, first, []byte("c"), &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence})
	if settled || err == nil || wrongLast(err) {
		t.Fatalf("nothing after the expected sequence: settled %v, %v; want unsettled, an unknown outcome", settled, err)
	}
}
