// Package state owns berth's SQLite database: the only package that runs SQL. The database
// is opened in WAL mode with a busy timeout; write transactions begin IMMEDIATE so two
// processes never deadlock upgrading a read lock; each component migrates its own schema
// under a version table before any other access.
package state

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// DB is an open state database.
type DB struct{ db *sql.DB }

// component is one owner's schema: migrations[i] takes it from version i to i+1.
type component struct {
	name       string
	migrations []string
}

// components lists every schema in the database. Add a component or append a migration;
// never edit a migration that has shipped.
var components = []component{
	{"core", coreMigrations},
	{"images", imageMigrations},
	{"containers", containerMigrations},
	{"volumes", volumeMigrations},
	{"buildcache", buildCacheMigrations},
	{"networks", networkMigrations},
	{"pods", podMigrations},
}

var coreMigrations = []string{
	`CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("_busy_timeout", "30000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	d := &DB{db: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate state %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate(ctx context.Context) error {
	have := map[string]int{}
	rows, err := d.db.QueryContext(ctx, `SELECT component, version FROM schema_version`)
	if err == nil {
		for rows.Next() {
			var n string
			var v int
			if err := rows.Scan(&n, &v); err != nil {
				rows.Close()
				return err
			}
			have[n] = v
		}
		rows.Close()
		if !needsMigration(have) {
			return nil
		}
	}
	return d.Update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
			return err
		}
		for _, c := range components {
			var v int
			err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, c.name).Scan(&v)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if v > len(c.migrations) {
				return fmt.Errorf("schema %s is version %d, newer than this berth knows (%d)", c.name, v, len(c.migrations))
			}
			for i := v; i < len(c.migrations); i++ {
				if _, err := tx.ExecContext(ctx, c.migrations[i]); err != nil {
					return fmt.Errorf("schema %s migration %d: %w", c.name, i+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(component, version) VALUES(?, ?)
				ON CONFLICT(component) DO UPDATE SET version = excluded.version`, c.name, len(c.migrations)); err != nil {
				return err
			}
		}
		return nil
	})
}

func needsMigration(have map[string]int) bool {
	for _, c := range components {
		if have[c.name] != len(c.migrations) {
			return true
		}
	}
	return false
}

// Update runs fn in one short IMMEDIATE write transaction, committing if fn returns nil.
func (d *DB) Update(ctx context.Context, fn func(tx *sql.Tx) error) (retErr error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if retErr != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// querier is what both *sql.DB and *sql.Tx offer for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Get returns the value stored under key in the core key-value table, or "" if none.
func (d *DB) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, err
}

// Set stores value under key in the core key-value table.
func (d *DB) Set(ctx context.Context, key, value string) error {
	return d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// eachRecord calls fn with the first column of each row query returns.
func (d *DB) eachRecord(ctx context.Context, query string, fn func(data []byte) error, args ...any) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}
