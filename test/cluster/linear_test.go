package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
	"github.com/roost-dev/roost/test/internal/linear"
)

// Concurrent clients through different nodes, with a kill and a partition
// during the run: the registers' and the counters' histories must each be
// linearizable.
func TestCluster_HistoriesAreLinearizable(t *testing.T) {
	c := start(t, 3)
	regs, ctrs := linear.NewRecorder(), linear.NewRecorder()
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for client := range 8 {
		wg.Go(func() { linearClient(ctx, c, client, regs, ctrs) })
	}
	time.Sleep(2 * time.Second)
	c.Nodes[1].Kill(t)
	time.Sleep(3 * lease)
	c.Nodes[1].Restart(t)
	c.Isolate(2)
	time.Sleep(3 * lease)
	c.Heal()
	time.Sleep(2 * lease)
	stop()
	wg.Wait()
	linear.Check(t, linear.Register, regs.Operations(), 0)
	linear.Check(t, linear.Counter, ctrs.Operations(), 0)
}

func linearClient(ctx context.Context, c *cluster.Cluster, client int, regs, ctrs *linear.Recorder) {
	rng := rand.New(rand.NewPCG(uint64(client), 13))
	urls := c.URLs()
	hc := &http.Client{Timeout: 3 * time.Second}
	// A bounded number of operations, spread over the run: the checker's
	// time grows with a history's length (and fast with the increments of
	// unknown outcome in one counter's history).
	for i := 0; ctx.Err() == nil && i < 400; i++ {
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		u := urls[rng.IntN(len(urls))]
		if rng.IntN(2) == 0 {
			key := strconv.Itoa(rng.IntN(4))
			in := linear.RegisterInput{Key: key, Put: rng.IntN(2) == 0, Value: fmt.Sprintf("%d-%d", client, i)}
			method := http.MethodGet
			if in.Put {
				method = http.MethodPut
			} else {
				in.Value = ""
			}
			op := regs.Call(client, in)
			status, body, err := do(context.Background(), hc, method, u+"/reg/k"+key, in.Value)
			settle(op, status, err, linear.RegisterOutput{Value: body})
		} else {
			// More counters than registers: increments whose outcome is
			// unknown commute, and each one multiplies the orders the
			// checker must try within its history.
			key := strconv.Itoa(rng.IntN(32))
			in := linear.CounterInput{Key: key, Increment: rng.IntN(2) == 0}
			method := http.MethodGet
			if in.Increment {
				method = http.MethodPost
			}
			op := ctrs.Call(client, in)
			status, body, err := do(context.Background(), hc, method, u+"/ctr/k"+key, "")
			v, _ := strconv.ParseInt(body, 10, 64)
			settle(op, status, err, linear.CounterOutput{Value: v})
		}
	}
}

// settle records an operation's outcome: a 200 returned out; a refused
// connection ran nothing (not recorded); anything else may have taken
// effect or not.
func settle(op *linear.Op, status int, err error, out any) {
	switch {
	case err == nil && status == http.StatusOK:
		op.Return(out)
	case isRefused(err):
	case err == nil && status < 500:
		op.Return(out) // a 4xx would show up as a violation
	default:
		op.Unknown()
	}
}
