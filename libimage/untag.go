package libimage

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
)

// Untag removes names from the image nameOrID, or all its names when none are given, and
// never deletes the image itself (Podman's untag): an image left without names is dangling.
func (s *Store) Untag(ctx context.Context, nameOrID string, names []string) error {
	rec, err := s.lookupRecord(ctx, nameOrID)
	if err != nil {
		return err
	}
	keep := []string{}
	if len(names) > 0 {
		keep = rec.Names
		for _, n := range names {
			ref, err := ParseReference(n)
			if err != nil {
				return err
			}
			if !contains(keep, ref.TagName()) {
				return errdefs.Newf(errdefs.ErrNotFound, "%s: tag not known", n)
			}
			keep = without(keep, ref.TagName())
		}
	}
	if err := s.meta.SetNames(ctx, rec.ID, keep); err != nil {
		return err
	}
	img := s.eventImage(*rec)
	for range len(rec.Names) - len(keep) {
		s.event("untag", img, "")
	}
	return nil
}
