package dockerapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/errdefs"
)

// apiVolume is a volume in Docker's shape.
func apiVolume(v *engine.Volume) volume.Volume {
	out := volume.Volume{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Labels: v.Labels,
		Options: v.Options, Scope: v.Scope, CreatedAt: v.CreatedAt.Format(time.RFC3339)}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	return out
}

func (s *Server) getVolumes(w http.ResponseWriter, r *http.Request) {
	f, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := checkKeys(f, "name", "label", "driver", "dangling"); err != nil {
		fail(w, err)
		return
	}
	vs, err := s.e.Volumes(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, v := range vs {
		if names, ok := f["name"]; ok && !containsSub(names, v.Name) {
			continue
		}
		if d, ok := f["driver"]; ok && !contains(d, v.Driver) {
			continue
		}
		if !allLabels(v.Labels, f["label"]) {
			continue
		}
		if d, ok := f["dangling"]; ok && len(d) > 0 {
			users, err := s.e.VolumeUsers(r.Context(), v.Name)
			if err != nil || (d[0] == "true" || d[0] == "1") != (len(users) == 0) {
				continue
			}
		}
		out.Volumes = append(out.Volumes, apiVolume(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func containsSub(subs []string, s string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func (s *Server) getVolume(w http.ResponseWriter, r *http.Request) {
	v, err := s.e.Volume(r.Context(), r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiVolume(v))
}

func (s *Server) postVolumesCreate(w http.ResponseWriter, r *http.Request) {
	var req volume.CreateRequest
	if err := decode(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Driver != "" && req.Driver != "local" {
		fail(w, invalid("volume driver %q is not supported: berth has the local driver only", req.Driver))
		return
	}
	if len(req.DriverOpts) > 0 {
		fail(w, invalid("volume driver options are not supported"))
		return
	}
	v, err := s.e.CreateVolume(r.Context(), req.Name, req.Labels)
	if errors.Is(err, errdefs.ErrExists) { // Docker answers with the volume that exists
		v, err = s.e.Volume(r.Context(), req.Name)
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, apiVolume(v))
}

func (s *Server) deleteVolume(w http.ResponseWriter, r *http.Request) {
	if err := s.e.RemoveVolume(r.Context(), r.PathValue("name"), boolQuery(r, "force")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) postVolumesPrune(w http.ResponseWriter, r *http.Request) {
	f, err := pruneFilter(r, "label", "label!", "all")
	if err != nil {
		fail(w, err)
		return
	}
	all := f.All != nil && *f.All
	names, size, err := s.e.PruneVolumes(r.Context(), all, f)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: nonNil(names), SpaceReclaimed: uint64(size)})
}
