package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

var volumeMigrations = []string{
	`CREATE TABLE volumes (
		name    TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		record  TEXT NOT NULL -- JSON of the engine's volume record
	)`,
}

// Volumes stores named volume records as JSON documents keyed by name.
func (d *DB) Volumes() VolumeTable { return VolumeTable{d} }

// VolumeTable is the volumes table.
type VolumeTable struct{ d *DB }

// Insert adds a record; a name already taken is ErrExists.
func (v VolumeTable) Insert(ctx context.Context, name string, created int64, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return v.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO volumes(name, created, record) VALUES(?,?,?)`, name, created, string(b))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrExists, "volume with name %s already exists", name)
		}
		return err
	})
}

// Get loads the record of name into rec.
func (v VolumeTable) Get(ctx context.Context, name string, rec any) error {
	var d string
	err := v.d.db.QueryRowContext(ctx, `SELECT record FROM volumes WHERE name = ?`, name).Scan(&d)
	if err == sql.ErrNoRows {
		return errdefs.Newf(errdefs.ErrNotFound, "no such volume: %s", name)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(d), rec)
}

// List calls fn with each record's JSON, by name.
func (v VolumeTable) List(ctx context.Context, fn func(data []byte) error) error {
	return v.d.eachRecord(ctx, `SELECT record FROM volumes ORDER BY name`, fn)
}

// Delete removes the record of name; a missing one is not an error.
func (v VolumeTable) Delete(ctx context.Context, name string) error {
	return v.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM volumes WHERE name = ?`, name)
		return err
	})
}
