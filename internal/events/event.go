package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// Type is the kind of object an event is about, as Docker names it.
type Type string

// The object types berth emits events for.
const (
	Container Type = "container"
	Image     Type = "image"
	Volume    Type = "volume"
	Network   Type = "network"
	Pod       Type = "pod"
)

// Actor is the object an event is about: its ID and attributes (name, image, labels, and
// what the action adds, such as exitCode or signal).
type Actor struct {
	ID         string
	Attributes map[string]string
}

// Event is one entry of the log, shaped as the Docker Engine API's events message so that
// /events can serve it as it is. Status, ID and From are the API's deprecated fields, still
// filled for container and image events as Docker does for older clients.
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     Type
	Action   string
	Actor    Actor
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
	// Cursor is the event's place in the log; `events --since CURSOR` resumes after it.
	// It is filled when the event is read, never stored.
	Cursor string `json:"cursor,omitempty"`
}

// New returns an event of typ about the object id, carrying attrs (nil allowed).
func New(typ Type, action, id string, attrs map[string]string) *Event {
	if attrs == nil {
		attrs = map[string]string{}
	}
	return &Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local"}
}

// Name is the object's name (podman's {{.Name}} in --format).
func (e *Event) Name() string { return e.Actor.Attributes["name"] }

// Image is the container's image (podman's {{.Image}} in --format).
func (e *Event) Image() string { return e.Actor.Attributes["image"] }

// Timestamp is when the event happened.
func (e *Event) Timestamp() time.Time { return time.Unix(0, e.TimeNano) }

// stamp sets the time fields and Docker's deprecated ones.
func (e *Event) stamp(now time.Time) {
	e.TimeNano = now.UnixNano()
	e.Time = now.Unix()
	if e.Scope == "" {
		e.Scope = "local"
	}
	if e.Type == Container || e.Type == Image {
		e.Status, e.ID = e.Action, e.Actor.ID
		if e.Type == Container {
			e.From = e.Actor.Attributes["image"]
		}
	}
	e.Cursor = ""
}

// Cursor is a place in the log: the segment and the byte offset at which an event starts.
type Cursor struct {
	Segment uint64
	Offset  int64
}

func (c Cursor) String() string { return fmt.Sprintf("%d:%d", c.Segment, c.Offset) }

// IsCursor says whether s has a cursor's form (SEGMENT:OFFSET, both decimal).
func IsCursor(s string) bool {
	seg, off, ok := strings.Cut(s, ":")
	return ok && isDigits(seg) && isDigits(off)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// ParseCursor reads a cursor as [Cursor.String] writes it.
func ParseCursor(s string) (Cursor, error) {
	seg, off, ok := strings.Cut(s, ":")
	if !ok || !isDigits(seg) || !isDigits(off) {
		return Cursor{}, errdefs.Newf(errdefs.ErrInvalid, "invalid event cursor %q: want SEGMENT:OFFSET", s)
	}
	n, err1 := strconv.ParseUint(seg, 10, 64)
	o, err2 := strconv.ParseInt(off, 10, 64)
	if err1 != nil || err2 != nil || n == 0 {
		return Cursor{}, errdefs.Newf(errdefs.ErrInvalid, "invalid event cursor %q: want SEGMENT:OFFSET", s)
	}
	return Cursor{Segment: n, Offset: o}, nil
}

// Less orders cursors as the log does.
func (c Cursor) Less(d Cursor) bool {
	return c.Segment < d.Segment || c.Segment == d.Segment && c.Offset < d.Offset
}
