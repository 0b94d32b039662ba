package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-project/berth/internal/errdefs"
)

// copyRequest is a COPY or ADD after expansion.
type copyRequest struct {
	name     string // "COPY" or "ADD"
	text     string
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	add      bool
	checksum string
}

// copyItem is one source of a COPY: a file, a directory whose contents are copied, a local
// archive ADD extracts, a downloaded file or a heredoc.
type copyItem struct {
	name    string   // base name under a destination directory
	root    *srcRoot // where abs lives; nil for downloads and heredocs
	rel     string   // slash path of the item inside root
	abs     string   // host path
	fi      fs.FileInfo
	data    *string // heredoc content
	mode    fs.FileMode
	mtime   time.Time
	archive bool
}

func (r *copyRequest) failf(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalid, r.name+" failed: "+format, args...)
}

// copy runs a COPY or ADD: it gathers the sources, keys the step on their content, and on
// a miss streams a layer tar of them into Backend.Commit.
func (st *stageState) copy(ctx context.Context, r copyRequest) error {
	bl := st.bl
	var chmod *fs.FileMode
	if r.chmod != "" {
		n, err := strconv.ParseUint(r.chmod, 8, 32)
		if err != nil || n > 0o7777 {
			return invalidf("%s --chmod=%s: invalid mode, want octal permission bits", r.name, r.chmod)
		}
		m := fromUnixMode(uint32(n))
		chmod = &m
	}
	root := &srcRoot{dir: bl.o.ContextDir, ignore: bl.ignore}
	var fromImg Image
	if r.from != "" {
		img, err := bl.resolveFrom(ctx, r.from, st.s.idx)
		if err != nil {
			return err
		}
		fromImg = img
	}
	tmp, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	defer os.RemoveAll(tmp)
	if r.from != "" {
		dir := filepath.Join(tmp, "scratch") // --from=scratch: an empty tree
		if fromImg.ID != "" {
			var release func()
			if dir, release, err = bl.be.Mount(ctx, fromImg); err != nil {
				return fmt.Errorf("%s --from=%s: mount: %w", r.name, r.from, err)
			}
			defer release()
		} else if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		root = &srcRoot{dir: dir, keepOwner: true}
	}

	var items []copyItem
	for _, src := range r.srcs {
		if isURL(src) {
			if !r.add {
				return r.failf("source can't be a URL for COPY: %s", src)
			}
			it, err := download(ctx, src, tmp, r.checksum)
			if err != nil {
				return r.failf("%v", err)
			}
			items = append(items, it)
			continue
		}
		if r.checksum != "" {
			return invalidf("ADD --checksum is only supported for HTTP(S) sources")
		}
		got, err := r.gather(root, src)
		if err != nil {
			return err
		}
		items = append(items, got...)
	}
	for _, c := range r.contents {
		data := c.Data
		items = append(items, copyItem{name: path.Base(c.Path), data: &data, mode: 0o644, mtime: bl.now()})
	}
	if len(items) == 0 {
		return r.failf("no source files were specified")
	}
	if r.add {
		for i := range items {
			it := &items[i]
			if it.root != nil && it.fi.Mode().IsRegular() {
				if it.archive, err = isArchive(it.abs); err != nil {
					return fmt.Errorf("%s %s: %w", r.name, it.name, err)
				}
			}
		}
	}
	dest := st.inWorkdir(r.dest)
	dirDest := strings.HasSuffix(r.dest, "/") || r.dest == "." || strings.HasSuffix(r.dest, "/.") || len(items) > 1
	for _, it := range items {
		if it.archive || (it.fi != nil && it.fi.IsDir()) {
			dirDest = true
		}
	}
	dest = path.Clean(dest)

	k := newKey(strings.ToLower(r.name), st.cur, st.cfg, st.pending, bl.o.Timestamp)
	k.field("dest", dest)
	k.field("dirdest", strconv.FormatBool(dirDest))
	k.field("from", fromImg.ID)
	k.field("chown", r.chown)
	k.field("chmod", r.chmod)
	wd := ""
	if st.wdPending {
		wd = st.cfg.WorkingDir
	}
	k.field("workdir", wd)
	for _, it := range items {
		if err := it.digest(k); err != nil {
			return fmt.Errorf("%s: read %s: %w", r.name, it.name, err)
		}
	}
	err = st.layerStep(ctx, k.sum(), &v1.History{CreatedBy: r.historyText()}, func(co CommitOptions) (Image, error) {
		return st.commitCopy(ctx, r, items, dest, dirDest, chmod, wd, co)
	})
	if err == nil {
		st.wdPending = false
	}
	return err
}

// historyText is the layer's created_by, buildkit style.
func (r *copyRequest) historyText() string {
	parts := []string{r.name}
	if r.from != "" {
		parts = append(parts, "--from="+r.from)
	}
	if r.chown != "" {
		parts = append(parts, "--chown="+r.chown)
	}
	if r.chmod != "" {
		parts = append(parts, "--chmod="+r.chmod)
	}
	parts = append(parts, r.srcs...)
	for _, c := range r.contents {
		parts = append(parts, "<<"+c.Path)
	}
	parts = append(parts, r.dest)
	return strings.Join(parts, " ") + " # buildkit"
}

// gather resolves one source path or glob inside root.
func (r *copyRequest) gather(root *srcRoot, src string) ([]copyItem, error) {
	if root.dir == "" {
		return nil, r.failf("no build context: %s needs one to read %s", r.name, src)
	}
	if err := checkInside(src); err != nil {
		return nil, r.failf("%v", err)
	}
	clean := path.Clean("/" + filepath.ToSlash(src))
	if hasGlob(clean) {
		matches, err := globRoot(root, clean)
		if err != nil {
			return nil, r.failf("%s: %v", src, err)
		}
		if len(matches) == 0 {
			return nil, r.failf("no source files were specified: %s matched nothing", src)
		}
		var out []copyItem
		for _, m := range matches {
			it, err := r.item(root, m, path.Base(m), src)
			if err != nil {
				return nil, err
			}
			out = append(out, it)
		}
		return out, nil
	}
	return r.itemList(root, clean, src)
}

func (r *copyRequest) itemList(root *srcRoot, clean, src string) ([]copyItem, error) {
	it, err := r.item(root, clean, path.Base(clean), src)
	if err != nil {
		return nil, err
	}
	return []copyItem{it}, nil
}

// item stats one source, following symlinks inside the root as buildkit does for the paths
// a COPY names.
func (r *copyRequest) item(root *srcRoot, p, name, written string) (copyItem, error) {
	resolved, err := resolveInRoot(root.dir, p, true)
	if err != nil {
		return copyItem{}, r.failf("%s: %v", written, err)
	}
	rel := strings.TrimPrefix(resolved, "/")
	if rel == "" {
		rel = "."
	}
	notFound := r.failf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", strings.TrimPrefix(path.Clean(filepath.ToSlash(written)), "/"))
	if root.ignored(rel) || root.ignored(strings.TrimPrefix(p, "/")) {
		return copyItem{}, notFound
	}
	abs := filepath.Join(root.dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(abs)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return copyItem{}, notFound
	}
	if err != nil {
		return copyItem{}, fmt.Errorf("%s %s: %w", r.name, written, err)
	}
	if name == "/" || name == "." {
		name = ""
	}
	return copyItem{name: name, root: root, rel: rel, abs: abs, fi: fi}, nil
}

func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// globRoot matches pattern (an absolute slash path) against every path of root with
// filepath.Match semantics, walking only below the pattern's literal prefix.
func globRoot(root *srcRoot, pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	parts := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	prefix := "/"
	for _, p := range parts {
		if hasGlob(p) {
			break
		}
		prefix = path.Join(prefix, p)
	}
	depth := len(parts)
	var out []string
	start := filepath.Join(root.dir, filepath.FromSlash(prefix))
	err := filepath.WalkDir(start, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		relOS, err := filepath.Rel(root.dir, abs)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(relOS)
		p := "/" + rel
		if rel == "." {
			p = "/"
		}
		n := strings.Count(strings.TrimPrefix(p, "/"), "/") + 1
		if root.ignored(rel) && !(d.IsDir() && root.walkIn()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if p != "/" {
			if ok, _ := path.Match(pattern, p); ok && !root.ignored(rel) {
				out = append(out, p)
			}
		}
		if d.IsDir() && n >= depth && p != "/" {
			return filepath.SkipDir
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// walk calls fn for every entry of a directory item that .dockerignore keeps, in lexical
// order, with the entry's slash path relative to the item.
func (it *copyItem) walk(fn func(rel, abs string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(it.abs, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if abs == it.abs {
			return nil
		}
		relOS, err := filepath.Rel(it.abs, abs)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(relOS)
		if it.root.ignored(path.Join(it.rel, rel)) {
			if d.IsDir() && !it.root.walkIn() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, abs, fi)
	})
}

// digest adds the item's names, modes, link targets and contents (never times) to the key.
func (it *copyItem) digest(k *keyHasher) error {
	k.field("item", it.name)
	k.field("archive", strconv.FormatBool(it.archive))
	if it.data != nil {
		k.field("heredoc", *it.data)
		return nil
	}
	if it.root == nil {
		k.field("mode", it.mode.String())
		k.field("mtime", it.mtime.UTC().Format(time.RFC3339))
		return digestFile(k, it.abs, it.fi)
	}
	if !it.fi.IsDir() {
		return digestEntry(k, it.abs, it.fi, it.root.keepOwner)
	}
	return it.walk(func(rel, abs string, fi fs.FileInfo) error {
		k.field("path", rel)
		return digestEntry(k, abs, fi, it.root.keepOwner)
	})
}

func digestEntry(k *keyHasher, abs string, fi fs.FileInfo, owner bool) error {
	k.field("mode", fi.Mode().String())
	if owner {
		uid, gid := fileOwner(fi)
		k.field("owner", fmt.Sprintf("%d:%d", uid, gid))
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		k.field("link", target)
	case fi.Mode().IsRegular():
		return digestFile(k, abs, fi)
	}
	return nil
}

func digestFile(k *keyHasher, abs string, fi fs.FileInfo) error {
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	k.field("size", strconv.FormatInt(fi.Size(), 10))
	_, err = io.Copy(k.writer(), f)
	return err
}

// commitCopy streams the layer tar of a COPY into Backend.Commit through a pipe, so no
// layer is ever held in memory.
func (st *stageState) commitCopy(ctx context.Context, r copyRequest, items []copyItem, dest string, dirDest bool, chmod *fs.FileMode, wd string, co CommitOptions) (Image, error) {
	bl := st.bl
	parentRoot := ""
	if st.cur.ID != "" {
		dir, release, err := bl.be.Mount(ctx, st.cur)
		if err != nil {
			return Image{}, fmt.Errorf("%s: mount parent image: %w", r.name, err)
		}
		defer release()
		parentRoot = dir
	}
	own, err := parseChown(r.chown, parentRoot)
	if err != nil {
		return Image{}, fmt.Errorf("%s --chown=%s: %w", r.name, r.chown, err)
	}
	if !dirDest && parentRoot != "" {
		if resolved, err := resolveInRoot(parentRoot, dest, true); err == nil {
			if fi, err := os.Stat(filepath.Join(parentRoot, filepath.FromSlash(resolved))); err == nil && fi.IsDir() {
				dirDest = true
			}
		}
	}
	if parentRoot != "" {
		resolved, err := resolveInRoot(parentRoot, dest, dirDest)
		if err != nil {
			return Image{}, fmt.Errorf("%s: resolve %s: %w", r.name, dest, err)
		}
		dest = resolved
		if wd != "" {
			if wd, err = resolveInRoot(parentRoot, wd, true); err != nil {
				return Image{}, fmt.Errorf("%s: resolve WORKDIR: %w", r.name, err)
			}
		}
	}
	if !dirDest && items[0].name == "" {
		dirDest = true
	}
	w := &layerWriter{parentRoot: parentRoot, made: map[string]bool{}, own: own, chmod: chmod, now: bl.now(), workdir: wd}
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := w.write(ctx, pw, items, dest, dirDest)
		pw.CloseWithError(err)
		werr <- err
	}()
	img, err := bl.be.Commit(ctx, st.cur, pr, co)
	pr.CloseWithError(errors.New("commit finished"))
	if e := <-werr; e != nil {
		return Image{}, fmt.Errorf("%s: %w", r.name, e)
	}
	if err != nil {
		return Image{}, fmt.Errorf("%s: commit: %w", r.name, err)
	}
	return img, nil
}

// owner is a resolved --chown.
type owner struct {
	set      bool
	uid, gid int
}

// parseChown resolves "user[:group]"; names come from the parent image's /etc/passwd and
// /etc/group. A user without a group gets the uid's number as gid, as Docker documents.
func parseChown(spec, root string) (owner, error) {
	if spec == "" {
		return owner{}, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	if u == "" {
		return owner{}, invalidf("empty user")
	}
	uid, err := lookupID(root, "/etc/passwd", u, "user", "passwd")
	if err != nil {
		return owner{}, err
	}
	gid := uid
	if hasGroup {
		if gid, err = lookupID(root, "/etc/group", g, "group", "group"); err != nil {
			return owner{}, err
		}
	}
	return owner{set: true, uid: uid, gid: gid}, nil
}

func lookupID(root, file, name, what, kind string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, invalidf("invalid %s id %q", what, name)
		}
		return n, nil
	}
	if root == "" {
		return 0, errdefs.Newf(errdefs.ErrNotFound, "unable to find %s %s: no %s file in the image", what, name, kind)
	}
	resolved, err := resolveInRoot(root, file, true)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(resolved)))
	if err != nil {
		return 0, errdefs.Newf(errdefs.ErrNotFound, "unable to find %s %s: no %s file in the image", what, name, kind)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			if n, err := strconv.Atoi(f[2]); err == nil {
				return n, nil
			}
		}
	}
	return 0, errdefs.Newf(errdefs.ErrNotFound, "unable to find %s %s: no matching entries in %s file", what, name, kind)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
