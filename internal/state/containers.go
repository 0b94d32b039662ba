package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

var containerMigrations = []string{
	`CREATE TABLE containers (
		id      TEXT PRIMARY KEY,
		name    TEXT NOT NULL UNIQUE,
		created INTEGER NOT NULL,
		record  TEXT NOT NULL -- JSON of the engine's container record
	)`,
}

// Containers stores container records as JSON documents keyed by id and unique name; the
// engine owns their shape.
func (d *DB) Containers() ContainerTable { return ContainerTable{d} }

// ContainerTable is the containers table.
type ContainerTable struct{ d *DB }

// Insert adds a record; a name already taken is ErrExists.
func (c ContainerTable) Insert(ctx context.Context, id, name string, created int64, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return c.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO containers(id, name, created, record) VALUES(?,?,?,?)`, id, name, created, string(b))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrExists, "the container name %q is already in use", name)
		}
		return err
	})
}

// Put replaces the record of id.
func (c ContainerTable) Put(ctx context.Context, id string, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return c.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE containers SET record = ? WHERE id = ?`, string(b), id)
		return err
	})
}

// Get loads the record whose name, id or unique id prefix is ref into rec and returns its id.
// The prefix is a range of ids, which the primary key's index finds; LIKE would read every
// record, and every command that names a container comes through here.
func (c ContainerTable) Get(ctx context.Context, ref string, rec any) (string, error) {
	notFound := func() error { return errdefs.Newf(errdefs.ErrNotFound, "no such container: %s", ref) }
	return c.d.lookup(ctx, "container", ref, rec, notFound,
		`SELECT id, name, record FROM containers WHERE name = ? OR (id >= ? AND id < ? || x'ff')
		ORDER BY name = ? DESC, id = ? DESC LIMIT 2`, ref, ref, ref, ref, ref)
}

// List calls fn with each record's JSON, newest first.
func (c ContainerTable) List(ctx context.Context, fn func(data []byte) error) error {
	return c.d.eachRecord(ctx, `SELECT record FROM containers ORDER BY created DESC`, fn)
}

// Mentioning calls fn with each record whose JSON contains s (a container id), newest first:
// SQLite searches the text, so finding the few records that name a container decodes none
// of the others.
func (c ContainerTable) Mentioning(ctx context.Context, s string, fn func(data []byte) error) error {
	return c.d.eachRecord(ctx, `SELECT record FROM containers WHERE instr(record, ?) > 0 ORDER BY created DESC`, fn, s)
}

// Delete removes the record of id; a missing one is not an error.
func (c ContainerTable) Delete(ctx context.Context, id string) error {
	return c.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM containers WHERE id = ?`, id)
		return err
	})
}

// Rename changes the name of id and replaces its record; a name already taken is ErrExists.
func (c ContainerTable) Rename(ctx context.Context, id, name string, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return c.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE containers SET name = ?, record = ? WHERE id = ?`, name, string(b), id)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrExists, "the container name %q is already in use", name)
		}
		return err
	})
}
