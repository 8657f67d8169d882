package roost_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
)

// timerObj is the class of the timer tests: events run scripts (as obj's
// do), and its Alarm and Timer methods report every run on the class's
// channel and then do what the class's handler says.
type timerObj struct {
	st *roost.State
	c  *timerClass
}

type timerClass struct {
	*roost.Namespace
	runs chan timerRun
	now  func() time.Time
	mu   sync.Mutex
	// onRun decides what a run does; nil succeeds.
	onRun func(ctx context.Context, o *timerObj, r timerRun) error
}

// timerRun is one run of Alarm (Name "", Kind "alarm") or Timer.
type timerRun struct {
	Object string // the object's ID
	Name   string
	Kind   string
	FireID string
	Sched  time.Time
	At     time.Time // the clock when it ran
	Retry  int
	Missed int
	Data   string
}

func (o *timerObj) Fetch(w http.ResponseWriter, r *http.Request) error {
	fn := r.Context().Value(scriptKey{}).(func(ctx context.Context, o *timerObj) error)
	return fn(r.Context(), o)
}

func (o *timerObj) Alarm(ctx context.Context, info roost.AlarmInfo) error {
	if info.IsRetry != (info.RetryCount > 0) {
		panic("IsRetry disagrees with RetryCount")
	}
	return o.report(ctx, timerRun{Kind: "alarm", Sched: info.Scheduled, Retry: info.RetryCount})
}

func (o *timerObj) Timer(ctx context.Context, f roost.TimerFire) error {
	return o.report(ctx, timerRun{Name: f.Name, Kind: f.Kind, FireID: f.FireID, Sched: f.Scheduled, Retry: f.Attempt, Missed: f.Missed, Data: string(f.Payload)})
}

func (o *timerObj) report(ctx context.Context, r timerRun) error {
	r.Object = o.st.ID().String()
	r.At = o.c.now()
	o.c.mu.Lock()
	fn := o.c.onRun
	o.c.mu.Unlock()
	o.c.runs <- r
	if fn != nil {
		return fn(ctx, o, r)
	}
	return nil
}

func (c *timerClass) setOnRun(fn func(ctx context.Context, o *timerObj, r timerRun) error) {
	c.mu.Lock()
	c.onRun = fn
	c.mu.Unlock()
}

func registerTimers(app *testApp, name string) *timerClass {
	c := &timerClass{runs: make(chan timerRun, 1000), now: app.Clock.Now}
	c.Namespace = roost.Register(app.App, name, func(st *roost.State) (*timerObj, error) {
		return &timerObj{st: st, c: c}, nil
	})
	return c
}

// run sends fn as an event to the object named name.
func (c *timerClass) run(ctx context.Context, name string, fn func(ctx context.Context, o *timerObj) error) error {
	ctx = context.WithValue(ctx, scriptKey{}, fn)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return err
	}
	resp, err := c.GetByName(name).Fetch(ctx, req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (c *timerClass) mustRun(t testing.TB, name string, fn func(ctx context.Context, o *timerObj) error) {
	t.Helper()
	if err := c.run(t.Context(), name, fn); err != nil {
		t.Fatalf("event of %s/%s: %v (code %s)", c.Class(), name, err, roost.ErrorCode(err))
	}
}

// next waits for the next run.
func (c *timerClass) next(t testing.TB) timerRun {
	t.Helper()
	select {
	case r := <-c.runs:
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("no alarm or timer ran within %s", waitTimeout)
		return timerRun{}
	}
}

// none checks that no run happens for a short while: a negative check,
// which can miss a late run but never fails a correct program.
func (c *timerClass) none(t testing.TB) {
	t.Helper()
	select {
	case r := <-c.runs:
		t.Fatalf("unexpected run %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

func setAlarm(at time.Time) func(ctx context.Context, o *timerObj) error {
	return func(ctx context.Context, o *timerObj) error { return o.st.Storage().SetAlarm(ctx, at) }
}

func TestAlarmFiresAtItsTime(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	at := epoch.Add(time.Minute)
	c.mustRun(t, "a", setAlarm(at))
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		got, ok, err := o.st.Storage().GetAlarm(ctx)
		if err != nil || !ok || !got.Equal(at) {
			t.Errorf("GetAlarm = %v, %v, %v; want %v", got, ok, err, at)
		}
		return nil
	})
	app.Clock.Advance(59 * time.Second)
	c.none(t)
	app.Clock.Advance(time.Second)
	r := c.next(t)
	if r.Kind != "alarm" || !r.Sched.Equal(at) || r.Retry != 0 || r.At.Before(at) {
		t.Fatalf("run %+v, want the alarm of %v, first try, at or after it", r, at)
	}
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		if _, ok, _ := o.st.Storage().GetAlarm(ctx); ok {
			t.Error("the alarm is still set after it ran")
		}
		return nil
	})
	c.none(t)
}

func TestAlarmReplaceAndDelete(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.mustRun(t, "a", setAlarm(epoch.Add(time.Minute)))
	c.mustRun(t, "a", setAlarm(epoch.Add(2*time.Minute))) // replaces
	app.Clock.Advance(time.Minute)
	c.none(t)
	app.Clock.Advance(time.Minute)
	if r := c.next(t); !r.Sched.Equal(epoch.Add(2 * time.Minute)) {
		t.Fatalf("ran %+v, want the replacing alarm", r)
	}
	c.mustRun(t, "b", setAlarm(epoch.Add(3*time.Minute)))
	c.mustRun(t, "b", func(ctx context.Context, o *timerObj) error { return o.st.Storage().DeleteAlarm(ctx) })
	app.Clock.Advance(time.Hour)
	c.none(t)
}

func TestAlarmWakesEvictedObject(t *testing.T) {
	app := newApp(t, roost.Config{IdleTimeout: time.Minute})
	c := registerTimers(app, "alarms")
	c.mustRun(t, "a", setAlarm(epoch.Add(time.Hour)))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := app.Clock.WaitForTimers(ctx, 2); err != nil { // the idle timer and the scheduler's
		t.Fatal(err)
	}
	app.Clock.Advance(time.Minute)
	if err := app.WaitActiveObjects(ctx, func(n int) bool { return n == 0 }); err != nil {
		t.Fatal(err)
	}
	app.Clock.Advance(59 * time.Minute)
	if r := c.next(t); r.Object != c.IDFromName("a").String() {
		t.Fatalf("ran %+v, want object a's alarm", r)
	}
}

func TestAlarmSurvivesRestart(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.mustRun(t, "a", setAlarm(epoch.Add(time.Hour)))
	app = app.reopen(t) // a new virtual clock, at epoch again
	c = registerTimers(app, "alarms")
	app.Clock.Advance(time.Hour)
	if r := c.next(t); r.Kind != "alarm" || !r.Sched.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("ran %+v after restart", r)
	}
}

func TestAlarmSurvivesLostCatalog(t *testing.T) {
	// Without its catalog (or after a crash), Open rebuilds the index of
	// wakes from the objects' files.
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.mustRun(t, "a", setAlarm(epoch.Add(time.Hour)))
	closeApp(t, app.App)
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm", "catalog.clean"} {
		if err := os.Remove(filepath.Join(app.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	app = app.reopen(t)
	c = registerTimers(app, "alarms")
	app.Clock.Advance(time.Hour)
	if r := c.next(t); r.Kind != "alarm" {
		t.Fatalf("ran %+v", r)
	}
}

func TestAlarmRetriesWithBackoff(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.setOnRun(func(ctx context.Context, o *timerObj, r timerRun) error {
		// A write the failure must roll back.
		if err := o.st.Storage().Put(ctx, "ran", []byte("yes")); err != nil {
			return err
		}
		return errors.New("not today")
	})
	at := epoch.Add(time.Minute)
	c.mustRun(t, "a", setAlarm(at))
	app.Clock.Advance(time.Minute)
	want := at
	for retry := 0; retry <= 6; retry++ {
		r := c.next(t)
		if r.Retry != retry || !r.At.Equal(want) || !r.Sched.Equal(at) {
			t.Fatalf("run %d: %+v, want retry %d at %v", retry, r, retry, want)
		}
		if retry == 6 {
			break
		}
		delay := (2 * time.Second) << retry // 2s, 4s, 8s, …
		waitScheduled(t, app)
		app.Clock.Advance(delay - time.Millisecond)
		c.none(t)
		app.Clock.Advance(time.Millisecond)
		want = want.Add(delay)
	}
	waitScheduled(t, app)
	app.Clock.Advance(24 * time.Hour)
	c.none(t)
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		if _, ok, _ := o.st.Storage().GetAlarm(ctx); ok {
			t.Error("the alarm is still set after its retries were spent")
		}
		if _, ok, _ := o.st.Storage().Get(ctx, "ran"); ok {
			t.Error("a failed alarm's write was kept")
		}
		return nil
	})
}

// waitScheduled waits until the app has armed a clock timer (its
// scheduler's), so that advancing the clock fires what is due.
func waitScheduled(t testing.TB, app *testApp) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := app.Clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestAlarmSetDuringHandlerIsKept(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.setOnRun(func(ctx context.Context, o *timerObj, r timerRun) error {
		if r.Sched.Equal(epoch.Add(time.Minute)) {
			return o.st.Storage().SetAlarm(ctx, epoch.Add(2*time.Minute))
		}
		return nil
	})
	c.mustRun(t, "a", setAlarm(epoch.Add(time.Minute)))
	app.Clock.Advance(time.Minute)
	c.next(t)
	waitScheduled(t, app)
	app.Clock.Advance(time.Minute)
	if r := c.next(t); !r.Sched.Equal(epoch.Add(2 * time.Minute)) {
		t.Fatalf("ran %+v, want the alarm set by the handler", r)
	}
}

func TestDeleteAllRemovesAlarmAndTimers(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "alarms")
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		s := o.st.Storage()
		if err := s.SetAlarm(ctx, epoch.Add(time.Minute)); err != nil {
			return err
		}
		return s.Schedule(ctx, "t", epoch.Add(time.Minute), nil)
	})
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error { return o.st.Storage().DeleteAll(ctx) })
	if files := dbFiles(t, app.Dir); len(files) != 0 {
		t.Fatalf("files after DeleteAll: %v", files)
	}
	app.Clock.Advance(time.Hour)
	c.none(t)
}

func TestTimerNeedsHandler(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerObj(app, "plain", nil)
	err := c.run(t.Context(), "a", func(ctx context.Context, o *obj) error {
		return o.st.Storage().SetAlarm(ctx, epoch)
	})
	wantCode(t, err, "not_implemented")
	err = c.run(t.Context(), "a", func(ctx context.Context, o *obj) error {
		return o.st.Storage().Schedule(ctx, "x", epoch, nil)
	})
	wantCode(t, err, "not_implemented")
}

func TestTimerBadInput(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	for name, fn := range map[string]func(ctx context.Context, s *roost.Storage) error{
		"empty name": func(ctx context.Context, s *roost.Storage) error { return s.Schedule(ctx, "", epoch, nil) },
		"long name": func(ctx context.Context, s *roost.Storage) error {
			return s.Schedule(ctx, string(make([]byte, 300)), epoch, nil)
		},
		"zero time": func(ctx context.Context, s *roost.Storage) error { return s.Schedule(ctx, "x", time.Time{}, nil) },
		"bad cron":  func(ctx context.Context, s *roost.Storage) error { return s.Cron(ctx, "x", "*/5 * *", nil) },
		"bad cron zone": func(ctx context.Context, s *roost.Storage) error {
			return s.Cron(ctx, "x", "CRON_TZ=Mars/Base 0 * * * *", nil)
		},
		"cancel alarm": func(ctx context.Context, s *roost.Storage) error { _, err := s.CancelTimer(ctx, ""); return err },
	} {
		err := c.run(t.Context(), "a", func(ctx context.Context, o *timerObj) error { return fn(ctx, o.st.Storage()) })
		if roost.ErrorCode(err) != "bad_request" {
			t.Errorf("%s: got %v (code %s), want bad_request", name, err, roost.ErrorCode(err))
		}
	}
	err := c.run(t.Context(), "a", func(ctx context.Context, o *timerObj) error {
		return o.st.Storage().Schedule(ctx, "big", epoch, make([]byte, 3<<20))
	})
	wantCode(t, err, "limit_exceeded")
}

func TestNamedTimers(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		s := o.st.Storage()
		for i, name := range []string{"first", "second", "third"} {
			if err := s.Schedule(ctx, name, epoch.Add(time.Duration(i+1)*time.Minute), []byte("payload of "+name)); err != nil {
				return err
			}
		}
		return nil
	})
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		s := o.st.Storage()
		list, err := s.Timers(ctx)
		if err != nil {
			return err
		}
		if len(list) != 3 || list[0].Name != "first" || list[2].Name != "third" || list[1].Kind != roost.TimerOnce || string(list[1].Payload) != "payload of second" {
			t.Errorf("Timers = %+v", list)
		}
		ok, err := s.CancelTimer(ctx, "second")
		if !ok || err != nil {
			t.Errorf("CancelTimer(second) = %v, %v", ok, err)
		}
		ok, err = s.CancelTimer(ctx, "nope")
		if ok || err != nil {
			t.Errorf("CancelTimer(nope) = %v, %v", ok, err)
		}
		return nil
	})
	app.Clock.Advance(3 * time.Minute)
	r1, r2 := c.next(t), c.next(t)
	if r1.Name != "first" || r2.Name != "third" || r1.Data != "payload of first" || r1.FireID == r2.FireID || r1.Kind != roost.TimerOnce {
		t.Fatalf("runs %+v, %+v", r1, r2)
	}
	c.none(t)
}

func TestTimerFireIDStableAcrossRetries(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	c.setOnRun(func(ctx context.Context, o *timerObj, r timerRun) error {
		if r.Retry < 2 {
			panic("flaky")
		}
		return nil
	})
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		return o.st.Storage().Schedule(ctx, "t", epoch.Add(time.Second), nil)
	})
	app.Clock.Advance(time.Second)
	first := c.next(t)
	for i := 1; i <= 2; i++ {
		waitScheduled(t, app)
		app.Clock.Advance(time.Minute)
		r := c.next(t)
		if r.FireID != first.FireID || r.Retry != i {
			t.Fatalf("retry %d: %+v, want fire ID %q", i, r, first.FireID)
		}
	}
	app.Clock.Advance(time.Hour)
	c.none(t)
}

func TestTimerSetByFailedEventIsNotSet(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	err := c.run(t.Context(), "a", func(ctx context.Context, o *timerObj) error {
		if err := o.st.Storage().Schedule(ctx, "t", epoch.Add(time.Second), nil); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	wantCode(t, err, "handler_error")
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		list, err := o.st.Storage().Timers(ctx)
		if len(list) != 0 || err != nil {
			t.Errorf("Timers after a failed event = %+v, %v", list, err)
		}
		return nil
	})
	app.Clock.Advance(time.Hour)
	c.none(t)
}

func TestCronFiresEachSlot(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		return o.st.Storage().Cron(ctx, "tick", "*/5 * * * *", []byte("p"))
	})
	for i := 1; i <= 3; i++ {
		waitScheduled(t, app)
		app.Clock.Advance(5 * time.Minute)
		r := c.next(t)
		if want := epoch.Add(time.Duration(i) * 5 * time.Minute); !r.Sched.Equal(want) || r.Kind != roost.TimerCron || r.Missed != 0 || r.Data != "p" {
			t.Fatalf("slot %d: %+v, want scheduled %v", i, r, want)
		}
	}
}

func TestCronCatchesUpOnceAfterDowntime(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		return o.st.Storage().Cron(ctx, "tick", "*/5 * * * *", nil)
	})
	closeApp(t, app.App)
	// The server is down for an hour: 12 slots pass.
	cfg := app.Cfg
	cfg.Clock = clock.NewVirtual(epoch.Add(time.Hour + time.Minute))
	app = newApp(t, cfg)
	c = registerTimers(app, "timers")
	r := c.next(t)
	if !r.Sched.Equal(epoch.Add(5*time.Minute)) || r.Missed != 11 {
		t.Fatalf("catch-up %+v, want the first missed slot, 11 more missed", r)
	}
	c.none(t) // one catch-up, not twelve
	waitScheduled(t, app)
	app.Clock.Advance(4 * time.Minute) // to 1:05
	if r := c.next(t); !r.Sched.Equal(epoch.Add(time.Hour+5*time.Minute)) || r.Missed != 0 {
		t.Fatalf("after catch-up %+v, want the 1:05 slot", r)
	}
}

func TestManyObjectsTimers(t *testing.T) {
	app := newApp(t, roost.Config{MaxActiveObjects: 8})
	c := registerTimers(app, "timers")
	const n = 200
	for i := range n {
		c.mustRun(t, string(rune('a'+i%26))+string(rune('a'+i/26)), func(ctx context.Context, o *timerObj) error {
			return o.st.Storage().Schedule(ctx, "t", epoch.Add(time.Duration(i%10)*time.Second), nil)
		})
	}
	app.Clock.Advance(10 * time.Second)
	seen := map[string]bool{}
	for range n {
		r := c.next(t)
		if seen[r.Object] {
			t.Fatalf("object %s ran twice", r.Object)
		}
		seen[r.Object] = true
	}
}

func TestManyDueTimersOfOneObjectFailAlone(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerTimers(app, "timers")
	c.setOnRun(func(ctx context.Context, o *timerObj, r timerRun) error {
		if err := o.st.Storage().Put(ctx, "ran/"+r.Name, []byte(r.FireID)); err != nil {
			return err
		}
		if r.Name == "t3" && r.Retry == 0 {
			return errors.New("t3 fails once")
		}
		return nil
	})
	const n = 10
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		for i := range n {
			if err := o.st.Storage().Schedule(ctx, "t"+string(rune('0'+i)), epoch.Add(time.Minute), nil); err != nil {
				return err
			}
		}
		return nil
	})
	app.Clock.Advance(time.Minute)
	runs := map[string]int{}
	for range n + 1 { // t3 twice
		r := c.next(t)
		runs[r.Name]++
		if r.Name == "t3" && r.Retry == 0 {
			waitScheduled(t, app)
			app.Clock.Advance(2 * time.Second)
		}
	}
	for i := range n {
		name := "t" + string(rune('0'+i))
		if want := map[bool]int{true: 2, false: 1}[name == "t3"]; runs[name] != want {
			t.Errorf("%s ran %d times, want %d (all: %v)", name, runs[name], want, runs)
		}
	}
	c.none(t)
	c.mustRun(t, "a", func(ctx context.Context, o *timerObj) error {
		list, err := o.st.Storage().List(ctx, &roost.ListOptions{Prefix: "ran/"})
		if len(list) != n || err != nil {
			t.Errorf("kept the writes of %d runs (%v), want %d", len(list), err, n)
		}
		timers, err := o.st.Storage().Timers(ctx)
		if len(timers) != 0 || err != nil {
			t.Errorf("timers left: %+v, %v", timers, err)
		}
		return nil
	})
}
