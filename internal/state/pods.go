package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

var podMigrations = []string{
	`CREATE TABLE pods (
		id      TEXT PRIMARY KEY,
		name    TEXT NOT NULL UNIQUE,
		created INTEGER NOT NULL,
		record  TEXT NOT NULL -- JSON of the engine's pod record
	)`,
}

// Row is one object's row in a table of JSON records: its id, unique name, creation time
// (Unix nanoseconds) and record.
type Row struct {
	ID, Name string
	Created  int64
	Record   any
}

// Pods stores pod records as JSON documents keyed by id and unique name; the engine owns
// their shape. A pod and its infra container are written and removed in one transaction, so
// a berth killed at any point leaves either both or neither.
func (d *DB) Pods() PodTable { return PodTable{d} }

// PodTable is the pods table.
type PodTable struct{ d *DB }

// Insert adds a pod and the containers created with it (its infra container) in one
// transaction; a pod or container name already taken is ErrExists.
func (p PodTable) Insert(ctx context.Context, pod Row, containers ...Row) error {
	b, err := json.Marshal(pod.Record)
	if err != nil {
		return err
	}
	return p.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pods(id, name, created, record) VALUES(?,?,?,?)`, pod.ID, pod.Name, pod.Created, string(b))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrExists, "the pod name %q is already in use", pod.Name)
		}
		if err != nil {
			return err
		}
		for _, c := range containers {
			cb, err := json.Marshal(c.Record)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO containers(id, name, created, record) VALUES(?,?,?,?)`, c.ID, c.Name, c.Created, string(cb))
			if err != nil && strings.Contains(err.Error(), "UNIQUE") {
				return errdefs.Newf(errdefs.ErrExists, "the container name %q is already in use", c.Name)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Put replaces the record of id.
func (p PodTable) Put(ctx context.Context, id string, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return p.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE pods SET record = ? WHERE id = ?`, string(b), id)
		return err
	})
}

// Get loads the record whose name, id or unique id prefix is ref into rec and returns its id.
func (p PodTable) Get(ctx context.Context, ref string, rec any) (string, error) {
	notFound := func() error {
		return errdefs.Newf(errdefs.ErrNotFound, "no pod with name or ID %s found: no such pod", ref)
	}
	return p.d.lookup(ctx, "pod", ref, rec, notFound,
		`SELECT id, name, record FROM pods WHERE name = ? OR id LIKE ? || '%'
		ORDER BY name = ? DESC, id = ? DESC LIMIT 2`, ref, ref, ref, ref)
}

// List calls fn with each record's JSON, newest first.
func (p PodTable) List(ctx context.Context, fn func(data []byte) error) error {
	return p.d.eachRecord(ctx, `SELECT record FROM pods ORDER BY created DESC`, fn)
}

// Delete removes the pod id and the given containers (its infra container) in one
// transaction; missing rows are not an error.
func (p PodTable) Delete(ctx context.Context, id string, containers ...string) error {
	return p.d.Update(ctx, func(tx *sql.Tx) error {
		for _, c := range containers {
			if _, err := tx.ExecContext(ctx, `DELETE FROM containers WHERE id = ?`, c); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM pods WHERE id = ?`, id)
		return err
	})
}
