package cdi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeNVIDIAHost makes a tree that looks like a host with two GPUs whose PCI order differs
// from their minor numbers, the driver's libraries under /usr/local/nvidia and nvidia-smi.
func fakeNVIDIAHost(t *testing.T) NVIDIAHost {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1",
		"/dev/nvidia-caps/nvidia-cap1", "/usr/local/nvidia/bin/nvidia-smi",
		"/usr/local/nvidia/lib64/libnvidia-ml.so.550.54", "/usr/local/nvidia/lib64/libcuda.so.550.54",
		"/usr/local/nvidia/lib64/libunrelated.so.1"} {
		writeFile(t, root+f, "x")
	}
	os.Symlink("libnvidia-ml.so.550.54", root+"/usr/local/nvidia/lib64/libnvidia-ml.so.1")
	writeFile(t, root+"/proc/driver/nvidia/gpus/0000:1a:00.0/information", "Model: H200\nGPU UUID: GPU-bbbb\nDevice Minor: 1\n")
	writeFile(t, root+"/proc/driver/nvidia/gpus/0000:0b:00.0/information", "Model: H200\nGPU UUID: GPU-aaaa\nDevice Minor: 0\n")
	return NVIDIAHost{Root: root, LibDirs: []string{"/usr/local/nvidia/lib64", "/usr/lib64"}, BinDirs: []string{"/usr/bin", "/usr/local/nvidia/bin"}}
}

func TestGenerateNVIDIA(t *testing.T) {
	h := fakeNVIDIAHost(t)
	spec, err := GenerateNVIDIA(h)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range spec.Devices {
		var nodes []string
		for _, n := range d.ContainerEdits.DeviceNodes {
			nodes = append(nodes, n.Path)
		}
		names[d.Name] = strings.Join(nodes, ",")
	}
	want := map[string]string{"0": "/dev/nvidia0", "GPU-aaaa": "/dev/nvidia0", "1": "/dev/nvidia1", "GPU-bbbb": "/dev/nvidia1", "all": "/dev/nvidia0,/dev/nvidia1"}
	for k, v := range want {
		if names[k] != v {
			t.Errorf("device %s has nodes %q, want %q (all: %v)", k, names[k], v, names)
		}
	}
	var common, mounts []string
	for _, n := range spec.ContainerEdits.DeviceNodes {
		common = append(common, n.Path)
		if n.HostPath != h.Root+n.Path {
			t.Errorf("node %s hostPath = %s", n.Path, n.HostPath)
		}
	}
	if got := strings.Join(common, ","); got != "/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia-caps/nvidia-cap1" {
		t.Errorf("common nodes = %s", got)
	}
	for _, m := range spec.ContainerEdits.Mounts {
		mounts = append(mounts, m.ContainerPath)
	}
	if got := strings.Join(mounts, ","); got != "/usr/local/nvidia/lib64/libcuda.so.550.54,/usr/local/nvidia/lib64/libnvidia-ml.so.1,/usr/local/nvidia/lib64/libnvidia-ml.so.550.54,/usr/bin/nvidia-smi" {
		t.Errorf("mounts = %s", got)
	}
	if got := strings.Join(spec.ContainerEdits.Env, " "); got != "LD_LIBRARY_PATH=/usr/local/nvidia/lib64" {
		t.Errorf("env = %s", got)
	}
}

func TestGenerateNVIDIAWithoutDriver(t *testing.T) {
	h := NVIDIAHost{Root: t.TempDir()}
	if _, err := GenerateNVIDIA(h); err == nil || !strings.Contains(err.Error(), "no NVIDIA driver found") {
		t.Fatalf("GenerateNVIDIA without a driver = %v", err)
	}
	writeFile(t, filepath.Join(h.Root, "dev/nvidiactl"), "x")
	if _, err := GenerateNVIDIA(h); err == nil || !strings.Contains(err.Error(), "no NVIDIA GPU found") {
		t.Fatalf("GenerateNVIDIA without GPUs = %v", err)
	}
	writeFile(t, filepath.Join(h.Root, "dev/nvidia3"), "x")
	spec, err := GenerateNVIDIA(h)
	if err != nil || spec.Devices[0].Name != "0" || spec.Devices[0].ContainerEdits.DeviceNodes[0].Path != "/dev/nvidia3" {
		t.Fatalf("GenerateNVIDIA from device nodes only = %+v, %v", spec, err)
	}
	writeFile(t, filepath.Join(h.Root, "proc/driver/nvidia/gpus/0000:01:00.0/information"), "Model: x\n")
	if _, err := GenerateNVIDIA(h); err == nil || !strings.Contains(err.Error(), "no Device Minor") {
		t.Fatalf("GenerateNVIDIA with a bad information file = %v", err)
	}
}
