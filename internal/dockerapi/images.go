package dockerapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libimage"
)

// imageSummary is an image's line of /images/json.
func imageSummary(img *libimage.Image) image.Summary {
	sm := image.Summary{ID: img.ID, Created: img.Created.Unix(), Size: img.Size, RepoTags: []string{}, RepoDigests: []string{},
		Labels: map[string]string{}, Containers: -1, SharedSize: -1}
	for _, n := range img.Names {
		sm.RepoTags = append(sm.RepoTags, libimage.FamiliarName(n))
	}
	for _, d := range img.Digests {
		sm.RepoDigests = append(sm.RepoDigests, libimage.FamiliarName(d))
	}
	if img.Config != nil && img.Config.Config.Labels != nil {
		sm.Labels = img.Config.Config.Labels
	}
	return sm
}

// getImagesJSON is `docker images`: GET /images/json?all=&filters=.
func (s *Server) getImagesJSON(w http.ResponseWriter, r *http.Request) {
	f, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := checkKeys(f, "reference", "dangling", "label"); err != nil {
		fail(w, err)
		return
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	imgs, err := store.List(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	inter, _ := s.e.IntermediateImages(r.Context())
	out := []image.Summary{}
	for _, img := range imgs {
		if inter[img.ID] && !boolQuery(r, "all") {
			continue
		}
		sm := imageSummary(img)
		if !matchImage(sm, f) {
			continue
		}
		out = append(out, sm)
	}
	writeJSON(w, http.StatusOK, out)
}

func matchImage(sm image.Summary, f map[string][]string) bool {
	if vs, ok := f["dangling"]; ok && len(vs) > 0 {
		if (vs[0] == "true" || vs[0] == "1") != (len(sm.RepoTags) == 0) {
			return false
		}
	}
	if refs, ok := f["reference"]; ok {
		found := false
		for _, want := range refs {
			for _, t := range sm.RepoTags {
				repo, _, _ := strings.Cut(t, ":")
				if t == want || repo == want || strings.HasPrefix(t, want+":") {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return allLabels(sm.Labels, f["label"])
}

func (s *Server) lookupImage(w http.ResponseWriter, r *http.Request) *libimage.Image {
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return nil
	}
	img, err := store.Lookup(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, statusOf(err), "No such image: "+r.PathValue("name"))
		return nil
	}
	return img
}

func (s *Server) getImageJSON(w http.ResponseWriter, r *http.Request) {
	if img := s.lookupImage(w, r); img != nil {
		writeJSON(w, http.StatusOK, s.e.InspectImage(img))
	}
}

func (s *Server) getImageHistory(w http.ResponseWriter, r *http.Request) {
	img := s.lookupImage(w, r)
	if img == nil {
		return
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	h, err := store.History(r.Context(), img)
	if err != nil {
		fail(w, err)
		return
	}
	out := []image.HistoryResponseItem{}
	for _, e := range h { // newest first
		id := e.ID
		if id == "" {
			id = "<missing>"
		}
		item := image.HistoryResponseItem{ID: id, Created: e.Created.Unix(), CreatedBy: e.CreatedBy, Size: e.Size, Comment: e.Comment, Tags: []string{}}
		if e.ID != "" {
			item.Tags = imageSummary(img).RepoTags
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, out)
}

// postImageTag is POST /images/{name}/tag?repo=&tag=.
func (s *Server) postImageTag(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("repo")
	if t := r.URL.Query().Get("tag"); t != "" {
		target += ":" + t
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	if err := store.Tag(r.Context(), r.PathValue("name"), target); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	lines, err := s.e.RemoveImage(r.Context(), r.PathValue("name"), boolQuery(r, "force"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResponses(lines))
}

// deleteResponses reads the store's "Untagged: X" and "Deleted: ID" lines.
func deleteResponses(lines []string) []image.DeleteResponse {
	out := []image.DeleteResponse{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ": ")
		switch strings.ToLower(k) {
		case "untagged":
			out = append(out, image.DeleteResponse{Untagged: v})
		case "deleted":
			out = append(out, image.DeleteResponse{Deleted: v})
		}
	}
	return out
}

func (s *Server) postImagesPrune(w http.ResponseWriter, r *http.Request) {
	m, err := filtersQuery(r)
	if err != nil {
		fail(w, err)
		return
	}
	all := len(m["dangling"]) > 0 && (m["dangling"][0] == "false" || m["dangling"][0] == "0")
	delete(m, "dangling")
	var list []string
	for k, vs := range m {
		for _, v := range vs {
			list = append(list, k+"="+v)
		}
	}
	f, err := engine.ParsePruneFilters(list, "until", "label", "label!")
	if err != nil {
		fail(w, err)
		return
	}
	lines, size, err := s.e.PruneImages(r.Context(), all, f)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, image.PruneReport{ImagesDeleted: deleteResponses(lines), SpaceReclaimed: uint64(size)})
}

// postImagesCreate is POST /images/create?fromImage=&tag= (pull), answered with Docker's
// JSON progress stream. Importing (fromSrc) is not served.
func (s *Server) postImagesCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from := q.Get("fromImage")
	if from == "" {
		writeError(w, http.StatusNotImplemented, "berth does not implement image import through the API (fromSrc)")
		return
	}
	if t := q.Get("tag"); t != "" {
		if strings.HasPrefix(t, "sha256:") {
			from += "@" + t
		} else {
			from += ":" + t
		}
	}
	ref, err := libimage.ParseReference(from)
	if err != nil {
		fail(w, err)
		return
	}
	ref = ref.WithDefaultTag()
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	js := newJSONStream(w)
	tag := ref.Tag
	if tag == "" {
		tag = ref.Digest
	}
	_ = js.send(message{Status: "Pulling from " + libimage.FamiliarName(ref.Repo()), ID: tag})
	var before string
	if old, err := store.Lookup(r.Context(), ref.String()); err == nil {
		before = old.ID
	}
	opts := &libimage.PullOptions{Platform: q.Get("platform"), Progress: func(e libimage.ProgressEvent) {
		_ = js.send(pullMessage(e))
	}}
	img, err := store.Pull(r.Context(), ref.String(), opts)
	if err != nil {
		js.fail(err)
		return
	}
	for _, d := range img.Digests {
		if repo, dg := libimage.SplitName(d); repo == ref.Repo() {
			_ = js.send(message{Status: "Digest: " + dg})
			break
		}
	}
	status := "Downloaded newer image for "
	if before == img.ID {
		status = "Image is up to date for "
	}
	_ = js.send(message{Status: "Status: " + status + libimage.FamiliarName(ref.String())})
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// pullMessage turns a layer's progress into Docker's status line for it.
func pullMessage(e libimage.ProgressEvent) message {
	m := message{ID: shortDigest(e.Digest)}
	switch e.State {
	case "exists":
		m.Status = "Already exists"
	case "downloading":
		m.Status = "Downloading"
		m.ProgressDetail = &progressDetail{Current: e.Current, Total: e.Total}
	case "downloaded":
		m.Status = "Download complete"
	case "extracting":
		m.Status = "Extracting"
		m.ProgressDetail = &progressDetail{Current: e.Current, Total: e.Total}
	case "complete":
		m.Status = "Pull complete"
	default:
		m.Status = e.State
	}
	return m
}

// postImagePush is POST /images/{name}/push?tag=.
func (s *Server) postImagePush(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if t := r.URL.Query().Get("tag"); t != "" {
		name += ":" + t
	}
	ref, err := libimage.ParseReference(name)
	if err != nil {
		fail(w, err)
		return
	}
	ref = ref.WithDefaultTag()
	store, err := s.e.Images(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	if _, err := store.Lookup(r.Context(), ref.String()); err != nil {
		writeError(w, statusOf(err), "An image does not exist locally with the tag: "+libimage.FamiliarName(ref.Repo()))
		return
	}
	if h := r.Header.Get("X-Registry-Auth"); h != "" {
		if err := s.login(r, h); err != nil {
			fail(w, err)
			return
		}
	}
	js := newJSONStream(w)
	_ = js.send(message{Status: fmt.Sprintf("The push refers to repository [%s]", libimage.FamiliarName(ref.Repo()))})
	d, err := store.Push(r.Context(), ref.String(), ref.String(), nil)
	if err != nil {
		js.fail(err)
		return
	}
	tag := ref.Tag
	if tag == "" {
		tag = ref.Digest
	}
	_ = js.send(message{Status: fmt.Sprintf("%s: digest: %s", tag, d)})
	_ = js.send(message{Aux: map[string]any{"Tag": tag, "Digest": d}})
}

// login applies an X-Registry-Auth header (base64url JSON of an AuthConfig) with
// credentials in it.
func (s *Server) login(r *http.Request, h string) error {
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(h); err != nil {
			return nil // docker sends "e30=" ({}) or nothing useful without a login
		}
	}
	var a registry.AuthConfig
	if json.Unmarshal(b, &a) != nil || a.Username == "" || a.ServerAddress == "" {
		return nil
	}
	store, err := s.e.Images(r.Context())
	if err != nil {
		return err
	}
	return store.Login(r.Context(), a.ServerAddress, a.Username, a.Password, nil)
}
