package state

import (
	"context"
	"fmt"
)

// CountRows returns the number of rows of table, or 0 when the table does not exist yet.
func (d *DB) CountRows(ctx context.Context, table string) (int, error) {
	var exists int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?`, table).Scan(&exists); err != nil || exists == 0 {
		return 0, err
	}
	var n int
	// table is checked above to be a real table name, so quoting it is safe.
	err := d.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n)
	return n, err
}
