package main

// How `roost objects` reads the object argument: a name, an ID, or the start
// of an ID as `roost objects ls` prints it.

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// minIDPrefix is the length of the shortest ID prefix the commands take:
// what ls prints. At 48 bits, two objects of a class share one only when
// someone chose their IDs so.
const minIDPrefix = 12

// maxCandidates bounds the IDs an ambiguous prefix's error lists.
const maxCandidates = 10

// refFlags choose how an object argument is read.
type refFlags struct{ name, id bool }

func (rf *refFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&rf.name, "name", false, "the argument is a name, even if it looks like an ID")
	cmd.Flags().BoolVar(&rf.id, "id", false, "the argument is an ID (64 lowercase hex characters) or its first 12 or more")
	cmd.MarkFlagsMutuallyExclusive("name", "id")
}

// ref reads the object named by class and arg: a name with --name; else an
// ID, or an ID's first 12 to 63 characters, which it looks up in the class's
// objects through c; else a name, unless --id says it must be an ID.
func (rf *refFlags) ref(ctx context.Context, c *admin.Client, class, arg string) (admin.Ref, error) {
	if rf.name {
		return admin.Ref{Class: class, Name: arg}, nil
	}
	id, err := ids.Parse(arg)
	switch {
	case err == nil:
		return admin.Ref{Class: class, ID: id}, nil
	case isIDPrefix(arg):
		id, err := resolveIDPrefix(ctx, c, class, arg)
		return admin.Ref{Class: class, ID: id}, err
	case rf.id:
		return admin.Ref{}, errcode.Wrap(errcode.InvalidID, err)
	}
	return admin.Ref{Class: class, Name: arg}, nil
}

// isIDPrefix reports whether s can be the start of an ID that ls printed:
// 12 to 63 lowercase hex characters.
func isIDPrefix(s string) bool {
	if len(s) < minIDPrefix || len(s) >= 2*ids.Size {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// resolveIDPrefix returns the ID of the one object of class whose ID starts
// with prefix. It lists the class in key order, which is ascending ID order,
// and stops at the first ID past the prefix: on average it reads half of the
// class, a page of 1,000 objects per request.
func resolveIDPrefix(ctx context.Context, c *admin.Client, class, prefix string) (ids.ID, error) {
	var found []admin.Object
	o := admin.ListOptions{Class: class, Sort: admin.SortKey, Limit: 1000}
	for {
		page, err := c.List(ctx, o)
		if err != nil {
			return ids.ID{}, err
		}
		past := false
		for _, obj := range page.Objects {
			s := obj.ID.String()
			if strings.HasPrefix(s, prefix) {
				found = append(found, obj)
				continue
			}
			if s > prefix { // and so are all the IDs after it
				past = true
				break
			}
		}
		if past || page.Next == "" {
			break
		}
		o.Cursor = page.Next
	}
	switch len(found) {
	case 0:
		return ids.ID{}, errcode.New(errcode.NotFound, "no %s object has an ID that starts with %s (an argument of 12 to 63 hex characters is read as the start of an ID; add --name if it is a name)", class, prefix)
	case 1:
		return found[0].ID, nil
	}
	return ids.ID{}, errcode.New(errcode.BadRequest, "%d %s objects have an ID that starts with %s: %s; give more of the ID", len(found), class, prefix, candidates(found))
}

// candidates lists the objects an ambiguous prefix matched: ID and name,
// the first maxCandidates of them.
func candidates(objs []admin.Object) string {
	var b strings.Builder
	for i, o := range objs {
		if i == maxCandidates {
			fmt.Fprintf(&b, ", and %d more", len(objs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.ID.String())
		if o.Name != "" {
			fmt.Fprintf(&b, " (name %s)", quoteArg(o.Name))
		}
	}
	return b.String()
}
