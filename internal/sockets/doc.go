// Package sockets holds the WebSockets that objects accepted. The hub owns
// the connections, not the objects' instances: a socket stays open while
// its object is out of memory (hibernation), and each message it receives
// is handed to a delivery function that wakes the object.
//
// It sits beside internal/runtime, below the root package: the root wires a
// [Hub] into the app, gives it the delivery function (which runs each
// message as an event of the socket's object through the runtime), and
// exposes sockets to objects as roost.WebSocket, with their tags and
// attachments. The hub knows nothing of objects' code or storage; it names
// an object by its [Key] only.
//
// Each socket has one reader goroutine, and a writer goroutine while its
// send queue holds frames. Sends never block: a socket whose bounded queue
// is full is closed with 1008 ([ClosePolicy]), so one slow client never
// stalls a room, and [Broadcast] encodes a message once for all the
// sockets of an object. While some sockets of an object are behind, the
// next message of its senders is not read (see Hub.throttle).
//
// Lifecycle: [New] builds a hub and starts nothing; [Hub.Start] starts its
// watchdog, which fails writes to clients that stopped reading;
// [Hub.Close] closes every socket with 1001 and waits for every goroutine
// of the hub, the sockets' readers and writers and the watchdog.
//
// It imports the leaves ids and errcode and the WebSocket library; nothing
// from the runtime, the store or NATS.
package sockets
