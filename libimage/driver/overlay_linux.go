package driver

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage/archive"
)

// overlay keeps each layer's own changes in <id>/diff and stacks them with kernel overlayfs.
//
//	<home>/<id>/diff     the layer's files (overlay whiteouts for deletions)
//	<home>/<id>/link     short name of the layer, a symlink in <home>/l pointing at diff
//	<home>/<id>/lower    the parents' short names, nearest first ("l/AAA:l/BBB")
//	<home>/<id>/work     overlay's work dir (writable layers only)
//	<home>/<id>/merged   mount point of the merged view
//
// Mounts use the fd-based mount API, adding each lower dir with "lowerdir+" (kernel 6.8+),
// so deep images never hit mount(2)'s one-page option limit; short links keep paths short.
type overlay struct {
	home string
}

var _ Driver = (*overlay)(nil)

func newOverlay(home string, explicit bool) (*overlay, error) {
	if err := os.MkdirAll(filepath.Join(home, "l"), 0o700); err != nil {
		return nil, fmt.Errorf("overlay driver: %w", err)
	}
	if err := probeOverlay(home); err != nil {
		return nil, fmt.Errorf("overlay driver unusable under %s: %w", home, err)
	}
	cleanStale(home)
	return &overlay{home: home}, nil
}

// probeOverlay mounts a one-file overlay once and caches the verdict in the home, so later
// commands pay nothing.
func probeOverlay(home string) error {
	verdict := filepath.Join(home, ".probe")
	if b, err := os.ReadFile(verdict); err == nil {
		if string(b) == "ok" {
			return nil
		}
		return errors.New(string(b))
	}
	tmp, err := tempDir(home)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		os.Mkdir(filepath.Join(tmp, d), 0o700)
	}
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", tmp, tmp, tmp)
	err = unix.Mount("overlay", filepath.Join(tmp, "merged"), "overlay", 0, opts)
	if err == nil {
		unix.Unmount(filepath.Join(tmp, "merged"), unix.MNT_DETACH)
		os.WriteFile(verdict, []byte("ok"), 0o600)
		return nil
	}
	msg := "mount overlay: " + err.Error()
	os.WriteFile(verdict, []byte(msg), 0o600)
	return errors.New(msg)
}

func (d *overlay) Name() string         { return "overlay" }
func (d *overlay) dir(id string) string { return filepath.Join(d.home, id) }

func (d *overlay) Exists(id string) bool {
	if validID(id) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(d.dir(id), "link"))
	return err == nil
}

func shortName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.TrimRight(base32.StdEncoding.EncodeToString(b), "=")[:20]
}

// create stages a layer dir, lets fill populate diff, and renames it into place. The link
// file is written last inside the staging dir, so Exists is true only for complete layers.
func (d *overlay) create(id, parent string, rw bool, fill func(diff string) error) (retErr error) {
	if err := validID(id); err != nil {
		return err
	}
	var lower string
	if parent != "" {
		if !d.Exists(parent) {
			return fmt.Errorf("parent layer %s: %w", parent, os.ErrNotExist)
		}
		pl, err := os.ReadFile(filepath.Join(d.dir(parent), "link"))
		if err != nil {
			return err
		}
		lower = "l/" + string(pl)
		if pp, _ := os.ReadFile(filepath.Join(d.dir(parent), "lower")); len(pp) > 0 {
			lower += ":" + string(pp)
		}
	}
	tmp, err := tempDir(d.home)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	dirs := []string{"diff", "merged"}
	if rw {
		dirs = append(dirs, "work")
	}
	for _, s := range dirs {
		if err := os.Mkdir(filepath.Join(tmp, s), 0o755); err != nil {
			return err
		}
	}
	if fill != nil {
		if err := fill(filepath.Join(tmp, "diff")); err != nil {
			return err
		}
	}
	link := shortName()
	for _, f := range [][2]string{{"lower", lower}, {"parent", parent}, {"link", link}} {
		if err := os.WriteFile(filepath.Join(tmp, f[0]), []byte(f[1]), 0o600); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, d.dir(id)); err != nil {
		return fmt.Errorf("commit layer %s: %w", id, err)
	}
	return d.ensureLink(id)
}

// ensureLink (re)creates the layer's short link; a process killed right after the rename
// leaves it missing, and the next user repairs it.
func (d *overlay) ensureLink(id string) error {
	link, err := os.ReadFile(filepath.Join(d.dir(id), "link"))
	if err != nil {
		return err
	}
	p := filepath.Join(d.home, "l", string(link))
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if err := os.Symlink(filepath.Join("..", id, "diff"), p); err != nil && !os.IsExist(err) {
		return fmt.Errorf("link layer %s: %w", id, err)
	}
	return nil
}

func (d *overlay) ApplyLayer(ctx context.Context, id, parent string, r io.Reader) (int64, error) {
	var n int64
	err := d.create(id, parent, false, func(diff string) error {
		var err error
		n, err = archive.Unpack(ctx, r, diff, &archive.UnpackOptions{Whiteouts: archive.WhiteoutOverlay})
		return drain(r, err)
	})
	if err != nil {
		return 0, fmt.Errorf("apply layer %s: %w", id, err)
	}
	return n, nil
}

func (d *overlay) CreateRW(id, parent string) error { return d.create(id, parent, true, nil) }

func isMounted(dir string) bool {
	var a, b unix.Stat_t
	if unix.Stat(dir, &a) != nil || unix.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

func (d *overlay) Mount(id string) (string, error) {
	if !d.Exists(id) {
		return "", fmt.Errorf("mount layer %s: %w", id, os.ErrNotExist)
	}
	dir := d.dir(id)
	merged := filepath.Join(dir, "merged")
	if isMounted(merged) {
		return merged, nil
	}
	lowerB, err := os.ReadFile(filepath.Join(dir, "lower"))
	if err != nil {
		return "", err
	}
	lower := string(lowerB)
	for _, l := range strings.Split(lower, ":") {
		if l != "" {
			if err := d.ensureLink(d.layerOfLink(l)); err != nil {
				return "", err
			}
		}
	}
	var opts string
	if _, err := os.Stat(filepath.Join(dir, "work")); err == nil {
		if lower == "" {
			os.MkdirAll(filepath.Join(d.home, "empty"), 0o755)
			lower = "empty"
		}
		opts = fmt.Sprintf("lowerdir=%s,upperdir=%s/diff,workdir=%s/work", lower, id, id)
	} else {
		// A read-only view of an image layer: its own diff on top of its parents.
		opts = "lowerdir=" + id + "/diff"
		if lower != "" {
			opts += ":" + lower
		} else {
			opts += ":empty"
			os.MkdirAll(filepath.Join(d.home, "empty"), 0o755)
		}
	}
	if err := mountIn(d.home, merged, opts); err != nil {
		return "", fmt.Errorf("mount layer %s: %w", id, err)
	}
	return merged, nil
}

// layerOfLink maps "l/SHORT" back to the layer id through the symlink, or "" if unknown.
func (d *overlay) layerOfLink(l string) string {
	t, err := os.Readlink(filepath.Join(d.home, l))
	if err != nil {
		return ""
	}
	return filepath.Base(filepath.Dir(t))
}

// mountIn mounts overlay at target from options whose paths are relative to dir, through
// fsopen/fsconfig/fsmount/move_mount.
func mountIn(dir, target, opts string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for _, kv := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "lowerdir" {
			for _, l := range strings.Split(v, ":") {
				if err := unix.FsconfigSetString(fd, "lowerdir+", filepath.Join(dir, l)); err != nil {
					return fmt.Errorf("fsconfig lowerdir+ %s: %w", l, err)
				}
			}
			continue
		}
		if err := unix.FsconfigSetString(fd, k, filepath.Join(dir, v)); err != nil {
			return fmt.Errorf("fsconfig %s=%s: %w", k, v, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount %s: %w", target, err)
	}
	return nil
}

func (d *overlay) Unmount(id string) error {
	if err := validID(id); err != nil {
		return err
	}
	merged := filepath.Join(d.dir(id), "merged")
	for isMounted(merged) {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmount layer %s: %w", id, err)
		}
	}
	return nil
}

func (d *overlay) Diff(ctx context.Context, id string, w io.Writer) error {
	if !d.Exists(id) {
		return fmt.Errorf("diff layer %s: %w", id, os.ErrNotExist)
	}
	return archive.DiffOverlayUpper(ctx, filepath.Join(d.dir(id), "diff"), w, nil)
}

func (d *overlay) Remove(id string) error {
	if err := validID(id); err != nil {
		return err
	}
	if err := d.Unmount(id); err != nil {
		return err
	}
	link, _ := os.ReadFile(filepath.Join(d.dir(id), "link"))
	tmp := filepath.Join(d.home, fmt.Sprintf(".tmp-%d-rm-%s", os.Getpid(), id))
	if err := os.Rename(d.dir(id), tmp); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("remove layer %s: %w", id, err)
	}
	if len(link) > 0 {
		os.Remove(filepath.Join(d.home, "l", string(link)))
	}
	return os.RemoveAll(tmp)
}

var _ Describer = (*overlay)(nil)

// Describe gives the layer's directories: its own diff as UpperDir, its parents' diffs
// (nearest first, resolved from their short links) as LowerDir, and the merged and work dirs;
// an image layer has no WorkDir.
func (d *overlay) Describe(id string) (map[string]string, error) {
	if !d.Exists(id) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "layer %s does not exist", id)
	}
	dir := d.dir(id)
	data := map[string]string{"UpperDir": filepath.Join(dir, "diff"), "MergedDir": filepath.Join(dir, "merged")}
	if _, err := os.Stat(filepath.Join(dir, "work")); err == nil {
		data["WorkDir"] = filepath.Join(dir, "work")
	}
	lower, err := os.ReadFile(filepath.Join(dir, "lower"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("describe layer %s: %w", id, err)
	}
	var dirs []string
	for _, l := range strings.Split(string(lower), ":") {
		if l == "" {
			continue
		}
		p := filepath.Join(d.home, l)
		if target, err := os.Readlink(p); err == nil {
			p = filepath.Clean(filepath.Join(filepath.Dir(p), target))
		}
		dirs = append(dirs, p)
	}
	if len(dirs) > 0 {
		data["LowerDir"] = strings.Join(dirs, ":")
	}
	return data, nil
}
