package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/libimage"
)

// PauseImageName is the repository of berth's own infra image; its tag is a digest of the
// program in it, so an upgraded berth makes a new one instead of running a stale program.
const PauseImageName = "localhost/berth-pause"

// pauseProgram is where the pause image keeps berth's pause program: berth-monitor, which
// runs as the pause program under that name (see cmd/berth-monitor).
const pauseProgram = "/berth-pause"

// pauseImage returns the reference of berth's pause image, making it from the monitor binary
// on first use: pods need no pull. The image holds one static file and the directories the
// runtime mounts over.
func (e *Engine) pauseImage(ctx context.Context) (string, error) {
	bin := helper("berth-monitor")
	if p, err := exec.LookPath(bin); err == nil {
		bin = p
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("pause image: read the pause program: %w", err)
	}
	sum := sha256.Sum256(prog)
	ref := PauseImageName + ":" + hex.EncodeToString(sum[:])[:12]
	store, err := e.Images(ctx)
	if err != nil {
		return "", err
	}
	if _, err := store.Lookup(ctx, ref); err == nil {
		return ref, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return "", err
	}
	lk, err := e.Lock(ctx, "image", "berth-pause")
	if err != nil {
		return "", err
	}
	defer lk.Release()
	if _, err := store.Lookup(ctx, ref); err == nil { // another berth made it meanwhile
		return ref, nil
	}
	layer, err := pauseLayer(prog)
	if err != nil {
		return "", err
	}
	_, err = store.Import(ctx, bytes.NewReader(layer), &libimage.ImportOptions{Name: ref,
		Changes: []string{`CMD ["` + pauseProgram + `"]`}, Message: "berth pod infra: the pause program"})
	if err != nil {
		return "", fmt.Errorf("pause image: %w", err)
	}
	return ref, nil
}

// pauseLayer is the pause image's only layer as a tar stream.
func pauseLayer(prog []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, d := range []string{"dev/", "etc/", "proc/", "run/", "sys/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: pauseProgram[1:], Mode: 0o755, Size: int64(len(prog)), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, bytes.NewReader(prog)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
