package dockerapi

import (
	"net/http"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/events"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Builder-Version", "1")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v := system.VersionResponse{Version: engine.Version, APIVersion: Version, MinAPIVersion: MinVersion,
		Os: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	v.Platform.Name = "berth"
	if i, err := s.e.Info(r.Context()); err == nil {
		v.KernelVersion = i.Host.Kernel
	}
	v.Components = []system.ComponentVersion{{Name: "Engine", Version: engine.Version,
		Details: map[string]string{"ApiVersion": Version, "MinAPIVersion": MinVersion, "Os": v.Os, "Arch": v.Arch,
			"KernelVersion": v.KernelVersion, "GoVersion": v.GoVersion}}}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	i, err := s.e.Info(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, i.Docker())
}

// auth is POST /auth: a login checked against the registry, stored as `berth login` does.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	var a registry.AuthConfig
	if err := decode(r, &a); err != nil {
		fail(w, err)
		return
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	if err := store.Login(r.Context(), a.ServerAddress, a.Username, a.Password, nil); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
}

// diskUsage is /system/df's shape for API versions before 1.52 (the docker CLI 28's).
type diskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

func (s *Server) systemDF(w http.ResponseWriter, r *http.Request) {
	du, err := s.e.DiskUsage(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := diskUsage{LayersSize: du.LayersSize, Images: []image.Summary{}, Containers: []container.Summary{},
		Volumes: []volume.Volume{}, BuildCache: []build.CacheRecord{}}
	for _, iu := range du.Images {
		sm := imageSummary(iu.Image)
		sm.Size, sm.SharedSize, sm.Containers = iu.Size, iu.SharedSize, int64(iu.Containers)
		out.Images = append(out.Images, sm)
	}
	for _, cu := range du.Containers {
		sm := summary(cu.Container)
		sm.SizeRw = cu.Size
		out.Containers = append(out.Containers, sm)
	}
	for _, vu := range du.Volumes {
		v := apiVolume(vu.Volume)
		v.UsageData = &volume.UsageData{Size: vu.Size, RefCount: int64(vu.Links)}
		out.Volumes = append(out.Volumes, v)
	}
	for _, b := range du.BuildCache {
		out.BuildCache = append(out.BuildCache, build.CacheRecord{ID: b.ID, Type: b.Type, Size: b.Size, InUse: b.InUse})
	}
	writeJSON(w, http.StatusOK, out)
}

// getEvents is GET /events?since=&until=&filters=: the event log's window, then (without
// until) what follows as it comes.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	m, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	f, err := events.NewFilter(m)
	if err != nil {
		fail(w, invalid("%v", err))
		return
	}
	now := time.Now()
	q := events.Query{Filter: f, Follow: true}
	if v := r.URL.Query().Get("since"); v != "" {
		b, err := events.ParseBound(v, now)
		if err != nil {
			fail(w, invalid("%v", err))
			return
		}
		q.Since, q.After = b.Time, b.Cursor
	}
	if v := r.URL.Query().Get("until"); v != "" {
		b, err := events.ParseBound(v, now)
		if err != nil {
			fail(w, invalid("%v", err))
			return
		}
		q.Until, q.UntilCursor = b.Time, b.Cursor
	}
	js := newJSONStream(w)
	// The stream ends with the client, or once until has passed.
	_ = s.e.Events().Read(r.Context(), q, func(ev *events.Event) error { return js.send(ev) })
}
