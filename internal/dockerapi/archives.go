package dockerapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	"github.com/sirupsen/logrus"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libimage"
)

// getImagesGet is `docker save`: GET /images/get?names=A&names=B, a docker-archive tar.
func (s *Server) getImagesGet(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		fail(w, invalid("no images given (names)"))
		return
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	for _, n := range names { // a missing image is a 404 before any byte of the archive
		if _, err := store.Lookup(r.Context(), n); err != nil {
			writeError(w, statusOf(err), "No such image: "+n)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := store.Save(r.Context(), names, libimage.FormatDocker, w); err != nil {
		logrus.WithError(err).Warn("save images")
	}
}

// postImagesLoad is `docker load`: POST /images/load with an archive body.
func (s *Server) postImagesLoad(w http.ResponseWriter, r *http.Request) {
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	imgs, err := store.Load(r.Context(), r.Body, nil)
	if err != nil {
		fail(w, err)
		return
	}
	js := newJSONStream(w)
	for _, img := range imgs {
		if len(img.Names) == 0 {
			_ = js.send(message{Stream: fmt.Sprintf("Loaded image ID: %s\n", img.ID)})
		}
		for _, n := range img.Names {
			_ = js.send(message{Stream: fmt.Sprintf("Loaded image: %s\n", libimage.FamiliarName(n))})
		}
	}
}

// postCommit is `docker commit`: POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=.
func (s *Server) postCommit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	o := engine.CommitOptions{Changes: q["changes"], Message: q.Get("comment"), Author: q.Get("author"),
		Pause: q.Get("pause") == "" || boolQuery(r, "pause")}
	img, err := s.e.CommitContainer(r.Context(), q.Get("container"), ref, o)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: img.ID})
}

// postBuildPrune is `docker builder prune`: POST /build/prune?all=.
func (s *Server) postBuildPrune(w http.ResponseWriter, r *http.Request) {
	ids, err := s.e.PruneBuilder(r.Context(), engine.BuilderPruneOptions{All: boolQuery(r, "all")})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: nonNil(ids)})
}

// statsJSON is one sample of GET /containers/{id}/stats in Docker's shape. CPU is given as
// usage over a one-CPU "system" of the sampling interval, so the client's usual
// cpuDelta/systemDelta computation yields the percentage berth measured.
type statsJSON struct {
	Read        time.Time          `json:"read"`
	PreRead     time.Time          `json:"preread"`
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	CPUStats    container.CPUStats `json:"cpu_stats"`
	PreCPUStats container.CPUStats `json:"precpu_stats"`
	MemoryStats struct {
		Usage uint64            `json:"usage"`
		Limit uint64            `json:"limit"`
		Stats map[string]uint64 `json:"stats"`
	} `json:"memory_stats"`
	PidsStats  container.PidsStats  `json:"pids_stats"`
	BlkioStats container.BlkioStats `json:"blkio_stats"`
	NumProcs   uint32               `json:"num_procs"`
}

func toStatsJSON(st *engine.Stats, prev time.Time, now time.Time) statsJSON {
	const system = uint64(1e9)
	out := statsJSON{Read: now, PreRead: prev, ID: st.ID, Name: "/" + st.Name}
	out.CPUStats.SystemUsage = system
	out.CPUStats.OnlineCPUs = 1
	out.CPUStats.CPUUsage.TotalUsage = uint64(st.CPUPercent / 100 * float64(system))
	out.MemoryStats.Usage, out.MemoryStats.Limit = st.MemUsage, st.MemLimit
	out.MemoryStats.Stats = map[string]uint64{}
	out.PidsStats.Current = st.PIDs
	out.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{{Op: "read", Value: st.BlockRead}, {Op: "write", Value: st.BlockWrite}}
	return out
}

// getContainerStats is `docker stats`: one sample a second, or one with stream=false
// (taken over a second, so that CPU usage means something).
func (s *Server) getContainerStats(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolQuery(r, "stream")
	js := newJSONStream(w)
	if !c.Active() {
		_ = js.send(statsJSON{ID: c.ID, Name: "/" + c.Name})
		return
	}
	prev, err := s.e.ContainerStats(r.Context(), c, nil)
	if err != nil {
		js.fail(err)
		return
	}
	prevAt := time.Now()
	oneShot := boolQuery(r, "one-shot")
	for {
		if !oneShot {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Second):
			}
		}
		cur, err := s.e.ContainerStats(r.Context(), c, prev)
		if err != nil {
			if strings.Contains(err.Error(), "no such") {
				return
			}
			js.fail(err)
			return
		}
		now := time.Now()
		if js.send(toStatsJSON(cur, prevAt, now)) != nil || !stream {
			return
		}
		prev, prevAt = cur, now
	}
}
