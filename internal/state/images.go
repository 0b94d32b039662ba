package state

import (
	"context"
	"database/sql"
	"time"

	"github.com/berth-project/berth/libimage"
)

// imageMigrations is the image store's schema.
var imageMigrations = []string{
	`CREATE TABLE layers (
		chain_id TEXT PRIMARY KEY,
		diff_id  TEXT NOT NULL,
		parent   TEXT NOT NULL,
		size     INTEGER NOT NULL
	);
	CREATE TABLE images (
		id              TEXT PRIMARY KEY,
		manifest_digest TEXT NOT NULL,
		top_layer       TEXT NOT NULL,
		size            INTEGER NOT NULL,
		created         INTEGER NOT NULL,
		added           INTEGER NOT NULL
	);
	CREATE TABLE image_names (
		name     TEXT PRIMARY KEY,
		image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
		kind     TEXT NOT NULL -- 'tag' or 'digest'
	);
	CREATE INDEX image_names_image ON image_names(image_id);`,
}

// ImageMetadata implements libimage.Metadata.
type ImageMetadata struct{ d *DB }

var _ libimage.Metadata = ImageMetadata{}

// Images returns the image store's view of the database.
func (d *DB) Images() ImageMetadata { return ImageMetadata{d} }

func (m ImageMetadata) Layer(ctx context.Context, chainID string) (*libimage.LayerRecord, error) {
	l := libimage.LayerRecord{ChainID: chainID}
	err := m.d.db.QueryRowContext(ctx, `SELECT diff_id, parent, size FROM layers WHERE chain_id = ?`, chainID).Scan(&l.DiffID, &l.Parent, &l.Size)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func (m ImageMetadata) Layers(ctx context.Context) ([]libimage.LayerRecord, error) {
	rows, err := m.d.db.QueryContext(ctx, `SELECT chain_id, diff_id, parent, size FROM layers`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []libimage.LayerRecord
	for rows.Next() {
		var l libimage.LayerRecord
		if err := rows.Scan(&l.ChainID, &l.DiffID, &l.Parent, &l.Size); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (m ImageMetadata) PutLayer(ctx context.Context, l libimage.LayerRecord) error {
	return m.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO layers(chain_id, diff_id, parent, size) VALUES(?,?,?,?)
			ON CONFLICT(chain_id) DO UPDATE SET size = excluded.size`, l.ChainID, l.DiffID, l.Parent, l.Size)
		return err
	})
}

func (m ImageMetadata) DeleteLayer(ctx context.Context, chainID string) error {
	return m.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM layers WHERE chain_id = ?`, chainID)
		return err
	})
}

func (m ImageMetadata) Images(ctx context.Context) ([]libimage.ImageRecord, error) {
	rows, err := m.d.db.QueryContext(ctx, `SELECT i.id, i.manifest_digest, i.top_layer, i.size, i.created, i.added,
		COALESCE(n.name, ''), COALESCE(n.kind, '')
		FROM images i LEFT JOIN image_names n ON n.image_id = i.id ORDER BY i.added DESC, i.id, n.rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []libimage.ImageRecord
	for rows.Next() {
		var r libimage.ImageRecord
		var created, added int64
		var name, kind string
		if err := rows.Scan(&r.ID, &r.ManifestDigest, &r.TopLayer, &r.Size, &created, &added, &name, &kind); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			r.Created, r.Added = time.Unix(0, created).UTC(), time.Unix(0, added).UTC()
			out = append(out, r)
		}
		last := &out[len(out)-1]
		switch kind {
		case "tag":
			last.Names = append(last.Names, name)
		case "digest":
			last.Digests = append(last.Digests, name)
		}
	}
	return out, rows.Err()
}

func (m ImageMetadata) PutImage(ctx context.Context, img libimage.ImageRecord) error {
	return m.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO images(id, manifest_digest, top_layer, size, created, added) VALUES(?,?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, size = excluded.size, added = excluded.added`,
			img.ID, img.ManifestDigest, img.TopLayer, img.Size, img.Created.UnixNano(), img.Added.UnixNano())
		if err != nil {
			return err
		}
		if err := addNames(ctx, tx, img.ID, img.Names, "tag"); err != nil {
			return err
		}
		return addNames(ctx, tx, img.ID, img.Digests, "digest")
	})
}

func addNames(ctx context.Context, tx *sql.Tx, id string, names []string, kind string) error {
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_names(name, image_id, kind) VALUES(?,?,?)
			ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id`, n, id, kind); err != nil {
			return err
		}
	}
	return nil
}

func (m ImageMetadata) SetNames(ctx context.Context, id string, names []string) error {
	return m.d.Update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM image_names WHERE image_id = ? AND kind = 'tag'`, id); err != nil {
			return err
		}
		return addNames(ctx, tx, id, names, "tag")
	})
}

func (m ImageMetadata) DeleteImage(ctx context.Context, id string) error {
	return m.d.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM images WHERE id = ?`, id)
		return err
	})
}
