package libimage

import (
	"context"
	"time"
)

// HistoryEntry is one step of an image's history, newest first as `docker history` shows it.
type HistoryEntry struct {
	ID         string // the image ID on the newest entry, "" on the others
	Created    time.Time
	CreatedBy  string
	Size       int64
	Comment    string
	EmptyLayer bool
}

// History pairs the config's history with the sizes of the layers that non-empty steps made.
func (s *Store) History(ctx context.Context, img *Image) ([]HistoryEntry, error) {
	chains := ChainIDs(img)
	var sizes []int64
	for _, c := range chains {
		rec, err := s.meta.Layer(ctx, c)
		if err != nil {
			return nil, err
		}
		var n int64
		if rec != nil {
			n = rec.Size
		}
		sizes = append(sizes, n)
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range img.Config.History {
		e := HistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.EmptyLayer && layer < len(sizes) {
			e.Size = sizes[layer]
			layer++
		}
		out = append(out, e)
	}
	// Layers the history does not describe (images built without history) still show up.
	for ; layer < len(sizes); layer++ {
		out = append(out, HistoryEntry{Created: img.Config.Created.Time, Size: sizes[layer]})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID
	}
	return out, nil
}
