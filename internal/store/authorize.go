package store

import (
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqlMode says whose SQL the connection is preparing, and so which rules
// the authorizer applies.
type sqlMode uint8

const (
	// roostSQL is Roost's own statements on its own tables.
	roostSQL sqlMode = iota
	// userSQL is the user's SQL (Storage.Exec and Query, admin SQL): the
	// sandbox's rules apply, and it may not change the schema.
	userSQL
	// userDDL is user SQL that may change the schema: it runs in a
	// savepoint, and the schema is checked before the savepoint is released
	// (see runUser).
	userDDL
)

// allowedPragmas are the pragmas user SQL may run: they read the schema or
// check the file, and none changes how the engine stores or syncs data.
var allowedPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "foreign_key_check": true, "integrity_check": true,
	"quick_check": true, "user_version": true, "page_count": true, "page_size": true, "freelist_count": true,
	"defer_foreign_keys": true, "optimize": true, "collation_list": true, "data_version": true,
}

// deniedFunctions are SQL functions user SQL may not call.
// The auth_* functions are the driver's user-authentication extension, which
// Roost does not use.
var deniedFunctions = map[string]bool{"load_extension": true, "readfile": true, "writefile": true, "edit": true, "fts3_tokenizer": true,
	"authenticate": true, "auth_user_add": true, "auth_user_change": true, "auth_user_delete": true, "auth_enabled": true}

// sqliteRecursive is SQLITE_RECURSIVE (a recursive common table
// expression), which the driver does not export.
const sqliteRecursive = 33

// authorize is the SQLite authorizer: SQLite calls it for every action of a
// statement it prepares, with the trigger or view the action comes from
// (inner). It is a real authorizer, not string matching: it sees what the
// parsed statement would do, trigger bodies and views included.
func (db *DB) authorize(action int, arg3, arg4, schema, inner string) int {
	if db.mode == roostSQL {
		return authorizeRoost(action, arg3, schema, inner)
	}
	return authorizeUser(action, arg3, arg4, schema, db.mode == userDDL)
}

// authorizeRoost checks Roost's own statements. They touch only Roost's
// tables and SQLite's, so an action that comes from a trigger or a view
// (inner), writes a user table (a foreign key's cascade) or resolves one of
// Roost's names in the temp schema is user code trying to run inside
// Roost's write, where the user's rules do not apply: it is refused, and the
// write fails, rather than run unchecked. No user SQL or import can create
// such objects; this is the second line, for files made by other means.
func authorizeRoost(action int, table, schema, inner string) int {
	switch {
	case inner != "":
		return sqlite3.SQLITE_DENY
	case strings.EqualFold(schema, "temp") && internalName(table):
		return sqlite3.SQLITE_DENY
	case action == sqlite3.SQLITE_INSERT || action == sqlite3.SQLITE_UPDATE || action == sqlite3.SQLITE_DELETE:
		if !internalName(table) && !hasPrefixFold(table, "sqlite_") {
			return sqlite3.SQLITE_DENY
		}
	}
	return sqlite3.SQLITE_OK
}

// authorizeUser checks user SQL: it may not attach files, change engine
// settings, control transactions (the runtime owns them), load code, make
// virtual tables, or name Roost's internal tables (_roost_*) in any action,
// in the main or the temp schema. Schema changes need ddl (see runUser).
// Any action it does not know is refused.
func authorizeUser(action int, arg3, arg4, schema string, ddl bool) int {
	if schema != "" && !strings.EqualFold(schema, "main") && !strings.EqualFold(schema, "temp") {
		return sqlite3.SQLITE_DENY
	}
	var ok bool
	switch action {
	case sqlite3.SQLITE_SELECT, sqliteRecursive:
		ok = true
	case sqlite3.SQLITE_PRAGMA:
		name := strings.ToLower(arg3)
		ok = allowedPragmas[name] && (name != "page_size" || arg4 == "")
	case sqlite3.SQLITE_FUNCTION:
		ok = !deniedFunctions[strings.ToLower(arg4)]
	case sqlite3.SQLITE_REINDEX, sqlite3.SQLITE_ANALYZE:
		// ANALYZE, PRAGMA optimize and REINDEX without a name go through
		// every table or index: they skip Roost's (SQLITE_IGNORE), whose
		// statistics would tell how many rows they hold.
		if internalName(arg3) {
			return sqlite3.SQLITE_IGNORE
		}
		ok = true
	default:
		ok = userMayTouch(action, arg3, arg4, ddl)
	}
	if !ok {
		return sqlite3.SQLITE_DENY
	}
	return sqlite3.SQLITE_OK
}

// userMayTouch reports whether user SQL may take action on the table,
// index, trigger or view name (with other, the table of an index or a
// trigger; for ALTER TABLE, name is the schema and other the table).
func userMayTouch(action int, name, other string, ddl bool) bool {
	if internalName(name) {
		return false
	}
	switch action {
	case sqlite3.SQLITE_READ, sqlite3.SQLITE_DELETE: // other is a column, or nothing
		return true
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE:
		// SQLite's statistics steer the plans of Roost's statements too:
		// ANALYZE writes them, user SQL may not.
		return !hasPrefixFold(name, "sqlite_stat")
	case sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_TEMP_TABLE, sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_DROP_TEMP_VIEW,
		sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_DROP_TEMP_INDEX, sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_TRIGGER:
		return !internalName(other)
	case sqlite3.SQLITE_CREATE_TABLE:
		// ANALYZE creates sqlite_stat1 (a name user SQL cannot create).
		return ddl || hasPrefixFold(name, "sqlite_stat")
	case sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_TEMP_VIEW,
		sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_TEMP_INDEX, sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
		sqlite3.SQLITE_ALTER_TABLE:
		return ddl && !internalName(other)
	}
	// ATTACH, DETACH, TRANSACTION, SAVEPOINT, virtual tables, and any
	// action a later SQLite adds.
	return false
}

// internalPrefix starts the names of Roost's internal tables and indexes.
const internalPrefix = "_roost_"

// internalName reports whether a table, index, trigger or view name is
// reserved for Roost: it starts with _roost_ in any case (SQLite compares
// names case-insensitively, in ASCII only), or it is SQLite's automatic
// index of such a table.
func internalName(name string) bool {
	return hasPrefixFold(name, internalPrefix) || hasPrefixFold(name, "sqlite_autoindex_"+internalPrefix)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case
// as SQLite does for names.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
