package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheVersion changes whenever what a key covers changes, so old entries stop matching.
const cacheVersion = "berth-build-cache-v1"

// keyHasher accumulates one step's cache key: the parent image, the config the step will
// commit (so pending ENV, WORKDIR, USER... count), the history entries still pending, the
// instruction after expansion, the args it can see and whatever else the step reads.
type keyHasher struct {
	h hash.Hash
}

func newKey(kind string, parent Image, cfg v1.Config, pending []v1.History, epoch *time.Time) *keyHasher {
	k := &keyHasher{h: sha256.New()}
	k.field("version", cacheVersion)
	k.field("kind", kind)
	k.field("parent", parent.ID)
	cj, _ := json.Marshal(cfg) // v1.Config always marshals
	k.field("config", string(cj))
	for _, h := range pending {
		k.field("pending", h.CreatedBy)
		k.field("comment", h.Comment)
	}
	if epoch != nil {
		// a clamped build's images differ from an unclamped one's
		k.field("epoch", epoch.UTC().Format(time.RFC3339Nano))
	}
	return k
}

// field adds a named, length-prefixed value so no two sequences of fields collide.
func (k *keyHasher) field(name, value string) {
	fmt.Fprintf(k.h, "%d:%s%d:%s", len(name), name, len(value), value)
}

func (k *keyHasher) fields(name string, values []string) {
	k.field(name+"#", fmt.Sprint(len(values)))
	for _, v := range values {
		k.field(name, v)
	}
}

// sortedFields adds values in sorted order, for sets whose order does not matter.
func (k *keyHasher) sortedFields(name string, values []string) {
	s := append([]string(nil), values...)
	sort.Strings(s)
	k.fields(name, s)
}

// writer gives direct access for content digests.
func (k *keyHasher) writer() io.Writer { return k.h }

func (k *keyHasher) sum() string {
	return "sha256:" + hex.EncodeToString(k.h.Sum(nil))
}
