package workflow

import (
	"testing"
	"time"
)

func TestStepConfigDefaultsAndDelays(t *testing.T) {
	def := newStepConfig(nil)
	if def.retry.Limit != 5 || def.retry.Delay != 10*time.Second || def.retry.Backoff != Exponential || def.timeout != 10*time.Minute {
		t.Fatalf("defaults %+v", def)
	}
	if c := newStepConfig([]StepOption{Retry{Limit: NoRetries}}); c.retry.Limit != 0 {
		t.Fatalf("NoRetries: limit %d", c.retry.Limit)
	}
	for _, tt := range []struct {
		retry Retry
		want  []time.Duration // after failed attempts 1, 2, 3, 4
	}{
		{Retry{Delay: time.Second}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{Retry{Delay: time.Second, MaxDelay: 3 * time.Second}, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{Retry{Delay: time.Second, Backoff: Linear}, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}},
		{Retry{Delay: time.Second, Backoff: Constant}, []time.Duration{time.Second, time.Second, time.Second, time.Second}},
	} {
		c := newStepConfig([]StepOption{tt.retry, Timeout(time.Minute)})
		if c.timeout != time.Minute {
			t.Fatalf("timeout %s", c.timeout)
		}
		for i, want := range tt.want {
			if got := c.delay(i + 1); got != want {
				t.Errorf("%+v: delay after attempt %d = %s, want %s", tt.retry, i+1, got, want)
			}
		}
	}
	// Unlimited retries with exponential backoff stop growing instead of
	// overflowing.
	c := newStepConfig([]StepOption{Retry{Limit: Unlimited, Delay: time.Second}})
	if d := c.delay(200); d <= 0 || d > 2*365*24*time.Hour {
		t.Fatalf("delay after attempt 200: %s", d)
	}
}
