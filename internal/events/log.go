package events

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults bound the log to DefaultMaxSegments segments of DefaultSegmentSize bytes: with
// events of about 400 bytes, some 20,000 of the latest events.
const (
	DefaultSegmentSize = 1 << 20
	DefaultMaxSegments = 8
)

// Options bound the log's storage; zero fields take the defaults.
type Options struct {
	// SegmentSize is the size past which a writer starts a new segment.
	SegmentSize int64
	// MaxSegments is how many segments are kept; a writer that starts a new one unlinks the
	// oldest beyond it.
	MaxSegments int
}

// Log is the event log in one directory. Opening it does no I/O; the directory is made by the
// first writer or follower.
type Log struct {
	dir         string
	segmentSize int64
	maxSegments int
	now         func() time.Time
}

// Open returns the log kept in dir; o may be nil.
func Open(dir string, o *Options) *Log {
	l := &Log{dir: dir, segmentSize: DefaultSegmentSize, maxSegments: DefaultMaxSegments, now: time.Now}
	if o != nil && o.SegmentSize > 0 {
		l.segmentSize = o.SegmentSize
	}
	if o != nil && o.MaxSegments > 0 {
		l.maxSegments = o.MaxSegments
	}
	return l
}

// Dir is the directory the log lives in.
func (l *Log) Dir() string { return l.dir }

const (
	segmentPrefix = "events-"
	segmentSuffix = ".log"
	lockName      = "lock" // the writers' flock; never removed while the log exists
)

func (l *Log) segmentPath(id uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%s%020d%s", segmentPrefix, id, segmentSuffix))
}

// segments lists the ids of the segments present, oldest first.
func (l *Log) segments() ([]uint64, error) {
	d, err := os.Open(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read event log %s: %w", l.dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read event log %s: %w", l.dir, err)
	}
	var ids []uint64
	for _, n := range names {
		if !strings.HasPrefix(n, segmentPrefix) || !strings.HasSuffix(n, segmentSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, segmentPrefix), segmentSuffix), 10, 64)
		if err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}
