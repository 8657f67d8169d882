package roost

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/roost-dev/roost/internal/node"
)

// Storage is an object's private, durable storage: one SQLite database,
// seen through a KV API (a table of that database) and a SQL API.
//
// All writes of one event commit together when the event ends, before any of
// its output is released; if the event fails, they roll back. Limits: key
// 2 KiB, value 2 MiB, database 10 GiB by default ([LimitError]).
type Storage struct{ act *node.Activation }

// Entry is one KV pair.
type Entry = node.Entry

// ListOptions selects keys for [Storage.List]: a prefix, a half-open range
// [Start, End), the order and a limit. The zero value lists everything in
// ascending byte order.
type ListOptions = node.ListOptions

func (s *Storage) db() (*node.DB, error) { return s.act.DB() }

// Get returns the value of key, and false if there is none.
func (s *Storage) Get(ctx context.Context, key string) ([]byte, bool, error) {
	db, err := s.db()
	if err != nil {
		return nil, false, err
	}
	return db.Get(ctx, key)
}

// GetMany returns the values of the keys that exist.
func (s *Storage) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return db.GetMany(ctx, keys)
}

// Put stores value under key.
func (s *Storage) Put(ctx context.Context, key string, value []byte) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	return db.Put(ctx, key, value)
}

// PutMany stores all entries atomically.
func (s *Storage) PutMany(ctx context.Context, entries []Entry) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	return db.PutMany(ctx, entries)
}

// Delete removes key and reports whether it existed.
func (s *Storage) Delete(ctx context.Context, key string) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	return db.Delete(ctx, key)
}

// DeleteMany removes the keys atomically and returns how many existed.
func (s *Storage) DeleteMany(ctx context.Context, keys []string) (int, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	return db.DeleteMany(ctx, keys)
}

// List returns the entries selected by opts (nil: all), in key order.
func (s *Storage) List(ctx context.Context, opts *ListOptions) ([]Entry, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &ListOptions{}
	}
	return db.List(ctx, *opts)
}

// DeleteAll removes everything the object stored: KV pairs and SQL tables.
// Once the event commits, the object's files are deleted and it has no
// storage until it writes again.
func (s *Storage) DeleteAll(ctx context.Context) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	return db.DeleteAll(ctx)
}

// Transaction runs fn in a nested transaction: if fn returns an error (or
// panics), the writes fn made are rolled back and the event goes on. The
// writes become durable with the event's commit.
//
// DO use the ctx passed to fn for storage calls inside it. DON'T, in a class
// with concurrent events, use the outer ctx inside fn: that call waits for
// the transaction, forever.
func (s *Storage) Transaction(ctx context.Context, fn func(ctx context.Context) error) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	return db.Transaction(ctx, fn)
}

// GetJSON reads key and decodes its JSON value into a T. ok is false if the
// key does not exist.
func GetJSON[T any](ctx context.Context, s *Storage, key string) (v T, ok bool, err error) {
	b, ok, err := s.Get(ctx, key)
	if err != nil || !ok {
		return v, ok, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, true, fmt.Errorf("get %q: decode JSON into %T: %w", key, v, err)
	}
	return v, true, nil
}

// PutJSON stores the JSON encoding of v under key.
func PutJSON[T any](ctx context.Context, s *Storage, key string, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %q: encode JSON: %w", key, err)
	}
	return s.Put(ctx, key, b)
}
