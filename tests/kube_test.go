package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKubeGenerateContainer generates a Pod from a plain container: the YAML strict-decodes
// into k8s.io/api types and carries the container's image, command, env, ports, volumes,
// labels, limits and health check.
func TestKubeGenerateContainer(t *testing.T) {
	b := withImage(t)
	host := t.TempDir()
	b.Run("create", "--name", "kgen", "-e", "A=1", "-e", "B=two words", "-p", "127.0.0.1:18089:8080",
		"-v", host+":/data:ro", "-v", "kgenvol:/vol", "--memory", "64m", "--cpus", "0.5", "--label", "tier=front",
		"--health-cmd", "test -d /data", "--health-interval", "5s", "--restart", "always",
		"localhost/bb:1", "sleep", "100").WantSuccess(t)
	out := b.Run("kube", "generate", "kgen").WantSuccess(t).Stdout
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(out), &pod); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, out)
	}
	if pod.Kind != "Pod" || pod.Name != "kgen-pod" || pod.Labels["tier"] != "front" || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("pod: %+v", pod.ObjectMeta)
	}
	c := pod.Spec.Containers[0]
	if c.Name != "kgen" || c.Image != "localhost/bb:1" || strings.Join(c.Args, " ") != "sleep 100" || c.Command != nil {
		t.Errorf("container: name %q image %q command %q args %q", c.Name, c.Image, c.Command, c.Args)
	}
	if len(c.Env) != 2 || c.Env[0].Name != "A" || c.Env[1].Value != "two words" {
		t.Errorf("env: %+v", c.Env)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].HostPort != 18089 || c.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("ports: %+v", c.Ports)
	}
	if c.Resources.Limits.Memory().Value() != 64<<20 || c.Resources.Limits.Cpu().MilliValue() != 500 {
		t.Errorf("limits: %v", c.Resources.Limits)
	}
	if p := c.LivenessProbe; p == nil || strings.Join(p.Exec.Command, " ") != "/bin/sh -c test -d /data" || p.PeriodSeconds != 5 {
		t.Errorf("probe: %+v", p)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	if len(c.VolumeMounts) != 2 {
		t.Fatalf("mounts: %+v", c.VolumeMounts)
	}
	if m := c.VolumeMounts[0]; m.MountPath != "/data" || !m.ReadOnly || vols[m.Name].HostPath == nil || vols[m.Name].HostPath.Path != host {
		t.Errorf("bind mount: %+v %+v", m, vols[m.Name])
	}
	if m := c.VolumeMounts[1]; m.MountPath != "/vol" || vols[m.Name].PersistentVolumeClaim == nil || vols[m.Name].PersistentVolumeClaim.ClaimName != "kgenvol" {
		t.Errorf("volume mount: %+v %+v", m, vols[m.Name])
	}

	// -f writes a new file and refuses to replace one.
	f := filepath.Join(t.TempDir(), "kgen.yaml")
	b.Run("kube", "generate", "--type", "deployment", "--service", "-f", f, "kgen").WantSuccess(t)
	data, err := os.ReadFile(f)
	if err != nil || !strings.Contains(string(data), "kind: Deployment") || !strings.Contains(string(data), "kind: Service") {
		t.Fatalf("generate -f: %v\n%s", err, data)
	}
	b.Run("kube", "generate", "-f", f, "kgen").WantError(t, 125, "the file exists")
	b.Run("kube", "generate", "nosuch").WantError(t, 125, "no such container: nosuch")
	b.Run("kube", "generate", "--type", "job", "kgen").WantError(t, 125, `invalid --type "job"`)
}
