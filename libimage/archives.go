package libimage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage/archive"
)

// Archive formats for Save.
const (
	FormatDocker = "docker-archive"
	FormatOCI    = "oci-archive"
)

// Save writes the images named by refs to w as one archive of the given format.
func (s *Store) Save(ctx context.Context, refs []string, format string, w io.Writer) (retErr error) {
	if format == "" {
		format = FormatDocker
	}
	if format != FormatDocker && format != FormatOCI {
		return errdefs.Newf(errdefs.ErrInvalid, "unknown archive format %q: want docker-archive or oci-archive", format)
	}
	type entry struct {
		img  v1.Image
		tags []name.Tag
	}
	var entries []entry
	var saved []*Image
	defer func() {
		for _, img := range saved {
			if retErr == nil {
				s.event("save", img, "")
			}
		}
	}()
	for _, r := range refs {
		img, err := s.Lookup(ctx, r)
		if err != nil {
			return err
		}
		saved = append(saved, img)
		vimg, err := s.V1(img)
		if err != nil {
			return err
		}
		e := entry{img: vimg}
		if ref, err := ParseReference(r); err == nil && ref.Tag != "" && contains(img.Names, ref.TagName()) {
			t, _ := name.NewTag(ref.TagName())
			e.tags = []name.Tag{t}
		} else if !strings.HasPrefix(img.ID, "sha256:"+strings.TrimPrefix(r, "sha256:")) {
			for _, n := range img.Names {
				if t, err := name.NewTag(n); err == nil {
					e.tags = append(e.tags, t)
				}
			}
		}
		entries = append(entries, e)
	}
	if format == FormatDocker {
		m := map[name.Reference]v1.Image{}
		for _, e := range entries {
			for _, t := range e.tags {
				m[t] = e.img
			}
			if len(e.tags) == 0 {
				d, err := e.img.Digest()
				if err != nil {
					return err
				}
				ref, err := name.NewDigest("untagged/image@" + d.String())
				if err != nil {
					return err
				}
				m[ref] = e.img
			}
		}
		if err := tarball.MultiRefWrite(m, w); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		return nil
	}
	dir, err := os.MkdirTemp("", "berth-save-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	for _, e := range entries {
		if len(e.tags) == 0 {
			if err := p.AppendImage(e.img); err != nil {
				return fmt.Errorf("save: %w", err)
			}
		}
		for _, t := range e.tags {
			ann := map[string]string{"org.opencontainers.image.ref.name": t.Name(), "io.containerd.image.name": t.Name()}
			if err := p.AppendImage(e.img, layout.WithAnnotations(ann)); err != nil {
				return fmt.Errorf("save: %w", err)
			}
		}
	}
	return archive.Tar(ctx, dir, w, nil)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Load reads a docker-archive or oci-archive from r and stores every image in it. It returns
// the loaded images with the names they got.
func (s *Store) Load(ctx context.Context, r io.Reader, progress ProgressFunc) ([]*Image, error) {
	// Archives need random access: spool a stream to a temp file.
	f, ok := r.(*os.File)
	if st, err := f.Stat(); !ok || err != nil || !st.Mode().IsRegular() {
		tmp, err := os.CreateTemp(s.root, ".load-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, r); err != nil {
			return nil, fmt.Errorf("load: read archive: %w", err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		f = tmp
	}
	kind, err := archiveKind(f)
	if err != nil {
		return nil, err
	}
	var imgs []*Image
	switch kind {
	case FormatDocker:
		imgs, err = s.loadDocker(ctx, f.Name(), progress)
	default:
		imgs, err = s.loadOCI(ctx, f, progress)
	}
	for _, img := range imgs {
		s.event("load", img, "")
	}
	return imgs, err
}

func archiveKind(f *os.File) (string, error) {
	defer f.Seek(0, io.SeekStart)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", errdefs.Newf(errdefs.ErrInvalid, "load: not an image archive: %v", err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return FormatDocker, nil
		case "index.json", "oci-layout":
			return FormatOCI, nil
		}
	}
	return "", errdefs.Newf(errdefs.ErrInvalid, "load: archive has neither manifest.json (docker) nor index.json (OCI)")
}

func (s *Store) loadDocker(ctx context.Context, path string, progress ProgressFunc) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []*Image
	for _, d := range m {
		var names []string
		var tag *name.Tag
		for _, rt := range d.RepoTags {
			ref, err := ParseReference(rt)
			if err != nil || ref.Tag == "" {
				continue
			}
			names = append(names, ref.TagName())
			t, err := name.NewTag(rt)
			if err == nil && tag == nil {
				tag = &t
			}
		}
		if tag == nil && len(m) > 1 {
			return nil, errdefs.Newf(errdefs.ErrNotSupported, "load: untagged image %s in a multi-image archive", d.Config)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		stored, err := s.write(ctx, img, writeOptions{names: names, progress: progress})
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		out = append(out, stored)
	}
	return out, nil
}

func (s *Store) loadOCI(ctx context.Context, f *os.File, progress ProgressFunc) ([]*Image, error) {
	dir, err := os.MkdirTemp(s.root, ".load-oci-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := archive.Unpack(ctx, f, dir, &archive.UnpackOptions{Whiteouts: archive.WhiteoutApply, SkipDevices: true}); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []*Image
	for _, desc := range im.Manifests {
		if !desc.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		var names []string
		for _, key := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
			if n := desc.Annotations[key]; n != "" {
				if ref, err := ParseReference(n); err == nil && ref.Tag != "" && strings.ContainsAny(n, ":/") {
					names = []string{ref.TagName()}
					break
				}
			}
		}
		stored, err := s.write(ctx, img, writeOptions{names: names, progress: progress})
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		out = append(out, stored)
	}
	if len(out) == 0 {
		return nil, errors.New("load: the OCI archive holds no image")
	}
	return out, nil
}

// ImportOptions tunes Import.
type ImportOptions struct {
	Changes []string // Dockerfile-like CMD/ENTRYPOINT/ENV/WORKDIR/LABEL/EXPOSE/USER lines
	Message string
	Name    string // optional reference to tag the image with
}

// Import makes a one-layer image from a root filesystem tarball (optionally compressed).
func (s *Store) Import(ctx context.Context, r io.Reader, opts *ImportOptions) (*Image, error) {
	if opts == nil {
		opts = &ImportOptions{}
	}
	var names []string
	if opts.Name != "" {
		ref, err := ParseReference(opts.Name)
		if err != nil {
			return nil, err
		}
		if ref.Tag == "" {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "import: %s: a digest cannot name a new image", opts.Name)
		}
		names = []string{ref.TagName()}
	}
	cfg := v1.Config{}
	for _, c := range opts.Changes {
		if err := ApplyChange(&cfg, c); err != nil {
			return nil, err
		}
	}
	tmp, err := os.CreateTemp(s.root, ".import-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	dr, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if _, err := io.Copy(tmp, dr); err != nil {
		return nil, fmt.Errorf("import: read tarball: %w", err)
	}
	if err := checkTar(tmp.Name()); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	history := v1.History{Created: v1.Time{Time: now()}, CreatedBy: "berth import", Comment: opts.Message}
	img, err := newImage(nil, layer, cfg, history)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	stored, err := s.write(ctx, img, writeOptions{names: names})
	if err != nil {
		return nil, err
	}
	s.event("import", stored, "")
	return stored, nil
}

// checkTar rejects input that is not a tar before anything is stored.
func checkTar(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.Newf(errdefs.ErrInvalid, "import: not a tar archive: %v", err)
		}
	}
}
