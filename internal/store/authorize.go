package store

import (
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
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

// authorize is the SQLite authorizer. Roost's own statements run unchecked;
// user SQL may not attach files, change engine settings, control transactions
// (the runtime owns them), load code, or touch Roost's internal tables. It is
// a real authorizer, not string matching: it sees what the parsed statement
// would do.
func (db *DB) authorize(action int, name3rd, name4th, schema string) int {
	if !db.user {
		return sqlite3.SQLITE_OK
	}
	if schema != "" && schema != "main" && schema != "temp" {
		return sqlite3.SQLITE_DENY
	}
	switch action {
	case sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT,
		sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE:
		return sqlite3.SQLITE_DENY
	case sqlite3.SQLITE_PRAGMA:
		name := strings.ToLower(name3rd)
		if !allowedPragmas[name] || (name == "page_size" && name4th != "") {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_FUNCTION:
		if deniedFunctions[strings.ToLower(name4th)] {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
		sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_ANALYZE,
		sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_DROP_TRIGGER,
		sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_REINDEX:
		if internalName(name3rd) || internalName(name4th) && action != sqlite3.SQLITE_READ && action != sqlite3.SQLITE_UPDATE {
			return sqlite3.SQLITE_DENY
		}
	}
	return sqlite3.SQLITE_OK
}

// internalName reports whether a table or index belongs to Roost (or to
// SQLite itself for writes): user SQL may not touch those.
func internalName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "_roost_") || strings.HasPrefix(n, "sqlite_autoindex__roost_")
}
