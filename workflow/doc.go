// Package workflow runs durable workflows on Roost objects.
//
// A workflow is a Go function of a context and typed params, defined by
// name on an [Engine]. Its instances live in a few partitions, objects of
// class "wfp-<name>" that an instance's ID hashes to, whose storage holds
// the params, the status and the journal of the function's steps of many
// instances side by side; the records of many instances commit together,
// each instance's atomically:
//
//	order := workflow.Define(engine, "order", func(ctx workflow.Context, o Order) (Receipt, error) {
//		charge, err := workflow.Step(ctx, "charge", func(ctx workflow.StepContext) (Charge, error) {
//			return payments.Charge(ctx, o.Card, o.Total)
//		}, workflow.Retry{Limit: 3, Delay: time.Second})
//		if err != nil {
//			return Receipt{}, err
//		}
//		if err := workflow.Sleep(ctx, "cool-off", time.Hour); err != nil {
//			return Receipt{}, err
//		}
//		...
//	})
//	inst, created, err := order.Create(ctx, "order-42", Order{...})
//
// # Execution
//
// The function runs in a goroutine of the engine and is replayed from the
// start whenever the instance resumes (after a sleep, an event, a retry
// delay or a restart of the server): each primitive first looks at the
// journal, and one that completed returns its recorded result without
// running again. So the function must be deterministic: on replay it must
// ask for the same steps, in the same order, under the same names.
// Anything else (time, randomness, I/O) belongs in a step. A replay that
// asks for another step than the journal holds fails the instance with the
// code nondeterminism, naming the step, instead of running wrong code.
//
//   - [Step] runs its function outside any event, then commits its
//     outcome in a short event of the partition. The function may use the
//     instance's own KV store ([StepContext.Storage]): its writes and the
//     step's recorded result commit in one transaction; a failed attempt's
//     are dropped. A step that completed never runs again; one that was
//     running when the server crashed runs again.
//   - [Sleep] and [SleepUntil] record a wake time and set the instance's
//     timer in its partition; the instance leaves memory meanwhile.
//   - [WaitForEvent] returns the payload of the first event of its type sent
//     to the instance and not yet taken by another wait, whether it arrived
//     before the wait began or during it.
//
// Call the primitives from the workflow function's goroutine only: a
// primitive that suspends the function ends that goroutine (with
// [runtime.Goexit], which deferred calls see but cannot stop).
//
// # Status
//
// [Instance.Status] (GET /workflows/{name}/instances/{id} over HTTP) shows
// an instance's status and its history: one [StepInfo] per step, sleep and
// wait, in the order the function asked for them. A step's state is done,
// retrying (between attempts), sleeping or waiting while the instance runs;
// once the instance finished (complete, errored or terminated), one that
// its end cut short, such as the sleep of a terminated instance, is
// canceled, never still sleeping, waiting or retrying.
//
// # Hosted workflows
//
// An object can host workflows ([Host], [Start]): their instances' journals
// live in the object's own storage, so a step's writes to the object's
// tables commit with the step's record, and the object's named timers
// drive their sleeps, waits and retries.
//
// # Retention
//
// A finished instance is kept for [Options.Retention] (default 30 days)
// from its end, then purged with its journal and storage; [Engine.Purge]
// (POST /workflows/{name}/purge) removes finished instances sooner.
//
// # Cluster mode
//
// In a cluster (roost.Config.Cluster), every node defines the same
// workflows, and every entry point works from any node: an operation on
// an instance (or a listing of a workflow's index) that another node owns
// goes to that node as an RPC call of the partition's class, so the
// instance's function runs on its owner only. While an instance runs, its
// timer stays set at most [Options.Beat] ahead; if its owner fails, the
// node that takes its shard over fires that timer (or the timer of its
// sleep, wait or retry) and resumes it: within the failover plus the beat.
// A step that completed is never run again; one that ran when its owner
// failed, or whose commit failed in the failover, runs again.
package workflow
