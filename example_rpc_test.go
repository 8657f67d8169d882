package roost_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/roost-dev/roost"
)

// Account is an object with RPC methods.
type Account struct{ st *roost.State }

type Amount struct {
	Cents int64 `json:"cents"`
}

type Balance struct {
	Cents int64 `json:"cents"`
}

// Deposit and Withdraw are methods of *Account. The names are what crosses
// the wire; the types are checked at compile time.
var (
	Deposit  = roost.NewMethod("deposit", (*Account).Deposit)
	Withdraw = roost.NewMethod("withdraw", (*Account).Withdraw)
)

func (a *Account) Deposit(ctx context.Context, amt Amount) (Balance, error) {
	return a.add(ctx, amt.Cents)
}

func (a *Account) Withdraw(ctx context.Context, amt Amount) (Balance, error) {
	return a.add(ctx, -amt.Cents)
}

func (a *Account) add(ctx context.Context, cents int64) (Balance, error) {
	b, _, err := roost.GetJSON[Balance](ctx, a.st.Storage(), "balance")
	if err != nil {
		return Balance{}, err
	}
	b.Cents += cents
	if b.Cents < 0 {
		// The event fails: its writes roll back, and the caller gets the code.
		return Balance{}, roost.NewError("insufficient_funds", fmt.Sprintf("balance too low by %d cents", -b.Cents))
	}
	return b, roost.PutJSON(ctx, a.st.Storage(), "balance", b)
}

func ExampleMethod() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "roost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	app, err := roost.Open(ctx, roost.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close(ctx)

	accounts := roost.RegisterWithOptions(app, "account", func(st *roost.State) (*Account, error) {
		return &Account{st: st}, nil
	}, &roost.ClassOptions{Methods: []roost.MethodHandler{Deposit, Withdraw}})

	// Each call is one event of the object; its answer comes once its writes
	// are durable.
	ada := accounts.GetByName("ada")
	b, err := Deposit.Call(ctx, ada, Amount{Cents: 500})
	fmt.Println(b.Cents, err)
	b, err = Withdraw.Call(ctx, ada, Amount{Cents: 200})
	fmt.Println(b.Cents, err)
	_, err = Withdraw.Call(ctx, ada, Amount{Cents: 1000})
	fmt.Println(roost.ErrorCode(err), err)
	// Output:
	// 500 <nil>
	// 300 <nil>
	// insufficient_funds balance too low by 700 cents
}
