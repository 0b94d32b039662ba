package engine

import (
	"context"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/libcontainer/cgroups"
)

// Version is set at build time with -ldflags "-X .../internal/engine.Version=...".
var Version = "0.1.0-dev"

// APIVersion is the Docker Engine API version berth's answers are shaped after.
const APIVersion = "1.47"

// Info describes the host and this berth root, as `berth info` shows it: Podman's field
// names (.Host, .Store, .Version) for templates, and [Info.Docker] for Docker's JSON.
type Info struct {
	Host struct {
		Arch          string
		Hostname      string
		Kernel        string
		OS            string
		CPUs          int
		MemTotal      int64
		MemFree       int64
		CgroupVersion string
		CgroupManager string
		Rootless      bool
		Distribution  struct{ Distribution, Version, PrettyName string }
		Security      struct{ Rootless bool }
		OCIRuntime    struct{ Name, Path string }
	}
	Store struct {
		Driver            string
		GraphDriverName   string
		BackingFilesystem string
		Root              string
		GraphRoot         string
		RunRoot           string
		VolumePath        string
		ConfigFile        []string
		Images            int
		Containers        int
		ImageStore        struct{ Number int }
		ContainerStore    struct{ Number, Paused, Running, Stopped int }
	}
	Version struct {
		Version, APIVersion, GoVersion, OsArch, OS string
	}
	// Volumes is the number of volumes.
	Volumes int `json:"-"`
}

// Info gathers host facts and object counts.
func (e *Engine) Info(ctx context.Context) (*Info, error) {
	var i Info
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		i.Host.Kernel = strings.TrimRight(string(u.Release[:]), "\x00")
	}
	i.Host.Hostname, _ = os.Hostname()
	i.Host.OS = runtime.GOOS
	i.Host.Arch = runtime.GOARCH
	i.Host.CPUs = runtime.NumCPU()
	i.Host.MemTotal, i.Host.MemFree = hostMemInfo()
	i.Host.Distribution.Distribution, i.Host.Distribution.Version, i.Host.Distribution.PrettyName = osRelease()
	i.Host.CgroupVersion = string(cgroups.DetectMode())
	i.Host.CgroupManager = "cgroupfs"
	i.Host.Rootless = e.Config.Rootless
	i.Host.Security.Rootless = e.Config.Rootless
	i.Host.OCIRuntime.Name = "berth"
	if e.Config.Runtime != "" {
		i.Host.OCIRuntime.Name = e.Config.Runtime
	}
	i.Host.OCIRuntime.Path, _ = os.Executable()
	i.Store.BackingFilesystem = backingFilesystem(e.Config.Root)
	i.Store.Driver = e.Config.StorageDriver
	i.Store.GraphDriverName = e.Config.StorageDriver
	i.Store.Root = e.Config.Root
	i.Store.GraphRoot = e.Config.Root
	i.Store.RunRoot = e.Config.RunRoot
	i.Store.VolumePath = e.volumeDir("")
	i.Store.ConfigFile = e.Config.Files
	i.Version.Version = Version
	i.Version.APIVersion = APIVersion
	i.Version.GoVersion = runtime.Version()
	i.Version.OS = runtime.GOOS
	i.Version.OsArch = runtime.GOOS + "/" + runtime.GOARCH
	db, err := e.DB(ctx)
	if err != nil {
		return nil, err
	}
	if i.Store.Images, err = db.CountRows(ctx, "images"); err != nil {
		return nil, err
	}
	if i.Volumes, err = db.CountRows(ctx, "volumes"); err != nil {
		return nil, err
	}
	i.Store.ImageStore.Number = i.Store.Images
	cs, err := e.containerRecords(ctx)
	if err != nil {
		return nil, err
	}
	i.Store.Containers = len(cs)
	i.Store.ContainerStore.Number = len(cs)
	for _, c := range cs {
		if err := e.reconcile(ctx, c); err != nil {
			return nil, err
		}
		switch c.State {
		case StateRunning, StateRestarting:
			i.Store.ContainerStore.Running++
		case StatePaused:
			i.Store.ContainerStore.Paused++
		default:
			i.Store.ContainerStore.Stopped++
		}
	}
	return &i, nil
}

// Docker returns the info in the shape of Docker's `GET /info` (what `docker info --format
// json` prints), for the fields berth has.
func (i *Info) Docker() map[string]any {
	cs := i.Store.ContainerStore
	arch := i.Host.Arch
	if arch == "amd64" {
		arch = "x86_64"
	} else if arch == "arm64" {
		arch = "aarch64"
	}
	security := []string{"name=seccomp,profile=builtin"}
	if i.Host.Rootless {
		security = append(security, "name=rootless")
	}
	if i.Host.CgroupVersion == "v2" || i.Host.CgroupVersion == "unified" {
		security = append(security, "name=cgroupns")
	}
	cgroupVersion := "1"
	if i.Host.CgroupVersion == "v2" || i.Host.CgroupVersion == "unified" {
		cgroupVersion = "2"
	}
	osName := i.Host.Distribution.PrettyName
	return map[string]any{
		"ID":                "",
		"Containers":        cs.Number,
		"ContainersRunning": cs.Running,
		"ContainersPaused":  cs.Paused,
		"ContainersStopped": cs.Stopped,
		"Images":            i.Store.Images,
		"Driver":            i.Store.Driver,
		"DriverStatus":      [][2]string{{"Backing Filesystem", i.Store.BackingFilesystem}},
		"Plugins": map[string][]string{
			"Volume": {"local"}, "Network": {"bridge", "host", "macvlan", "null"}, "Log": {"k8s-file", "json-file", "none"},
		},
		"MemoryLimit":        true,
		"SwapLimit":          true,
		"CpuCfsPeriod":       true,
		"CpuCfsQuota":        true,
		"CPUShares":          true,
		"PidsLimit":          true,
		"IPv4Forwarding":     true,
		"Debug":              false,
		"LoggingDriver":      "k8s-file",
		"CgroupDriver":       i.Host.CgroupManager,
		"CgroupVersion":      cgroupVersion,
		"KernelVersion":      i.Host.Kernel,
		"OperatingSystem":    osName,
		"OSVersion":          i.Host.Distribution.Version,
		"OSType":             i.Host.OS,
		"Architecture":       arch,
		"NCPU":               i.Host.CPUs,
		"MemTotal":           i.Host.MemTotal,
		"DockerRootDir":      i.Store.Root,
		"Name":               i.Host.Hostname,
		"Labels":             []string{},
		"ServerVersion":      i.Version.Version,
		"DefaultRuntime":     i.Host.OCIRuntime.Name,
		"Runtimes":           map[string]any{i.Host.OCIRuntime.Name: map[string]string{"path": i.Host.OCIRuntime.Path}},
		"SecurityOptions":    security,
		"Warnings":           []string{},
		"IndexServerAddress": "https://index.docker.io/v1/",
	}
}

// osRelease reads the distribution's id, version and full name from /etc/os-release.
func osRelease() (name, version, pretty string) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "", "", ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			name = v
		case "VERSION_ID":
			version = v
		case "PRETTY_NAME":
			pretty = v
		}
	}
	return name, version, pretty
}
