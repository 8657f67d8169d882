package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// The SQL sandbox's schema rule: no schema object of the user's may be
// named _roost_* or name _roost_* in its SQL (a foreign key, a trigger's
// table or body, a view). The authorizer cannot see all of that when a
// statement is prepared: ALTER TABLE … RENAME TO does not show it the new
// name, and SQLite resolves the tables of a view, a trigger's body and a
// foreign key only when they are used. So user SQL that changes the schema
// runs in a savepoint, and the schema is checked after it. The check is
// textual on purpose: in SQLite's syntax a name is spelled out in full
// (bare, quoted or as a string), so any reference to _roost_kv contains
// "_roost_" at the start of a name; it may refuse an object that only
// mentions such a name in a string or a comment.

// runUser runs fn, which runs the user's query on the connection, under the
// authorizer's user rules. A query that may change the schema (its text
// holds CREATE or ALTER, in any case: the authorizer refuses schema changes
// to the others) runs in a savepoint; if it made a schema object that breaks
// the sandbox's rule, the whole call is undone and fails with code
// sql_not_authorized. Otherwise, as for any user SQL, a failed statement
// leaves the statements before it in place.
func (db *DB) runUser(query string, fn func() error) error {
	if !mayChangeSchema(query) {
		db.mode = userSQL
		err := fn()
		db.mode = roostSQL
		return err
	}
	before, err := db.schemaReferences()
	if err != nil {
		return err
	}
	if err := db.execLocked("SAVEPOINT roost_ddl"); err != nil {
		return err
	}
	db.mode = userDDL
	err = fn()
	db.mode = roostSQL
	if db.conn.AutoCommit() {
		return err // SQLite rolled the transaction back itself (full disk, I/O error)
	}
	bad, cerr := db.checkSchemaChange(before)
	if bad != nil || cerr != nil {
		err = errors.Join(bad, cerr)
		if rerr := db.execLocked("ROLLBACK TO roost_ddl"); rerr != nil {
			db.broken = db.wrap("undo a refused schema change", rerr) // the refused object may remain: the batch must fail
			return errors.Join(err, rerr)
		}
	}
	return errors.Join(err, db.execLocked("RELEASE roost_ddl"))
}

// mayChangeSchema reports whether query holds CREATE or ALTER, in any case
// (SQL keywords are ASCII, and are never split).
func mayChangeSchema(query string) bool {
	for i := range len(query) {
		switch lowerASCII(query[i]) {
		case 'c':
			if hasPrefixFold(query[i:], "create") {
				return true
			}
		case 'a':
			if hasPrefixFold(query[i:], "alter") {
				return true
			}
		}
	}
	return false
}

// schemaRef is a schema object that is named _roost_* or whose SQL holds
// _roost_ (a superset of the objects that break the rule).
type schemaRef struct{ schema, typ, name, tbl, sql string }

// referencesQuery lists the schemaRefs of the main and temp schemas. LIKE
// ignores ASCII case, as SQLite does for names.
const referencesQuery = `SELECT 'main', type, name, tbl_name, coalesce(sql, '') FROM main.sqlite_master
	WHERE name LIKE '%\_roost\_%' ESCAPE '\' OR tbl_name LIKE '%\_roost\_%' ESCAPE '\' OR sql LIKE '%\_roost\_%' ESCAPE '\'
	UNION ALL SELECT 'temp', type, name, tbl_name, coalesce(sql, '') FROM temp.sqlite_master
	WHERE name LIKE '%\_roost\_%' ESCAPE '\' OR tbl_name LIKE '%\_roost\_%' ESCAPE '\' OR sql LIKE '%\_roost\_%' ESCAPE '\'`

// schemaReferences returns the schemaRefs of the connection: before user
// SQL runs, they are Roost's own objects, and any of the user's that an
// older version or another tool made (the runtime authorizer still guards
// those).
func (db *DB) schemaReferences() (map[schemaRef]bool, error) {
	rows, err := db.conn.Query(referencesQuery, nil)
	if err != nil {
		return nil, db.wrap("read schema", err)
	}
	defer rows.Close()
	out := map[schemaRef]bool{}
	v := make([]driver.Value, 5)
	for {
		if err := rows.Next(v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, db.wrap("read schema", err)
		}
		out[schemaRef{text(v[0]), text(v[1]), text(v[2]), text(v[3]), text(v[4])}] = true
	}
}

// checkSchemaChange returns an sql_not_authorized error if the schema holds
// a schemaRef that was not there before and breaks the rule.
func (db *DB) checkSchemaChange(before map[schemaRef]bool) (bad, err error) {
	after, err := db.schemaReferences()
	if err != nil {
		return nil, err
	}
	for r := range after {
		if before[r] {
			continue
		}
		if problem := userObjectProblem(r.typ, r.name, r.tbl, r.sql); problem != "" {
			return &errcode.Error{Code: errcode.SQLNotAuthorized, Message: "sql not authorized: " + problem}, nil
		}
	}
	return nil, nil
}

// userObjectProblem says why a schema object of the user's (or of an
// imported file) may not exist, or returns "".
func userObjectProblem(typ, name, tbl, sql string) string {
	switch ref, ok := internalReference(sql); {
	case internalName(name):
		return fmt.Sprintf("%s %s: names starting with %s are reserved for Roost's internal tables", typ, name, internalPrefix)
	case internalName(tbl):
		return fmt.Sprintf("%s %s is on %s: names starting with %s are reserved for Roost's internal tables, "+
			"which have no triggers or indexes of the user's", typ, name, tbl, internalPrefix)
	case ok:
		return fmt.Sprintf("%s %s names %s: names starting with %s are reserved for Roost's internal tables, "+
			"which user SQL may not reach, also not through a foreign key, trigger or view", typ, name, ref, internalPrefix)
	}
	return ""
}

// internalReference returns the first name in sql that starts with
// _roost_ (in any case): "_roost_" not preceded by a character that
// continues a name.
func internalReference(sql string) (string, bool) {
	for i := 0; i+len(internalPrefix) <= len(sql); i++ {
		if (i > 0 && nameChar(sql[i-1])) || !hasPrefixFold(sql[i:], internalPrefix) {
			continue
		}
		end := i
		for end < len(sql) && nameChar(sql[end]) {
			end++
		}
		return sql[i:end], true
	}
	return "", false
}

// nameChar reports whether SQLite reads c as part of a bare name.
func nameChar(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || '0' <= c && c <= '9' || 'a' <= lowerASCII(c) && lowerASCII(c) <= 'z'
}

// checkImportStats refuses an imported file whose statistics (sqlite_stat1,
// sqlite_stat4; have holds the file's lower-case object names) describe a
// _roost_* table or index: they would steer the plans of Roost's own
// statements.
func checkImportStats(stage *sqlite3.SQLiteConn, have map[string]bool) error {
	for _, table := range []string{"sqlite_stat1", "sqlite_stat4"} {
		if !have[table] {
			continue
		}
		names, err := selectTexts(stage, `SELECT tbl FROM `+table+` WHERE tbl LIKE '\_roost\_%' ESCAPE '\' OR idx LIKE '\_roost\_%' ESCAPE '\' OR idx LIKE 'sqlite\_autoindex\_\_roost\_%' ESCAPE '\' LIMIT 1`)
		if err != nil {
			return err
		}
		if len(names) > 0 {
			return badImport("%s holds statistics of %s: Roost's internal tables (%s*) keep their own; delete those rows first", table, names[0], internalPrefix)
		}
	}
	return nil
}
