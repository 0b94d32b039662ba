package dockerapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// timeoutQuery reads ?t= (seconds) as a stop timeout; nil when absent.
func timeoutQuery(r *http.Request) (*time.Duration, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		v = r.URL.Query().Get("timeout")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, invalid("invalid timeout %q: not a number", v)
	}
	d := time.Duration(n) * time.Second
	if n < 0 {
		d = -1
	}
	return &d, nil
}

func (s *Server) postContainerStart(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := s.e.Container(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	if c.Active() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	so := &engine.StartOptions{BeforeStart: s.connectAttaches}
	if _, err := s.e.StartContainer(context.WithoutCancel(r.Context()), c.ID, so); err != nil {
		s.dropAttaches(c.ID, err)
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) postContainerStop(w http.ResponseWriter, r *http.Request) {
	t, err := timeoutQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if !c.Active() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if _, err := s.e.StopContainer(context.WithoutCancel(r.Context()), c.ID, t); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) postContainerRestart(w http.ResponseWriter, r *http.Request) {
	t, err := timeoutQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	if _, err := s.e.RestartContainer(context.WithoutCancel(r.Context()), r.PathValue("id"), t); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) postContainerKill(w http.ResponseWriter, r *http.Request) {
	sig := r.URL.Query().Get("signal")
	if sig == "" {
		sig = "KILL"
	}
	n, err := engine.ParseSignal(sig)
	if err != nil {
		fail(w, err)
		return
	}
	if _, err := s.e.KillContainer(r.Context(), r.PathValue("id"), n); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) pause(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.e.PauseContainer(r.Context(), r.PathValue("id"), pause); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) postContainerRename(w http.ResponseWriter, r *http.Request) {
	if err := s.e.RenameContainer(r.Context(), r.PathValue("id"), r.URL.Query().Get("name")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteContainer(w http.ResponseWriter, r *http.Request) {
	o := engine.RemoveOptions{Force: boolQuery(r, "force"), Volumes: boolQuery(r, "v")}
	if err := s.e.RemoveContainer(context.WithoutCancel(r.Context()), r.PathValue("id"), o); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getContainerJSON(w http.ResponseWriter, r *http.Request) {
	j, err := s.e.InspectContainer(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if !strings.HasPrefix(j.Name, "/") {
		j.Name = "/" + j.Name
	}
	if c, err := s.e.Container(r.Context(), j.ID); err == nil {
		configuredNetworks(r.Context(), s.e, c, j)
	}
	writeJSON(w, http.StatusOK, j)
}

// configuredNetworks lists, as Docker does, the networks a container not running is
// configured for in NetworkSettings.Networks (without addresses): compose reads them to
// decide between connecting and reconnecting.
func configuredNetworks(ctx context.Context, e *engine.Engine, c *engine.Container, j *engine.ContainerJSON) {
	if j.NetworkSettings == nil {
		j.NetworkSettings = map[string]any{}
	}
	nets, _ := j.NetworkSettings["Networks"].(map[string]engine.EndpointJSON)
	if nets == nil {
		nets = map[string]engine.EndpointJSON{}
	}
	for _, nr := range c.Options.Networks {
		if _, ok := nets[nr.Name]; ok {
			continue
		}
		ep := engine.EndpointJSON{Aliases: nr.Aliases}
		if n, err := e.Network(ctx, nr.Name); err == nil {
			ep.NetworkID = n.ID
		}
		nets[nr.Name] = ep
	}
	j.NetworkSettings["Networks"] = nets
}

// postContainerWait is POST /containers/{id}/wait?condition=not-running|next-exit|removed.
// The status line goes out at once (the docker CLI waits before it starts the container);
// the body follows when the condition is met.
func (s *Server) postContainerWait(w http.ResponseWriter, r *http.Request) {
	cond := r.URL.Query().Get("condition")
	switch cond {
	case "", "not-running", "next-exit", "removed":
	default:
		fail(w, invalid("invalid condition %q: want not-running, next-exit or removed", cond))
		return
	}
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher(w)()
	code, err := s.waitFor(r.Context(), c, cond)
	resp := container.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		resp.Error = &container.WaitExitError{Message: err.Error()}
	}
	writeBody(w, resp)
}

// waitFor polls the container's record until cond holds and returns its exit status.
func (s *Server) waitFor(ctx context.Context, c *engine.Container, cond string) (int, error) {
	id, finished := c.ID, c.FinishedAt
	code := c.ExitCode
	for {
		cur, err := s.e.Container(ctx, id)
		if errors.Is(err, errdefs.ErrNotFound) {
			if v, ok := s.seenExit(id); ok {
				code = v
			}
			return code, nil
		}
		if err != nil {
			return code, err
		}
		exited := cur.State == engine.StateExited || cur.State == engine.StateCreated && !cur.FinishedAt.IsZero()
		if exited {
			code = cur.ExitCode
		}
		switch cond {
		case "", "not-running":
			if !cur.Active() {
				return code, nil
			}
		case "next-exit":
			if exited && !cur.FinishedAt.Equal(finished) {
				return code, nil
			}
		}
		select {
		case <-ctx.Done():
			return code, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (s *Server) postContainersPrune(w http.ResponseWriter, r *http.Request) {
	f, err := pruneFilter(r, "until", "label", "label!")
	if err != nil {
		fail(w, err)
		return
	}
	ids, size, err := s.e.PruneContainers(r.Context(), f)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: nonNil(ids), SpaceReclaimed: uint64(size)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// pruneFilter turns the filters parameter into the engine's prune filter.
func pruneFilter(r *http.Request, keys ...string) (engine.PruneFilter, error) {
	m, err := filtersQuery(r)
	if err != nil {
		return engine.PruneFilter{}, err
	}
	var list []string
	for k, vs := range m {
		for _, v := range vs {
			list = append(list, k+"="+v)
		}
	}
	return engine.ParsePruneFilters(list, keys...)
}

// getContainersJSON is `docker ps`: GET /containers/json?all=&filters=&limit=.
func (s *Server) getContainersJSON(w http.ResponseWriter, r *http.Request) {
	filters, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := checkKeys(filters, "status", "name", "label", "id", "ancestor", "exited", "network", "volume", "health", "before", "since", "publish", "expose", "is-task"); err != nil {
		fail(w, err)
		return
	}
	all := boolQuery(r, "all")
	cs, err := s.e.Containers(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := []container.Summary{}
	for _, c := range cs {
		if c.Infra {
			continue
		}
		if !all && !c.Active() && len(filters["status"]) == 0 {
			continue
		}
		if !matchContainer(c, filters) {
			continue
		}
		out = append(out, summary(c))
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && len(out) > n {
		out = out[:n]
	}
	writeJSON(w, http.StatusOK, out)
}

func checkKeys(f map[string][]string, keys ...string) error {
	for k := range f {
		if !contains(keys, k) {
			return invalid("invalid filter '%s'", k)
		}
	}
	return nil
}

// matchContainer applies ps filters: values of one key ORed, keys ANDed.
func matchContainer(c *engine.Container, f map[string][]string) bool {
	any := func(key string, fn func(v string) bool) bool {
		vs, ok := f[key]
		if !ok {
			return true
		}
		for _, v := range vs {
			if fn(v) {
				return true
			}
		}
		return false
	}
	return any("status", func(v string) bool { return v == c.State }) &&
		any("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		any("ancestor", func(v string) bool { return c.Options.Image == v || strings.HasPrefix(c.ImageID, v) }) &&
		any("exited", func(v string) bool { return c.State == engine.StateExited && strconv.Itoa(c.ExitCode) == v }) &&
		any("network", func(v string) bool { return contains(c.NetworkNames(), v) || c.NetworkMode() == v }) &&
		any("health", func(v string) bool { return c.Health != nil && c.Health.Status == v || c.Health == nil && v == "none" }) &&
		any("volume", func(v string) bool { return hasMount(c, v) }) &&
		allLabels(c.Options.Labels, f["label"])
}

func hasMount(c *engine.Container, v string) bool {
	for _, m := range c.Options.Mounts {
		if m.Source == v || m.Target == v {
			return true
		}
	}
	return false
}

// allLabels says labels has every KEY or KEY=VALUE of want.
func allLabels(labels map[string]string, want []string) bool {
	for _, l := range want {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || hasV && got != v {
			return false
		}
	}
	return true
}

// summary is a container's line of /containers/json.
func summary(c *engine.Container) container.Summary {
	cmd := c.Options.Cmd
	if c.Options.Entrypoint != nil {
		cmd = append(append([]string{}, *c.Options.Entrypoint...), cmd...)
	}
	sm := container.Summary{ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Options.Image, ImageID: c.ImageID,
		Command: strings.Join(cmd, " "), Created: c.Created.Unix(), Labels: c.Options.Labels,
		State: container.ContainerState(c.State), Status: c.Status(), Ports: []container.PortSummary{},
		Mounts: []container.MountPoint{}}
	if sm.Labels == nil {
		sm.Labels = map[string]string{}
	}
	sm.HostConfig.NetworkMode = c.NetworkMode()
	sm.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}
	for _, n := range c.NetworkNames() {
		sm.NetworkSettings.Networks[n] = &network.EndpointSettings{}
	}
	if c.Net != nil && c.Active() {
		for _, p := range c.Net.Ports {
			ps := container.PortSummary{PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Protocol}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			ps.IP, _ = netip.ParseAddr(ip)
			sm.Ports = append(sm.Ports, ps)
		}
	}
	for _, m := range c.Options.Mounts {
		mp := container.MountPoint{Type: mount.Type(m.Type), Destination: m.Target, Source: m.Source, RW: !m.ReadOnly}
		if m.Type == "volume" {
			mp.Name = m.Source
			mp.Driver = "local"
		}
		sm.Mounts = append(sm.Mounts, mp)
	}
	if c.Health != nil {
		sm.Health = &container.HealthSummary{Status: container.HealthStatus(c.Health.Status), FailingStreak: c.Health.FailingStreak}
	}
	return sm
}
