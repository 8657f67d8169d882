// Package demo wires the example classes and workflows that `roost serve`
// runs unless it is started with --demo=false: the counter, the room, the
// chat (with its page at GET /), the order and threestep workflows, and the
// shop, whose objects host their orders' workflows. The
// roost command imports the examples only through this package, so the
// shipped server is the product with its demo added, not a demo itself.
package demo

import (
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/chat"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/examples/editor"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/examples/shop"
	"github.com/roost-dev/roost/workflow"
)

// Config configures the demo.
type Config struct {
	// OrderSleep is how long the order workflow sleeps between the charge
	// and the delivery. Default 1 hour.
	OrderSleep time.Duration
}

// Register registers the demo's classes on app and defines its workflows
// on engine: the classes counter, room, chatroom and ratelimit, the chat's
// page (GET / and GET /static/), the editor's page (GET /editor, on the
// documents of the yjs class, which `roost serve` registers), and the
// workflows order and threestep; and the class shop with the workflow
// fulfil that its objects host.
func Register(app *roost.App, engine *workflow.Engine, cfg Config) {
	counter.Register(app, "counter")
	room.Register(app, "room")
	chat.Register(app)
	editor.Register(app)
	orders.Define(engine, orders.Config{Sleep: cfg.OrderSleep})
	shop.Register(app, engine, shop.Config{Sleep: cfg.OrderSleep})
}
