package state

import (
	"context"
	"database/sql"
	"time"
)

// buildCacheMigrations is the build cache's schema: which image a build step with a given
// cache key produced, and which images are a build's intermediate steps (hidden from
// `images` without -a, as Docker hides them).
var buildCacheMigrations = []string{
	`CREATE TABLE build_cache (
		key      TEXT PRIMARY KEY,
		image_id TEXT NOT NULL,
		created  INTEGER NOT NULL
	);
	CREATE INDEX build_cache_image ON build_cache(image_id);
	CREATE TABLE build_intermediates (
		image_id TEXT PRIMARY KEY
	);`,
}

// BuildCache is the build cache's view of the database.
type BuildCache struct{ d *DB }

// BuildCache returns the build cache's view of the database.
func (d *DB) BuildCache() BuildCache { return BuildCache{d} }

// Get returns the image a step with key produced, "" when there is none or the image is
// gone from the store.
func (b BuildCache) Get(ctx context.Context, key string) (string, error) {
	var id string
	err := b.d.db.QueryRowContext(ctx, `SELECT c.image_id FROM build_cache c JOIN images i ON i.id = c.image_id
		WHERE c.key = ?`, key).Scan(&id)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return id, err
}

// Put records that the step with key produced imageID.
func (b BuildCache) Put(ctx context.Context, key, imageID string) error {
	return b.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO build_cache(key, image_id, created) VALUES(?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, created = excluded.created`,
			key, imageID, time.Now().UnixNano())
		return err
	})
}

// MarkIntermediate records imageID as a build's intermediate step.
func (b BuildCache) MarkIntermediate(ctx context.Context, imageID string) error {
	return b.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO build_intermediates(image_id) VALUES(?) ON CONFLICT(image_id) DO NOTHING`, imageID)
		return err
	})
}

// UnmarkIntermediate makes imageID an ordinary image again: a build's result.
func (b BuildCache) UnmarkIntermediate(ctx context.Context, imageID string) error {
	return b.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM build_intermediates WHERE image_id = ?`, imageID)
		return err
	})
}

// Intermediates returns the IDs of intermediate build images.
func (b BuildCache) Intermediates(ctx context.Context) (map[string]bool, error) {
	rows, err := b.d.db.QueryContext(ctx, `SELECT image_id FROM build_intermediates`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// Forget drops cache entries and intermediate marks whose image is gone from the store and
// returns how many cache entries went.
func (b BuildCache) Forget(ctx context.Context) (int64, error) {
	var n int64
	err := b.d.Update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM build_cache WHERE image_id NOT IN (SELECT id FROM images)`)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM build_intermediates WHERE image_id NOT IN (SELECT id FROM images)`)
		return err
	})
	return n, err
}
