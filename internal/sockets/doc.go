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
// send queue holds frames. Sends never block: a socket whose queue is over
// its bounds (messages or bytes) is closed with 1008 ([ClosePolicy]), so
// one slow client never stalls a room, and [Broadcast] encodes a message
// once for all the sockets of an object. The queues of the whole hub are
// bounded in bytes too; over it, the longest are closed with 1013 (see
// memory.go). While some sockets of an object are behind, the next message
// of its senders is not read, within a budget per object (see
// throttle.go). A text message that is not UTF-8 fails its sender (1007)
// and never reaches the object.
//
// Lifecycle: [New] builds a hub and starts nothing; [Hub.Start] starts its
// watchdog, which fails writes to clients that stopped reading;
// [Hub.Close] closes every socket with 1001 and waits for every goroutine
// of the hub, the sockets' readers and writers and the watchdog.
//
// It imports the leaves ids and errcode and the WebSocket library; nothing
// from the runtime, the store or NATS.
package sockets
