package state

import (
	"context"
	"encoding/json"

	"github.com/berth-project/berth/internal/errdefs"
)

// lookup runs query, which selects id, name and record of the records ref may name (by name
// first, then by whole id, at most two), and decodes the one ref names into rec, returning its
// id: none is notFound's error, two that ref names only by prefix are ambiguous.
func (d *DB) lookup(ctx context.Context, kind, ref string, rec any, notFound func() error, query string, args ...any) (string, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var ids, names, data []string
	for rows.Next() {
		var i, n, d string
		if err := rows.Scan(&i, &n, &d); err != nil {
			return "", err
		}
		ids, names, data = append(ids, i), append(names, n), append(data, d)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case len(ids) == 0 || ref == "":
		return "", notFound()
	case len(ids) > 1 && names[0] != ref && ids[0] != ref:
		return "", errdefs.Newf(errdefs.ErrInvalid, "%s id prefix %q is ambiguous", kind, ref)
	}
	return ids[0], json.Unmarshal([]byte(data[0]), rec)
}
