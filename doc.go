// Package roost is an open-source runtime for durable objects: uniquely
// addressable, single-instance objects, each with its own private SQLite
// database, reached over HTTP from browsers, services and other objects.
//
// # Objects
//
// A class is a Go constructor registered under a name. The first event for an
// object (its class and [ID]) constructs an instance; later events reuse it
// while it stays in memory:
//
//	app, err := roost.Open(ctx, roost.Config{Dir: "./roost-data"})
//	counters := roost.Register(app, "counter", counter.New) // func(*roost.State) (*counter.Counter, error)
//	stub := counters.Get(counters.IDFromName("room-42"))
//	resp, err := stub.Fetch(ctx, req)                       // *http.Request in, *http.Response out
//	http.ListenAndServe("127.0.0.1:8080", app.Handler())    // /counter/room-42/... reaches the same object
//
// Events of one object are delivered one at a time, in order; different
// objects run in parallel. A class may opt in to concurrent events with
// [RegisterWithOptions]. A call chain that comes back to an object already in
// it (A calls B calls A, passing the handler's ctx) fails at once with code
// call_cycle instead of waiting for itself. A thousand concurrent first requests to one new
// object run its constructor once. [State.BlockConcurrencyWhile] runs
// initialisation before any event. An object with no events for
// [Config.IdleTimeout] (default 10s) leaves memory and closes its database;
// the next event brings it back from storage. At most one instance of an
// object is ever live.
//
// A handler that panics or returns an error ([FetchHandler]) fails its event:
// the event's writes roll back, the caller gets a 500 with a stable code
// (handler_panic, handler_error), and the instance is discarded and
// constructed again for the next event. Committed data is untouched.
//
// # Storage
//
// [State.Storage] is one SQLite database per object (WAL mode), seen through a
// KV API ([Storage.Get], [Storage.Put], [Storage.List], …, and the typed
// [GetJSON] and [PutJSON]) and a SQL API ([Storage.Exec], [Storage.Query]).
//
// All writes made while handling one event commit atomically at its end.
// Nothing the event produces (an HTTP response) leaves the object before
// those writes are durable: fsync'd, with the default [DurabilityFull]. If the
// commit fails, the caller gets an error (storage_full, storage_failed) and
// none of the writes is visible. Under load, the writes of events queued
// together share one commit: every answered event is still durable.
//
// Limits: key 2 KiB, value 2 MiB, database 10 GiB per object by default
// ([LimitError], code limit_exceeded). An object reaches only its own file:
// Roost creates and removes files beneath the data directory through an
// [os.Root], SQLite reaches them through Roost's VFS, which refuses any path
// outside the data directory, and an SQLite authorizer refuses SQL that
// attaches files, changes the engine's safety settings, controls
// transactions or reaches Roost's internal tables, also through a trigger,
// a foreign key, a view or a rename (code sql_not_authorized). Roost's own
// writes run no user code: no trigger or cascade of the user's runs inside
// them.
//
// # HTTP
//
// [App.Handler] routes /{class}/{name}/... ([Namespace.IDFromName]) and
// /{class}/id/{hexid}/... to the object's ServeHTTP (or Fetch) with the rest
// of the path. Errors are JSON: {"error":{"code":"…","message":"…"}}, with
// the stable codes of [ErrorCode]. [App.Handle] mounts pages and APIs beside
// the objects. A path with a "." or ".." segment gets 400 bad_request, never
// a redirect; a HEAD request reaches the object as a GET and is answered
// without the body; a request body must arrive within [Config.BodyTimeout].
//
// # RPC
//
// A [Method] is declared once with its request and response types and
// registered with its class ([ClassOptions.Methods]); [Method.Call] calls it
// on a [Stub], as one event of the object, with JSON on the wire so that the
// call means the same when it crosses machines. Errors keep their code and
// message across the call. [Do] runs a function on the live object, for Go
// code that runs beside it (tests, the workflow engine).
//
// # Alarms and timers
//
// [Storage.SetAlarm] sets the object's one alarm, as in Cloudflare Durable
// Objects; [Storage.Schedule] and [Storage.Cron] set any number of named
// one-shot timers and cron schedules. They commit with the event that sets
// them, wake the object at their time (also out of memory, also after a
// restart or a crash), and are delivered at least once to [AlarmHandler] and
// [TimerHandler], with retries and backoff ([Config.TimerRetry]) and a fire
// ID that stays the same across retries.
//
// # WebSockets
//
// [State.AcceptWebSocket] accepts an upgrade in the object's HTTP handler.
// The runtime holds the connection: the object may leave memory while its
// sockets stay open (hibernation), and each message is an event
// ([WebSocketHandler]) that brings it back. Sockets carry tags and an
// attachment that survive hibernation; [State.Broadcast] sends to all of
// them after the event's writes are durable. Each socket has a send queue
// bounded in messages and bytes; a slow client is closed (1008) rather than
// stalling its room, and a text message that is not UTF-8 closes its
// sender (1007) without reaching the object.
//
// # Workflows
//
// Package workflow, built on this one, runs durable workflows: functions
// whose steps, sleeps and waits for events are recorded, so they survive
// crashes and restarts.
//
// # Lifecycle
//
// [Open] locks the data directory (one app at a time may have it open) and,
// after a crash, brings the node's inventory up to date with the objects on
// disk. [App.Drain] starts a graceful stop: sockets are closed with 1001 and
// long polls answer at once, while events still run; [App.Close] drains,
// then lets in-flight events finish and commit. [App.Admin] and
// [App.AdminHandler] are the operator's view of the objects (list, inspect,
// SQL, export, import, remove); [App.MetricsHandler] serves Prometheus
// metrics.
//
// # Testing
//
// Package roosttest runs an app in a test: a temporary data directory, a
// virtual clock that fires alarms, sleeps and retries without waiting
// (advancing it waits until the app is idle, [App.WaitIdle]), restarts, and
// HTTP and WebSocket clients.
package roost
