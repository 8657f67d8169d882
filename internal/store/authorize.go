package store

import (
	"strings"

	"github.com/ncruces/go-sqlite3"
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
var deniedFunctions = map[string]bool{"load_extension": true, "readfile": true, "writefile": true, "edit": true, "fts3_tokenizer": true}

// authorize is the SQLite authorizer. Roost's own statements run unchecked;
// user SQL may not attach files, change engine settings, control transactions
// (the runtime owns them), load code, or touch Roost's internal tables. It is
// a real authorizer, not string matching: it sees what the parsed statement
// would do.
func (db *DB) authorize(action sqlite3.AuthorizerActionCode, name3rd, name4th, schema, inner string) sqlite3.AuthorizerReturnCode {
	if !db.user {
		return sqlite3.AUTH_OK
	}
	if schema != "" && schema != "main" && schema != "temp" {
		return sqlite3.AUTH_DENY
	}
	switch action {
	case sqlite3.AUTH_ATTACH, sqlite3.AUTH_DETACH, sqlite3.AUTH_TRANSACTION, sqlite3.AUTH_SAVEPOINT,
		sqlite3.AUTH_CREATE_VTABLE, sqlite3.AUTH_DROP_VTABLE:
		return sqlite3.AUTH_DENY
	case sqlite3.AUTH_PRAGMA:
		name := strings.ToLower(name3rd)
		if !allowedPragmas[name] || (name == "page_size" && name4th != "") {
			return sqlite3.AUTH_DENY
		}
	case sqlite3.AUTH_FUNCTION:
		if deniedFunctions[strings.ToLower(name4th)] {
			return sqlite3.AUTH_DENY
		}
	case sqlite3.AUTH_READ, sqlite3.AUTH_INSERT, sqlite3.AUTH_UPDATE, sqlite3.AUTH_DELETE,
		sqlite3.AUTH_CREATE_TABLE, sqlite3.AUTH_DROP_TABLE, sqlite3.AUTH_ALTER_TABLE, sqlite3.AUTH_ANALYZE,
		sqlite3.AUTH_CREATE_INDEX, sqlite3.AUTH_DROP_INDEX, sqlite3.AUTH_CREATE_TRIGGER, sqlite3.AUTH_DROP_TRIGGER,
		sqlite3.AUTH_CREATE_VIEW, sqlite3.AUTH_DROP_VIEW, sqlite3.AUTH_REINDEX:
		if internalName(name3rd) || internalName(name4th) && action != sqlite3.AUTH_READ && action != sqlite3.AUTH_UPDATE {
			return sqlite3.AUTH_DENY
		}
	}
	return sqlite3.AUTH_OK
}

// internalName reports whether a table or index belongs to Roost (or to
// SQLite itself for writes): user SQL may not touch those.
func internalName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "_roost_") || strings.HasPrefix(n, "sqlite_autoindex__roost_")
}
