package chat

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
)

// The token bucket of each client address: up to 10 messages at once, then
// one a second.
const (
	bucketCapacity = 10
	bucketRefill   = 1 // tokens a second
)

// Allow takes a token from the rate limiter's bucket; the chatroom calls it
// for every message.
var Allow = roost.NewMethod("allow", (*Limiter).Allow)

// Limiter is the rate limiter of one client address (class "ratelimit",
// named by the address). Its bucket lives in its storage.
type Limiter struct{ st *roost.State }

// AllowRequest asks for one message.
type AllowRequest struct{}

// Decision says whether a message may go.
type Decision struct {
	Allowed bool `json:"allowed"`
}

// Allow takes a token if the bucket has one, and stores the bucket.
func (l *Limiter) Allow(ctx context.Context, _ AllowRequest) (Decision, error) {
	b, _, err := roost.GetJSON[bucket](ctx, l.st.Storage(), "bucket")
	if err != nil {
		return Decision{}, err
	}
	b, ok := take(b, l.st.Now())
	if err := roost.PutJSON(ctx, l.st.Storage(), "bucket", b); err != nil {
		return Decision{}, err
	}
	return Decision{Allowed: ok}, nil
}

// bucket is a token bucket. The zero bucket is full.
type bucket struct {
	Tokens float64   `json:"tokens"`
	At     time.Time `json:"at"` // when Tokens was counted; zero: never
}

// take refills b for the time since it was last counted and takes a token
// if there is one. A clock that went back refills nothing.
func take(b bucket, now time.Time) (bucket, bool) {
	switch {
	case b.At.IsZero():
		b = bucket{Tokens: bucketCapacity, At: now}
	case now.After(b.At):
		b.Tokens = min(bucketCapacity, b.Tokens+now.Sub(b.At).Seconds()*bucketRefill)
		b.At = now
	}
	if b.Tokens < 1 {
		return b, false
	}
	b.Tokens--
	return b, true
}
