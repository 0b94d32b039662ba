package cdi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// NVIDIAHost says where GenerateNVIDIA looks. Root prefixes every path it reads ("/" or ""
// for the running host; tests point it at a made-up tree). LibDirs are searched for the
// driver's user-space libraries besides the linker cache, BinDirs for its utilities.
type NVIDIAHost struct {
	Root    string
	LibDirs []string
	BinDirs []string
	// LinkerCache lists library paths the dynamic linker knows (ldconfig -p); nil reads it.
	LinkerCache func() ([]string, error)
}

// DefaultNVIDIAHost is the running host, with the directories drivers install into
// (distribution packages, the .run installer, and /usr/local/nvidia as GPU clouds ship it).
func DefaultNVIDIAHost() NVIDIAHost {
	return NVIDIAHost{
		Root: "/",
		LibDirs: []string{"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
			"/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"},
		BinDirs:     []string{"/usr/local/nvidia/bin", "/usr/bin", "/usr/local/bin"},
		LinkerCache: ldconfigLibraries,
	}
}

// nvidiaLibrary matches the file names of the driver's user-space libraries (what
// nvidia-container-toolkit mounts for the compute and utility capabilities, plus graphics).
var nvidiaLibrary = regexp.MustCompile(`^(libnvidia-[a-z0-9_-]+|libcuda|libcudadebugger|libnvcuvid|libnvoptix|` +
	`libGLX_nvidia|libEGL_nvidia|libGLESv2_nvidia|libGLESv1_CM_nvidia)\.so(\.[0-9.]+)?$`)

// nvidiaBinaries are the driver's utilities given to containers.
var nvidiaBinaries = []string{"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
	"nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}

// nvidiaGPU is one GPU: its index in PCI bus order (nvidia-smi's default), minor number and UUID.
type nvidiaGPU struct {
	index, minor int
	uuid         string
}

// GenerateNVIDIA writes a CDI spec for the NVIDIA GPUs of h, as `nvidia-ctk cdi generate`
// does: a device per GPU by index and by UUID, "all", the control device nodes, and the
// driver's libraries and utilities mounted read-only. It fails when no driver is loaded.
func GenerateNVIDIA(h NVIDIAHost) (*cdispec.Spec, error) {
	if _, err := os.Stat(h.path("/dev/nvidiactl")); err != nil {
		return nil, fmt.Errorf("no NVIDIA driver found: %s is missing (is the nvidia kernel module loaded?)", h.path("/dev/nvidiactl"))
	}
	gpus, err := h.gpus()
	if err != nil {
		return nil, err
	}
	if len(gpus) == 0 {
		return nil, fmt.Errorf("no NVIDIA GPU found: no /dev/nvidia<N> device node under %s", h.path("/dev"))
	}
	spec := &cdispec.Spec{Version: cdispec.CurrentVersion, Kind: NVIDIAGPUKind}
	var all []*cdispec.DeviceNode
	for _, g := range gpus {
		node := h.node(fmt.Sprintf("/dev/nvidia%d", g.minor))
		all = append(all, node)
		edits := cdispec.ContainerEdits{DeviceNodes: []*cdispec.DeviceNode{node}}
		spec.Devices = append(spec.Devices, cdispec.Device{Name: strconv.Itoa(g.index), ContainerEdits: edits})
		if g.uuid != "" {
			spec.Devices = append(spec.Devices, cdispec.Device{Name: g.uuid, ContainerEdits: edits})
		}
	}
	spec.Devices = append(spec.Devices, cdispec.Device{Name: "all", ContainerEdits: cdispec.ContainerEdits{DeviceNodes: all}})

	common := &spec.ContainerEdits
	for _, p := range []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"} {
		if _, err := os.Stat(h.path(p)); err == nil {
			common.DeviceNodes = append(common.DeviceNodes, h.node(p))
		}
	}
	caps, _ := filepath.Glob(h.path("/dev/nvidia-caps/nvidia-cap*"))
	for _, c := range caps {
		common.DeviceNodes = append(common.DeviceNodes, h.node(strings.TrimPrefix(c, h.prefix())))
	}
	libs, err := h.libraries()
	if err != nil {
		return nil, err
	}
	var libDirs []string
	for _, l := range libs {
		common.Mounts = append(common.Mounts, h.mount(l, l))
		if d := filepath.Dir(l); !slices.Contains(libDirs, d) {
			libDirs = append(libDirs, d)
		}
	}
	if len(libDirs) > 0 {
		// The libraries keep their host paths, which the image's linker cache does not list.
		common.Env = append(common.Env, "LD_LIBRARY_PATH="+strings.Join(libDirs, ":"))
	}
	for _, b := range h.binaries() {
		common.Mounts = append(common.Mounts, h.mount(b, "/usr/bin/"+filepath.Base(b)))
	}
	return spec, nil
}

func (h NVIDIAHost) prefix() string {
	if h.Root == "/" {
		return ""
	}
	return strings.TrimSuffix(h.Root, "/")
}

func (h NVIDIAHost) path(p string) string { return h.prefix() + p }

// node is the device node p of the container, taken from the same path on the host.
func (h NVIDIAHost) node(p string) *cdispec.DeviceNode {
	n := &cdispec.DeviceNode{Path: p}
	if h.prefix() != "" {
		n.HostPath = h.path(p)
	}
	return n
}

func (h NVIDIAHost) mount(hostPath, ctrPath string) *cdispec.Mount {
	return &cdispec.Mount{HostPath: h.path(hostPath), ContainerPath: ctrPath, Options: []string{"ro", "nosuid", "nodev", "bind"}}
}

// gpus lists the GPUs from the driver's /proc/driver/nvidia/gpus/<PCI address>/information
// files, indexed in PCI bus order; without them, from the /dev/nvidia<N> nodes by minor.
func (h NVIDIAHost) gpus() ([]nvidiaGPU, error) {
	infos, _ := filepath.Glob(h.path("/proc/driver/nvidia/gpus/*/information"))
	sort.Strings(infos)
	var gpus []nvidiaGPU
	for i, f := range infos {
		g, err := readGPUInformation(f)
		if err != nil {
			return nil, err
		}
		g.index = i
		gpus = append(gpus, g)
	}
	if len(gpus) > 0 {
		return gpus, nil
	}
	nodes, _ := filepath.Glob(h.path("/dev/nvidia[0-9]*"))
	var minors []int
	for _, n := range nodes {
		if m, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(n), "nvidia")); err == nil {
			minors = append(minors, m)
		}
	}
	sort.Ints(minors)
	for i, m := range minors {
		gpus = append(gpus, nvidiaGPU{index: i, minor: m})
	}
	return gpus, nil
}

func readGPUInformation(path string) (nvidiaGPU, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nvidiaGPU{}, fmt.Errorf("read GPU information: %w", err)
	}
	g := nvidiaGPU{minor: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch strings.TrimSpace(k) {
		case "Device Minor":
			g.minor, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return g, fmt.Errorf("%s: bad Device Minor %q", path, strings.TrimSpace(v))
			}
		case "GPU UUID":
			g.uuid = strings.TrimSpace(v)
		}
	}
	if g.minor < 0 {
		return g, fmt.Errorf("%s: no Device Minor line", path)
	}
	return g, nil
}

// libraries finds the driver's libraries (host paths, without Root) through the linker
// cache and the library directories, each file or soname link once.
func (h NVIDIAHost) libraries() ([]string, error) {
	var found []string
	add := func(p string) {
		if nvidiaLibrary.MatchString(filepath.Base(p)) && !slices.Contains(found, p) {
			found = append(found, p)
		}
	}
	if h.LinkerCache != nil {
		cached, err := h.LinkerCache()
		if err != nil {
			return nil, err
		}
		for _, p := range cached {
			add(p)
		}
	}
	for _, d := range h.LibDirs {
		entries, err := os.ReadDir(h.path(d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.path(d), err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
				add(filepath.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

// binaries finds the driver's utilities: the first of each name in BinDirs.
func (h NVIDIAHost) binaries() []string {
	var found []string
	for _, name := range nvidiaBinaries {
		for _, d := range h.BinDirs {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(h.path(p)); err == nil && fi.Mode().IsRegular() {
				found = append(found, p)
				break
			}
		}
	}
	return found
}

// ldconfigLibraries lists the paths of the linker cache (`ldconfig -p`).
func ldconfigLibraries() ([]string, error) {
	bin := "/sbin/ldconfig"
	if _, err := os.Stat(bin); err != nil {
		bin = "ldconfig"
	}
	out, err := exec.Command(bin, "-p").Output()
	if err != nil {
		// No linker cache is not fatal: the library directories are searched too.
		return nil, nil
	}
	var paths []string
	for _, line := range strings.Split(string(out), "\n") {
		if _, p, ok := strings.Cut(line, "=> "); ok {
			paths = append(paths, strings.TrimSpace(p))
		}
	}
	return paths, nil
}
