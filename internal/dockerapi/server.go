package dockerapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/engine"
)

// Version is the API version served; MinVersion the oldest a client may ask for.
const (
	Version    = "1.51"
	MinVersion = "1.44"
)

// Server serves the Engine API from one engine.
type Server struct {
	e   *engine.Engine
	mux *http.ServeMux

	active atomic.Int64 // requests in flight, streams included
	last   atomic.Int64 // unix nanos of the last request's end

	mu       sync.Mutex
	attaches map[string][]*pendingAttach // created containers' attaches waiting for start
	exitCode map[string]int              // exit status seen by attach streams (for wait)
	execs    map[string]*execSession
	conns    map[string]*engine.AttachConn // attach streams this service holds (resize)
	// leftNetworkless marks containers a disconnect through this service left with no
	// network: they may join one again.
	leftNetworkless map[string]bool
}

// New returns a server for e.
func New(e *engine.Engine) *Server {
	s := &Server{e: e, mux: http.NewServeMux(),
		attaches: map[string][]*pendingAttach{}, exitCode: map[string]int{}, execs: map[string]*execSession{}, conns: map[string]*engine.AttachConn{}, leftNetworkless: map[string]bool{}}
	s.last.Store(time.Now().UnixNano())
	s.routes()
	return s
}

var versionPrefix = regexp.MustCompile(`^/v(\d+\.\d+)(/.*)$`)

// ServeHTTP strips a /v1.xx prefix, checks the version and dispatches; a path no handler
// serves gets Docker's JSON error with 501.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer func() {
		s.last.Store(time.Now().UnixNano())
		s.active.Add(-1)
	}()
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		if versionLess(m[1], MinVersion) {
			writeError(w, http.StatusBadRequest, "client version "+m[1]+" is too old. Minimum supported API version is "+MinVersion+", please upgrade your client to a newer version")
			return
		}
		r.URL.Path = m[2]
		r.URL.RawPath = ""
	}
	w.Header().Set("Api-Version", Version)
	w.Header().Set("Server", "berth/"+engine.Version)
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Ostype", "linux")
	logrus.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Debug("api request")
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotImplemented, "berth does not implement "+r.Method+" "+r.URL.Path)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// versionLess compares two MAJOR.MINOR versions.
func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	if am != bm {
		return atoi(am) < atoi(bm)
	}
	return atoi(an) < atoi(bn)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Serve answers requests on l until ctx ends or, with idle > 0, until no request or stream
// has been open for idle.
func (s *Server) Serve(ctx context.Context, l net.Listener, idle time.Duration) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	var tick <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(idle/4+time.Millisecond, time.Second))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			return nil
		case <-tick:
			if s.active.Load() == 0 && time.Since(time.Unix(0, s.last.Load())) >= idle {
				logrus.Debug("api service idle, exiting")
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = hs.Shutdown(sctx)
				return nil
			}
		}
	}
}
