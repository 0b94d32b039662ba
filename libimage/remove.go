package libimage

import (
	"context"
	"fmt"
	"sort"

	"github.com/berth-project/berth/internal/errdefs"
)

// RemoveOptions tunes Remove.
type RemoveOptions struct {
	Force bool
	// InUse reports whether a container uses the image (then it is never removed, even
	// with Force); nil means none does.
	InUse func(ctx context.Context, imageID string) (bool, error)
}

// Remove untags or deletes an image the way `docker rmi` does and returns the lines docker
// prints ("Untagged: ...", "Deleted: ..."). A name removes only that name while the image
// has others; an ID (or the last name) deletes the image and frees unshared layers.
func (s *Store) Remove(ctx context.Context, nameOrID string, opts *RemoveOptions) ([]string, error) {
	if opts == nil {
		opts = &RemoveOptions{}
	}
	rec, err := s.lookupRecord(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	var out []string
	byName := ""
	if ref, err := ParseReference(nameOrID); err == nil && contains(rec.Names, ref.TagName()) {
		byName = ref.TagName()
	}
	img := s.eventImage(*rec)
	if byName != "" && len(rec.Names) > 1 {
		if err := s.meta.SetNames(ctx, rec.ID, without(rec.Names, byName)); err != nil {
			return nil, err
		}
		s.event("untag", img, "")
		return []string{"Untagged: " + FamiliarName(byName)}, nil
	}
	if byName == "" && len(rec.Names) > 1 && !opts.Force {
		return nil, errdefs.Newf(errdefs.ErrInUse, "unable to delete %s (must be forced): image is referenced in multiple repositories", hexOf(rec.ID)[:12])
	}
	if opts.InUse != nil {
		used, err := opts.InUse(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		if used { // not even with Force: its layers are under the container's
			return nil, errdefs.Newf(errdefs.ErrInUse, "unable to remove image %s: it is in use by a container (remove the container first)", nameOrID)
		}
	}
	for _, n := range rec.Names {
		out = append(out, "Untagged: "+FamiliarName(n))
	}
	for _, d := range rec.Digests {
		out = append(out, "Untagged: "+FamiliarName(d))
	}
	if err := s.meta.DeleteImage(ctx, rec.ID); err != nil {
		return nil, fmt.Errorf("remove image %s: %w", rec.ID, err)
	}
	for range len(rec.Names) + len(rec.Digests) {
		s.event("untag", img, "")
	}
	s.event("delete", img, "")
	out = append(out, "Deleted: "+rec.ID)
	if err := s.GC(ctx); err != nil {
		return out, err
	}
	return out, nil
}

func without(list []string, v string) []string {
	var out []string
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// GC removes layers and blobs no image references. It holds the store lock exclusively, so
// no pull or load is between unpacking a layer and recording its image meanwhile.
func (s *Store) GC(ctx context.Context) error {
	lk, err := s.storeLock(ctx, true)
	if err != nil {
		return err
	}
	defer lk.Release()
	recs, err := s.meta.Images(ctx)
	if err != nil {
		return err
	}
	keepLayers := map[string]bool{}
	keepBlobs := map[string]bool{}
	for _, r := range recs {
		keepBlobs[r.ID], keepBlobs[r.ManifestDigest] = true, true
		img, err := s.load(r)
		if err != nil {
			return err
		}
		parent := ""
		for _, d := range img.Config.RootFS.DiffIDs {
			parent = chainID(parent, d)
			keepLayers[parent] = true
		}
		if v, err := s.V1(img); err == nil {
			if m, err := v.Manifest(); err == nil {
				for _, l := range m.Layers {
					keepBlobs[l.Digest.String()] = true
				}
			}
		}
	}
	layers, err := s.meta.Layers(ctx)
	if err != nil {
		return err
	}
	// Children before parents: a layer's chain is deeper than its parent's.
	depth := map[string]int{}
	var depthOf func(string) int
	parents := map[string]string{}
	for _, l := range layers {
		parents[l.ChainID] = l.Parent
	}
	depthOf = func(c string) int {
		if c == "" {
			return 0
		}
		if d, ok := depth[c]; ok {
			return d
		}
		depth[c] = 1 + depthOf(parents[c])
		return depth[c]
	}
	var drop []LayerRecord
	for _, l := range layers {
		if !keepLayers[l.ChainID] {
			depthOf(l.ChainID)
			drop = append(drop, l)
		}
	}
	sort.Slice(drop, func(i, j int) bool { return depth[drop[i].ChainID] > depth[drop[j].ChainID] })
	for _, l := range drop {
		if err := s.drv.Remove(hexOf(l.ChainID)); err != nil {
			return fmt.Errorf("remove layer %s: %w", l.ChainID, err)
		}
		if err := s.meta.DeleteLayer(ctx, l.ChainID); err != nil {
			return err
		}
	}
	all, err := s.blobs.list()
	if err != nil {
		return err
	}
	for _, b := range all {
		if !keepBlobs[b.String()] {
			if err := s.blobs.remove(b); err != nil {
				return fmt.Errorf("remove blob %s: %w", b, err)
			}
		}
	}
	return nil
}

// Prune removes dangling images (no names), or with all every image inUse says is unused.
func (s *Store) Prune(ctx context.Context, all bool, inUse func(ctx context.Context, id string) (bool, error)) ([]string, error) {
	imgs, err := s.meta.Images(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range imgs {
		if len(r.Names) > 0 && !all {
			continue
		}
		if inUse != nil {
			if used, err := inUse(ctx, r.ID); err != nil || used {
				continue
			}
		}
		lines, err := s.Remove(ctx, r.ID, &RemoveOptions{Force: true})
		if err != nil {
			return out, err
		}
		out = append(out, lines...)
	}
	return out, nil
}

// ChainIDs returns the chain ID of every layer of img, bottom first.
func ChainIDs(img *Image) []string {
	var out []string
	parent := ""
	for _, d := range img.Config.RootFS.DiffIDs {
		parent = chainID(parent, d)
		out = append(out, parent)
	}
	return out
}
