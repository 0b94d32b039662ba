package dockerapi

import "net/http"

// routes registers every endpoint served; the rest answer 501 (see ServeHTTP).
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /_ping", s.ping)
	m.HandleFunc("HEAD /_ping", s.ping)
	m.HandleFunc("GET /version", s.version)
	m.HandleFunc("GET /info", s.info)
	m.HandleFunc("GET /events", s.getEvents)
	m.HandleFunc("GET /system/df", s.systemDF)
	m.HandleFunc("POST /auth", s.auth)

	m.HandleFunc("POST /containers/create", s.postContainersCreate)
	m.HandleFunc("GET /containers/json", s.getContainersJSON)
	m.HandleFunc("POST /containers/prune", s.postContainersPrune)
	m.HandleFunc("GET /containers/{id}/json", s.getContainerJSON)
	m.HandleFunc("POST /containers/{id}/start", s.postContainerStart)
	m.HandleFunc("POST /containers/{id}/stop", s.postContainerStop)
	m.HandleFunc("POST /containers/{id}/restart", s.postContainerRestart)
	m.HandleFunc("POST /containers/{id}/kill", s.postContainerKill)
	m.HandleFunc("POST /containers/{id}/pause", s.pause(true))
	m.HandleFunc("POST /containers/{id}/unpause", s.pause(false))
	m.HandleFunc("POST /containers/{id}/rename", s.postContainerRename)
	m.HandleFunc("POST /containers/{id}/wait", s.postContainerWait)
	m.HandleFunc("POST /containers/{id}/attach", s.postContainerAttach)
	m.HandleFunc("POST /containers/{id}/resize", s.postContainerResize)
	m.HandleFunc("GET /containers/{id}/logs", s.getContainerLogs)
	m.HandleFunc("GET /containers/{id}/top", s.getContainerTop)
	m.HandleFunc("GET /containers/{id}/stats", s.getContainerStats)
	m.HandleFunc("GET /containers/{id}/changes", s.getContainerChanges)
	m.HandleFunc("GET /containers/{id}/export", s.getContainerExport)
	m.HandleFunc("GET /containers/{id}/archive", s.getContainerArchive)
	m.HandleFunc("HEAD /containers/{id}/archive", s.headContainerArchive)
	m.HandleFunc("PUT /containers/{id}/archive", s.putContainerArchive)
	m.HandleFunc("DELETE /containers/{id}", s.deleteContainer)
	m.HandleFunc("POST /containers/{id}/exec", s.postContainerExec)
	m.HandleFunc("POST /exec/{id}/start", s.postExecStart)
	m.HandleFunc("POST /exec/{id}/resize", s.postExecResize)
	m.HandleFunc("GET /exec/{id}/json", s.getExecJSON)

	m.HandleFunc("GET /images/json", s.getImagesJSON)
	m.HandleFunc("POST /images/create", s.postImagesCreate)
	m.HandleFunc("POST /images/prune", s.postImagesPrune)
	m.HandleFunc("GET /images/{name...}", s.imageGet)
	m.HandleFunc("POST /images/{name...}", s.imagePost)
	m.HandleFunc("DELETE /images/{name...}", s.deleteImage)
	m.HandleFunc("GET /images/get", s.getImagesGet)
	m.HandleFunc("POST /images/load", s.postImagesLoad)
	m.HandleFunc("POST /build", s.postBuild)
	m.HandleFunc("POST /build/prune", s.postBuildPrune)
	m.HandleFunc("POST /commit", s.postCommit)

	m.HandleFunc("GET /networks", s.getNetworks)
	m.HandleFunc("POST /networks/create", s.postNetworksCreate)
	m.HandleFunc("POST /networks/prune", s.postNetworksPrune)
	m.HandleFunc("GET /networks/{id}", s.getNetwork)
	m.HandleFunc("DELETE /networks/{id}", s.deleteNetwork)
	m.HandleFunc("POST /networks/{id}/connect", s.postNetworkConnect)
	m.HandleFunc("POST /networks/{id}/disconnect", s.postNetworkDisconnect)

	m.HandleFunc("GET /volumes", s.getVolumes)
	m.HandleFunc("POST /volumes/create", s.postVolumesCreate)
	m.HandleFunc("POST /volumes/prune", s.postVolumesPrune)
	m.HandleFunc("GET /volumes/{name}", s.getVolume)
	m.HandleFunc("DELETE /volumes/{name}", s.deleteVolume)
}

// Image names hold slashes (registry/repo:tag), so /images/{name...}/json, /history,
// /tag and /push are told apart by their last element.
func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) {
	name, verb := splitVerb(r.PathValue("name"))
	r.SetPathValue("name", name)
	switch verb {
	case "json":
		s.getImageJSON(w, r)
	case "history":
		s.getImageHistory(w, r)
	default:
		writeError(w, http.StatusNotImplemented, "berth does not implement GET "+r.URL.Path)
	}
}

func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) {
	name, verb := splitVerb(r.PathValue("name"))
	r.SetPathValue("name", name)
	switch verb {
	case "tag":
		s.postImageTag(w, r)
	case "push":
		s.postImagePush(w, r)
	default:
		writeError(w, http.StatusNotImplemented, "berth does not implement POST "+r.URL.Path)
	}
}

func splitVerb(p string) (name, verb string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return p, ""
}
