package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

var networkMigrations = []string{
	`CREATE TABLE networks (
		name    TEXT PRIMARY KEY,
		id      TEXT NOT NULL UNIQUE,
		created INTEGER NOT NULL,
		record  TEXT NOT NULL -- JSON of the engine's network record (a libnet.Network and more)
	);
	CREATE TABLE network_ips (
		network   TEXT NOT NULL,
		ip        TEXT NOT NULL,
		container TEXT NOT NULL,
		UNIQUE(network, ip)
	);
	CREATE INDEX network_ips_container ON network_ips(container)`,
}

// Networks stores network records as JSON documents keyed by unique name and id, and the
// addresses containers hold on them.
func (d *DB) Networks() NetworkTable { return NetworkTable{d} }

// NetworkTable is the networks table and its address allocations.
type NetworkTable struct{ d *DB }

// Create inserts the record build returns, in one write transaction in which build sees
// every record already stored (to pick a free subnet and bridge name no one else can take
// meanwhile). A name already taken is ErrExists.
func (n NetworkTable) Create(ctx context.Context, name, id string, created int64, build func(existing [][]byte) (any, error)) error {
	return n.d.Update(ctx, func(tx *sql.Tx) error {
		records, err := column(ctx, tx, `SELECT record FROM networks`)
		if err != nil {
			return fmt.Errorf("list networks: %w", err)
		}
		existing := make([][]byte, len(records))
		for i, r := range records {
			existing[i] = []byte(r)
		}
		rec, err := build(existing)
		if err != nil {
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode network %s: %w", name, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO networks(name, id, created, record) VALUES(?,?,?,?)`, name, id, created, string(b))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrExists, "network with name %s already exists", name)
		}
		if err != nil {
			return fmt.Errorf("insert network %s: %w", name, err)
		}
		return nil
	})
}

// column returns the values of the one column query selects, read in tx.
func column(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Get loads the record whose name, id or unique id prefix is ref into rec and returns its name.
// The prefix is a range of ids, which the id's index finds (LIKE would read every record).
func (n NetworkTable) Get(ctx context.Context, ref string, rec any) (string, error) {
	rows, err := n.d.db.QueryContext(ctx, `SELECT name, id, record FROM networks WHERE name = ? OR (id >= ? AND id < ? || x'ff')
		ORDER BY name = ? DESC, id = ? DESC LIMIT 2`, ref, ref, ref, ref, ref)
	if err != nil {
		return "", fmt.Errorf("look up network %s: %w", ref, err)
	}
	defer rows.Close()
	var names, ids, data []string
	for rows.Next() {
		var nm, i, d string
		if err := rows.Scan(&nm, &i, &d); err != nil {
			return "", fmt.Errorf("look up network %s: %w", ref, err)
		}
		names, ids, data = append(names, nm), append(ids, i), append(data, d)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("look up network %s: %w", ref, err)
	}
	switch {
	case len(names) == 0 || ref == "":
		return "", errdefs.Newf(errdefs.ErrNotFound, "network not found: %s", ref)
	case len(names) > 1 && names[0] != ref && ids[0] != ref:
		return "", errdefs.Newf(errdefs.ErrInvalid, "network id prefix %q is ambiguous", ref)
	}
	if err := json.Unmarshal([]byte(data[0]), rec); err != nil {
		return "", fmt.Errorf("decode network %s: %w", names[0], err)
	}
	return names[0], nil
}

// Put replaces the record of network name; a missing one is ErrNotFound.
func (n NetworkTable) Put(ctx context.Context, name string, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode network %s: %w", name, err)
	}
	return n.d.Update(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE networks SET record = ? WHERE name = ?`, string(b), name)
		if err != nil {
			return fmt.Errorf("update network %s: %w", name, err)
		}
		if k, _ := r.RowsAffected(); k == 0 {
			return errdefs.Newf(errdefs.ErrNotFound, "network not found: %s", name)
		}
		return nil
	})
}

// List calls fn with each record's JSON, by name.
func (n NetworkTable) List(ctx context.Context, fn func(data []byte) error) error {
	return n.d.eachRecord(ctx, `SELECT record FROM networks ORDER BY name`, fn)
}

// Delete removes the record of name and its address allocations; a missing one is not an error.
func (n NetworkTable) Delete(ctx context.Context, name string) error {
	return n.d.Update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM network_ips WHERE network = ?`, name); err != nil {
			return fmt.Errorf("release addresses on network %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE key >= ? AND key < ?`, "ipam/"+name+"/", "ipam/"+name+"0"); err != nil {
			return fmt.Errorf("drop address cursors of network %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM networks WHERE name = ?`, name); err != nil {
			return fmt.Errorf("delete network %s: %w", name, err)
		}
		return nil
	})
}

// Allocate records an address on network for container, chosen by pick, in one IMMEDIATE
// transaction: concurrent allocations never collide. pick is told the address last allocated
// under cursor (a key naming one of the network's subnets; "" when none was) and asks used
// about its candidates one at a time, each an indexed lookup, so allocating does not read
// every address held. An address pick returns that is already held is ErrInUse.
func (n NetworkTable) Allocate(ctx context.Context, network, cursor, container string, pick func(last string, used func(ip string) bool) (string, error)) (string, error) {
	var ip string
	key := "ipam/" + network + "/" + cursor
	err := n.d.Update(ctx, func(tx *sql.Tx) error {
		var last string
		if err := tx.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&last); err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("read address cursor of network %s: %w", network, err)
		}
		var qerr error
		used := func(ip string) bool {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM network_ips WHERE network = ? AND ip = ?`, network, ip).Scan(&one)
			if err != nil && err != sql.ErrNoRows && qerr == nil {
				qerr = err
			}
			return err != sql.ErrNoRows // an error counts as held: never hand out an unchecked address
		}
		var err error
		ip, err = pick(last, used)
		if qerr != nil {
			return fmt.Errorf("look up addresses on network %s: %w", network, qerr)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO network_ips(network, ip, container) VALUES(?,?,?)`, network, ip, container)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return errdefs.Newf(errdefs.ErrInUse, "address %s is already in use on network %s", ip, network)
		}
		if err != nil {
			return fmt.Errorf("record address %s on network %s: %w", ip, network, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, ip)
		if err != nil {
			return fmt.Errorf("record address cursor of network %s: %w", network, err)
		}
		return nil
	})
	return ip, err
}

// Release drops the addresses container holds on network, or on every network if network is "".
func (n NetworkTable) Release(ctx context.Context, container, network string) error {
	return n.d.Update(ctx, func(tx *sql.Tx) error {
		var err error
		if network == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM network_ips WHERE container = ?`, container)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM network_ips WHERE container = ? AND network = ?`, container, network)
		}
		if err != nil {
			return fmt.Errorf("release addresses of %s: %w", container, err)
		}
		return nil
	})
}

// IdleHolders lists the containers that hold addresses but whose record is gone or whose
// record's State is none of active, in one query: the engine's sweep of what killed
// commands left must not read every container.
func (n NetworkTable) IdleHolders(ctx context.Context, active ...string) ([]string, error) {
	q := `SELECT DISTINCT a.container FROM network_ips a LEFT JOIN containers c ON c.id = a.container
		WHERE c.id IS NULL`
	args := make([]any, len(active))
	if len(active) > 0 {
		q += ` OR json_extract(c.record, '$.State') NOT IN (?` + strings.Repeat(`,?`, len(active)-1) + `)`
		for i, s := range active {
			args[i] = s
		}
	} else {
		q += ` OR 1`
	}
	rows, err := n.d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list idle address holders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list idle address holders: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list idle address holders: %w", err)
	}
	return out, nil
}

// Allocation is one address a container holds on a network.
type Allocation struct{ Network, IP, Container string }

// Allocations lists the addresses held on network, or on every network if network is "".
func (n NetworkTable) Allocations(ctx context.Context, network string) ([]Allocation, error) {
	rows, err := n.d.db.QueryContext(ctx, `SELECT network, ip, container FROM network_ips WHERE ? = '' OR network = ? ORDER BY network, ip`, network, network)
	if err != nil {
		return nil, fmt.Errorf("list network addresses: %w", err)
	}
	defer rows.Close()
	var out []Allocation
	for rows.Next() {
		var a Allocation
		if err := rows.Scan(&a.Network, &a.IP, &a.Container); err != nil {
			return nil, fmt.Errorf("list network addresses: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list network addresses: %w", err)
	}
	return out, nil
}
