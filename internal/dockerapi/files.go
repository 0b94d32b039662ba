package dockerapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage"
)

func (s *Server) getContainerTop(w http.ResponseWriter, r *http.Request) {
	var args []string
	if v := r.URL.Query().Get("ps_args"); v != "" {
		args = strings.Fields(v)
	}
	titles, procs, err := s.e.Top(r.Context(), r.PathValue("id"), args)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.TopResponse{Titles: titles, Processes: procs})
}

func (s *Server) getContainerChanges(w http.ResponseWriter, r *http.Request) {
	changes, err := s.e.DiffContainer(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	out := []container.FilesystemChange{}
	for _, c := range changes {
		kind := container.ChangeModify
		switch c.Kind {
		case 'A':
			kind = container.ChangeAdd
		case 'D':
			kind = container.ChangeDelete
		}
		out = append(out, container.FilesystemChange{Path: c.Path, Kind: kind})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getContainerExport(w http.ResponseWriter, r *http.Request) {
	if _, err := s.e.Container(r.Context(), r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := s.e.ExportContainer(r.Context(), r.PathValue("id"), w); err != nil {
		logrus.WithError(err).Warn("export")
	}
}

// statHeader sets X-Docker-Container-Path-Stat: base64 of the path's stat as JSON.
func (s *Server) statHeader(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Query().Get("path")
	if p == "" {
		fail(w, invalid("path is required"))
		return false
	}
	st, err := s.e.StatContainerPath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		fail(w, err)
		return false
	}
	b, err := json.Marshal(st)
	if err != nil {
		fail(w, err)
		return false
	}
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
	return true
}

func (s *Server) headContainerArchive(w http.ResponseWriter, r *http.Request) {
	if s.statHeader(w, r) {
		w.WriteHeader(http.StatusOK)
	}
}

// getContainerArchive is `docker cp CONTAINER:PATH -`: a tar of the path.
func (s *Server) getContainerArchive(w http.ResponseWriter, r *http.Request) {
	if !s.statHeader(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := s.e.CopyFromContainer(r.Context(), r.PathValue("id"), r.URL.Query().Get("path"), "-", w, nil); err != nil {
		logrus.WithError(err).Warn("archive")
	}
}

// putContainerArchive is `docker cp - CONTAINER:DIR`: a tar unpacked into a directory.
func (s *Server) putContainerArchive(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		fail(w, invalid("path is required"))
		return
	}
	o := &engine.CopyOptions{Archive: boolQuery(r, "copyUIDGID"), Overwrite: !boolQuery(r, "noOverwriteDirNonDir")}
	if err := s.e.CopyToContainer(r.Context(), "-", r.PathValue("id"), p, r.Body, o); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// streamWriter sends what the builder prints as {"stream": ...} messages.
type streamWriter struct{ js *jsonStream }

func (sw streamWriter) Write(p []byte) (int, error) {
	if err := sw.js.send(message{Stream: string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// postBuild is POST /build with a tar context: the legacy builder's JSON stream.
func (s *Server) postBuild(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if v := q.Get("version"); v == "2" {
		fail(w, errdefs.Newf(errdefs.ErrNotSupported, "BuildKit is not supported: build with DOCKER_BUILDKIT=0"))
		return
	}
	o := &build.Options{Target: q.Get("target"), NoCache: boolQuery(r, "nocache"), Pull: boolQuery(r, "pull"),
		Quiet: boolQuery(r, "q"), Platform: q.Get("platform"), Progress: "plain", BuildArgs: map[string]string{},
		Secrets: map[string]string{}}
	switch nm := q.Get("networkmode"); nm {
	case "", "default":
	case "host", "none":
		o.Network = nm
	default:
		fail(w, invalid("invalid networkmode %q for build: want default, host or none", nm))
		return
	}
	for _, t := range q["t"] {
		ref, err := libimage.ParseReference(t)
		if err != nil || ref.Digest != "" {
			fail(w, invalid("invalid tag %q", t))
			return
		}
		o.Tags = append(o.Tags, ref.TagName())
	}
	if v := q.Get("buildargs"); v != "" {
		var args map[string]*string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			fail(w, invalid("invalid buildargs: %v", err))
			return
		}
		for k, v := range args {
			if v != nil {
				o.BuildArgs[k] = *v
			}
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.Labels); err != nil {
			fail(w, invalid("invalid labels: %v", err))
			return
		}
	}
	tmp, err := os.MkdirTemp("", "berth-api-build-")
	if err != nil {
		fail(w, err)
		return
	}
	defer os.RemoveAll(tmp)
	dir, cleanup, err := engine.BuildContextFromTar(r.Context(), r.Body, tmp)
	if err != nil {
		fail(w, err)
		return
	}
	defer cleanup()
	o.ContextDir = dir
	name := q.Get("dockerfile")
	if name == "" {
		name = "Dockerfile"
	}
	df, err := os.ReadFile(path.Join(dir, path.Clean("/"+name)))
	if err != nil {
		fail(w, errdefs.Newf(errdefs.ErrInvalid, "Cannot locate specified Dockerfile: %s", name))
		return
	}
	o.Dockerfile, o.DockerfileName = df, path.Base(name)
	js := newJSONStream(w)
	o.Out = streamWriter{js}
	id, err := s.e.Build(r.Context(), o)
	if err != nil {
		var be *engine.BuildError
		if errors.As(err, &be) {
			js.fail(be)
			return
		}
		js.fail(err)
		return
	}
	_ = js.send(message{Aux: map[string]string{"ID": id}})
}
