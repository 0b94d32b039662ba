package tests

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-project/berth/tests/fixture"
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
	if old := b.Run("generate", "kube", "kgen").WantSuccess(t).Stdout; old != out {
		t.Errorf("generate kube differs from kube generate:\n%s", old)
	}
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
	b.Run("kube", "generate", "-f", f, "kgen").WantError(t, 1, "the file exists")
	b.Run("kube", "generate", "nosuch").WantError(t, 1, "no such container: nosuch")
	b.Run("kube", "generate", "--type", "job", "kgen").WantError(t, 1, `invalid --type "job"`)
}

// kubeFile writes a play file into a fresh directory and returns its path.
func kubeFile(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "play.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubeNetwork creates a user network with its own subnet for a kube test.
func kubeNetwork(t *testing.T, b *Berth, name, subnet string) {
	t.Helper()
	b.Run("network", "create", "--subnet", subnet, name).WantSuccess(t)
	t.Cleanup(func() {
		// Pods first: their infra containers go only with them, and the network only once
		// nothing is attached.
		for _, args := range [][]string{{"pod", "rm", "-af"}, {"rm", "-af"}, {"network", "rm", "-f", name}} {
			if r := b.Run(args...); r.Code != 0 {
				t.Logf("cleanup: berth %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
			}
		}
	})
}

func execOut(t *testing.T, b *Berth, ctr string, cmd ...string) string {
	t.Helper()
	return b.Run(append([]string{"exec", ctr}, cmd...)...).WantSuccess(t).Stdout
}

const kubeDeployment = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  GREETING: hello
  app.conf: |
    listen 8080
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
data:
  password: czNjcjN0
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kube-web-data
spec:
  accessModes: [ReadWriteOnce]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {team.example/owner: ops}
    spec:
      containers:
      - name: app
        image: localhost/bb:1
        command: [sh, -c, "echo $(CFG_GREETING) > /data/hello; exec sleep 1000"]
        envFrom:
        - configMapRef: {name: web-config}
          prefix: CFG_
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef: {name: web-secret, key: password}
        - name: POD
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
        volumeMounts:
        - {name: config, mountPath: /etc/app}
        - {name: secret, mountPath: /run/secret}
        - {name: data, mountPath: /data}
      volumes:
      - name: config
        configMap: {name: web-config, items: [{key: app.conf, path: app.conf}]}
      - name: secret
        secret: {secretName: web-secret, defaultMode: 0400}
      - name: data
        persistentVolumeClaim: {claimName: kube-web-data}
`

// TestKubePlayDeployment plays a Deployment reading a ConfigMap and a Secret as env and as
// volumes and writing to a PersistentVolumeClaim; down removes the pod and keeps the volume
// unless --force; a second play of the same file without --replace is refused.
func TestKubePlayDeployment(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubedep", "10.239.1.0/24")
	f := kubeFile(t, kubeDeployment)
	r := b.Run("kube", "play", "--network", "kubedep", f).WantSuccess(t)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 6 || lines[0] != "Volumes:" || lines[1] != "kube-web-data" || lines[2] != "Pod:" || len(lines[3]) != 64 || lines[4] != "Containers:" || len(lines[5]) != 64 {
		t.Fatalf("play printed %q", r.Stdout)
	}
	ctr := "web-pod-app"
	if got := b.Run("inspect", "--format", `{{index .Config.Annotations "team.example/owner"}} {{.Config.Labels.app}}`, ctr).WantSuccess(t).Stdout; got != "ops web\n" {
		t.Errorf("annotations and labels: %q", got)
	}
	env := execOut(t, b, ctr, "env")
	for _, want := range []string{"CFG_GREETING=hello", "PASSWORD=s3cr3t", "POD=web-pod"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if got := execOut(t, b, ctr, "cat", "/etc/app/app.conf"); got != "listen 8080\n" {
		t.Errorf("configMap volume: %q", got)
	}
	if got := execOut(t, b, ctr, "stat", "-c", "%a", "/run/secret/password"); got != "400\n" {
		t.Errorf("secret mode: %q", got)
	}
	b.Run("exec", ctr, "touch", "/etc/app/new").WantExit(t, 1) // read-only
	eventually(t, "the PVC file", func() bool {
		return b.Run("exec", ctr, "cat", "/data/hello").Stdout == "hello\n"
	})
	b.Run("kube", "play", "--network", "kubedep", f).WantError(t, 125, "pod web-pod already exists")
	r = b.Run("kube", "play", "--network", "kubedep", "--replace", f).WantSuccess(t)
	if got := b.Run("ps", "-a", "--format", "{{.Names}}", "--filter", "name=web-pod-app").WantSuccess(t).Stdout; got != "web-pod-app\n" {
		t.Errorf("after --replace: %q", got)
	}
	podID := strings.TrimSpace(b.Run("pod", "inspect", "--format", "{{.Id}}", "web-pod").WantSuccess(t).Stdout)
	r = b.Run("kube", "down", f).WantSuccess(t)
	if want := "Pods stopped:\n" + podID + "\nPods removed:\n" + podID + "\n"; r.Stdout != want {
		t.Errorf("down printed %q, want %q", r.Stdout, want)
	}
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("down left containers: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(b.Root, "kube")); len(entries) != 0 {
		t.Errorf("down left volume files: %v", entries)
	}
	b.Run("volume", "inspect", "kube-web-data").WantSuccess(t)
	b.Run("kube", "down", f).WantError(t, 1, "no pod of the file exists")
	r = b.Run("kube", "play", "--down", "--force", f).WantSuccess(t)
	if r.Stdout != "Volumes removed:\nkube-web-data\n" {
		t.Errorf("down --force printed %q", r.Stdout)
	}
	b.Run("volume", "inspect", "kube-web-data").WantExit(t, 1)
}

// TestKubePlayPodInitHostPort plays a Pod whose initContainer prepares a file the server
// sends; the server's hostPort is reached from the host, and its sibling reaches it on
// 127.0.0.1 (one network namespace per pod).
func TestKubePlayPodInitHostPort(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubeinit", "10.239.2.0/24")
	port := freePort(t)
	f := kubeFile(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: initpod
spec:
  initContainers:
  - name: prepare
    image: localhost/bb:1
    command: [sh, -c, "echo init-ok > /work/msg"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: server
    image: localhost/bb:1
    command: [sh, -c, "while true; do nc -l -p 8080 < /work/msg; done"]
    ports: [{containerPort: 8080, hostPort: %d, hostIP: 127.0.0.1}]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: client
    image: localhost/bb:1
    command: [sleep, "1000"]
  volumes: [{name: work, emptyDir: {}}]
`, port))
	b.Run("kube", "play", "--network", "kubeinit", f).WantSuccess(t)
	got, err := dial(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil || got != "init-ok\n" {
		t.Fatalf("hostPort %d: %q, %v", port, got, err)
	}
	if out := b.Run("exec", "initpod-client", "sh", "-c", "for i in $(seq 30); do nc -w 3 127.0.0.1 8080 </dev/null && break; sleep 0.1; done").Stdout; out != "init-ok\n" {
		t.Errorf("127.0.0.1 inside the pod: %q", out)
	}
	if names := b.Run("ps", "-a", "--format", "{{.Names}}", "--filter", "name=initpod-prepare").WantSuccess(t).Stdout; names != "" {
		t.Errorf("the init container was kept: %q", names)
	}
	b.Run("kube", "down", f).WantSuccess(t)
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Error("hostPort still answers after down")
	}
}

// TestKubePlayPVCReuse: a PersistentVolumeClaim is a named volume that outlives down, and a
// later play of the file finds what the first one wrote.
func TestKubePlayPVCReuse(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubepvc", "10.239.3.0/24")
	f := kubeFile(t, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kube-keep}
---
apiVersion: batch/v1
kind: Job
metadata: {name: counter}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: count
        image: localhost/bb:1
        command: [sh, -c, "echo run >> /data/runs; wc -l < /data/runs"]
        volumeMounts: [{name: d, mountPath: /data}]
      volumes: [{name: d, persistentVolumeClaim: {claimName: kube-keep}}]
`)
	for i := 1; i <= 2; i++ {
		b.Run("kube", "play", "--network", "kubepvc", f).WantSuccess(t)
		if got := strings.TrimSpace(b.Run("logs", "counter-pod-count").WantSuccess(t).Stdout); got != fmt.Sprint(i) {
			t.Errorf("play %d: the volume holds %s runs", i, got)
		}
		b.Run("kube", "down", f).WantSuccess(t)
	}
	b.Run("kube", "down", "--force", f).WantSuccess(t)
}

// TestKubePlayJob: play of a Job waits for it and exits with its status.
func TestKubePlayJob(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubejob", "10.239.4.0/24")
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: %s}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: %s
      containers:
      - {name: main, image: localhost/bb:1, command: [sh, -c, "echo ran; exit %d"]}
`
	b.Run("kube", "play", "--network", "kubejob", kubeFile(t, fmt.Sprintf(job, "ok", "Never", 0))).WantSuccess(t)
	r := b.Run("kube", "play", "--network", "kubejob", kubeFile(t, fmt.Sprintf(job, "bad", "OnFailure", 3))).WantExit(t, 3)
	if r.Stderr != "Error: job pod bad-pod: container bad-pod-main exited with status 3\n" {
		t.Errorf("stderr %q", r.Stderr)
	}
	// OnFailure with backoffLimit 1: one retry, so the container ran twice.
	if got := b.Run("logs", "bad-pod-main").WantSuccess(t).Stdout; got != "ran\nran\n" {
		t.Errorf("logs of the failed job: %q", got)
	}
	if got := b.Run("inspect", "--format", "{{.State.ExitCode}}", "ok-pod-main").WantSuccess(t).Stdout; got != "0\n" {
		t.Errorf("exit code of the good job: %q", got)
	}
	b.Run("kube", "play", "--start=false", "--network", "kubejob", kubeFile(t, fmt.Sprintf(job, "later", "Never", 5))).WantSuccess(t)
	if got := b.Run("inspect", "--format", "{{.State.Status}}", "later-pod-main").WantSuccess(t).Stdout; got != "created\n" {
		t.Errorf("--start=false: %q", got)
	}
}

// TestKubePlayService: a Service selecting a pod gives it its name on the network, so another
// pod of the file reaches it as "database" (and as its pod name).
func TestKubePlayService(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubesvc", "10.239.5.0/24")
	f := kubeFile(t, `apiVersion: v1
kind: Pod
metadata:
  name: db
  labels: {role: db}
spec:
  containers:
  - name: main
    image: localhost/bb:1
    command: [sh, -c, "while true; do echo db-here | nc -l -p 5432; done"]
---
apiVersion: v1
kind: Service
metadata: {name: database}
spec:
  selector: {role: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - {name: main, image: localhost/bb:1, command: [sleep, "1000"]}
`)
	b.Run("kube", "play", "--network", "kubesvc", f).WantSuccess(t)
	for _, host := range []string{"database", "db"} {
		out := b.Run("exec", "app-main", "sh", "-c", "for i in $(seq 30); do nc -w 3 "+host+" 5432 </dev/null && break; sleep 0.1; done").Stdout
		if out != "db-here\n" {
			t.Errorf("%s from another pod: %q", host, out)
		}
	}
}

// TestKubeGeneratePlayRoundTrip: generate from a container, remove it, play the YAML: the new
// container has the same image, command, env, ports, labels, limits and health check.
func TestKubeGeneratePlayRoundTrip(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kuberound", "10.239.6.0/24")
	port := freePort(t)
	b.Run("run", "-d", "--name", "orig", "-e", "MODE=prod", "-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"--memory", "32m", "--label", "tier=back", "--health-cmd", "true", "--health-interval", "7s",
		"-v", "kuberoundvol:/data", "-v", t.TempDir()+":/h:ro", "localhost/bb:1", "sh", "-c", "while true; do echo round | nc -l -p 80; done").WantSuccess(t)
	yamlText := b.Run("kube", "generate", "orig").WantSuccess(t).Stdout
	inspect := func(name string) string {
		return b.Run("inspect", "--format", "{{.Config.Image}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{.Config.Labels.tier}}|{{.HostConfig.Memory}}|{{json .Config.Healthcheck}}|{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}:{{.RW}} {{end}}|{{json .HostConfig.PortBindings}}", name).WantSuccess(t).Stdout
	}
	before := inspect("orig")
	if !strings.Contains(before, "volume:kuberoundvol:/data:true bind:<no value>:/h:false ") {
		t.Fatalf("inspect of the original: %s", before)
	}
	b.Run("rm", "-f", "orig").WantSuccess(t)
	b.RunStdin([]byte(yamlText), "kube", "play", "--network", "kuberound", "-").WantSuccess(t)
	after := inspect("orig-pod-orig")
	// The pod publishes the port now; compare the rest exactly.
	cut := func(s string) string { return s[:strings.LastIndex(s, "|")] }
	if cut(before) != cut(after) {
		t.Errorf("round trip changed the container:\nbefore %s\nafter  %s", before, after)
	}
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "round\n" {
		t.Errorf("port after round trip: %q, %v", got, err)
	}
}

// TestKubePlayStrict: unapplied kinds and fields are reported one line each; --strict makes
// that an error before anything is created.
func TestKubePlayStrict(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubestrict", "10.239.7.0/24")
	f := kubeFile(t, `apiVersion: v1
kind: Pod
metadata: {name: strict}
spec:
  nodeSelector: {disk: ssd}
  containers:
  - {name: main, image: localhost/bb:1, command: [sleep, "100"], resources: {requests: {cpu: 100m}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec: {schedule: "@daily"}
`)
	want := f + ":1: Pod strict: spec.containers[0].resources.requests is not applied\n" +
		f + ":1: Pod strict: spec.nodeSelector is not applied\n" +
		f + ":9: CronJob nightly: kind CronJob is not applied\n"
	r := b.Run("kube", "play", "--strict", "--network", "kubestrict", f).WantExit(t, 125)
	if r.Stderr != want+"Error: --strict: 3 kind(s) or field(s) of "+f+" are not applied (listed above)\n" {
		t.Errorf("--strict stderr:\n%s", r.Stderr)
	}
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("--strict created %q", got)
	}
	r = b.Run("play", "kube", "--network", "kubestrict", f).WantExit(t, 0) // podman's older spelling
	if r.Stderr != want {
		t.Errorf("report:\n%s", r.Stderr)
	}
}

// TestKubePlayErrors: bad YAML names its line, an unknown image and a taken hostPort fail
// with one line, and a failed play leaves nothing behind.
func TestKubePlayErrors(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubeerr", "10.239.8.0/24")
	bad := kubeFile(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x: y\n")
	b.Run("kube", "play", bad).WantError(t, 125, "Error: "+bad+":8: mapping values are not allowed in this context")
	b.Run("kube", "play", filepath.Join(t.TempDir(), "none.yaml")).WantError(t, 125, "no such file")
	pod := `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - {name: main, image: %s, command: [sleep, "100"], ports: [{containerPort: 80, hostPort: %d}]}
`
	b.Run("kube", "play", "--network", "kubeerr", kubeFile(t, fmt.Sprintf(pod, "img", "localhost:1/nosuch:1", 0))).WantError(t, 125, "localhost:1/nosuch:1")
	port := freePort(t)
	twice := kubeFile(t, fmt.Sprintf(pod, "one", "localhost/bb:1", port)+"---\n"+fmt.Sprintf(pod, "two", "localhost/bb:1", port))
	b.Run("kube", "play", "--network", "kubeerr", twice).WantError(t, 125, fmt.Sprintf("hostPort %d/tcp is used by both pod one and pod two", port))
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b.Run("kube", "play", "--network", "kubeerr", kubeFile(t, fmt.Sprintf(pod, "taken", "localhost/bb:1", port))).WantError(t, 125, fmt.Sprint(port))
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("failed plays left containers: %q", got)
	}
	if got := b.Run("volume", "ls", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("failed plays left volumes: %q", got)
	}
	b.Run("kube", "play", "--network", "kubeerr", kubeFile(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: many}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: a, image: localhost/bb:1}]\n")).
		WantError(t, 125, "spec.replicas is 2: berth runs one replica on this host")
}

// TestKubeGeneratePod generates a pod made with pod create and run --pod: the pod's port and
// labels come back, and playing the YAML recreates it.
func TestKubeGeneratePod(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubegenpod", "10.239.9.0/24")
	port := freePort(t)
	b.Run("pod", "create", "--name", "gp", "--network", "kubegenpod", "--label", "team=x", "-p", fmt.Sprintf("127.0.0.1:%d:80", port)).WantSuccess(t)
	b.Run("run", "-d", "--pod", "gp", "--name", "gp-web", "-e", "MSG=from-pod", "localhost/bb:1", "sh", "-c", "while true; do echo $MSG | nc -l -p 80; done").WantSuccess(t)
	out := b.Run("kube", "generate", "gp").WantSuccess(t).Stdout
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(out), &pod); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, out)
	}
	if pod.Name != "gp" || pod.Labels["team"] != "x" || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "web" {
		t.Fatalf("generated:\n%s", out)
	}
	if ps := pod.Spec.Containers[0].Ports; len(ps) != 1 || ps[0].HostPort != int32(port) || ps[0].ContainerPort != 80 {
		t.Errorf("ports: %+v", ps)
	}
	b.Run("pod", "rm", "-f", "gp").WantSuccess(t)
	b.RunStdin([]byte(out), "kube", "play", "--network", "kubegenpod", "-").WantSuccess(t)
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "from-pod\n" {
		t.Errorf("replayed pod: %q, %v", got, err)
	}
	if got := b.Run("ps", "--pod", "--format", "{{.Names}}").WantSuccess(t).Stdout; !strings.Contains(got, "gp-web\n") {
		t.Errorf("replayed containers: %q", got)
	}
}

// TestKubePlayOptions: --configmap, --publish, --log-driver, a URL, --build from a directory
// beside the file, and the default network (made by play, with name resolution).
func TestKubePlayOptions(t *testing.T) {
	b := withImage(t)
	rmAllOnCleanup(t, b)
	t.Cleanup(func() { b.Run("pod", "rm", "-af"); b.Run("network", "rm", "-f", "kube") })
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "built"), 0o755)
	os.WriteFile(filepath.Join(dir, "built", "Containerfile"), []byte("FROM localhost/bb:1\nRUN echo made-by-build > /built\n"), 0o644)
	cm := filepath.Join(dir, "cm.yaml")
	os.WriteFile(cm, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside}\ndata: {WORD: external}\n"), 0o644)
	port := freePort(t)
	f := filepath.Join(dir, "play.yaml")
	os.WriteFile(f, []byte(`apiVersion: v1
kind: Pod
metadata: {name: opts}
spec:
  containers:
  - name: main
    image: localhost/built:1
    command: [sh, -c, "echo $(WORD); while true; do cat /built | nc -l -p 80; done"]
    env: [{name: WORD, valueFrom: {configMapKeyRef: {name: outside, key: WORD}}}]
    ports: [{containerPort: 80, hostPort: 1}]
`), 0o644)
	b.Run("kube", "play", "--configmap", cm, "--publish", fmt.Sprintf("127.0.0.1:%d:80", port), "--log-driver", "json-file", f).WantExit(t, 0)
	if got, err := dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "made-by-build\n" {
		t.Errorf("--publish and --build: %q, %v", got, err)
	}
	if got := b.Run("inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "opts-main").WantSuccess(t).Stdout; got != "json-file\n" {
		t.Errorf("--log-driver: %q", got)
	}
	eventually(t, "the ConfigMap value in the log", func() bool {
		return b.Run("logs", "opts-main").Stdout == "external\n"
	})
	if got := b.Run("network", "inspect", "--format", "{{.Name}}", "kube").WantSuccess(t).Stdout; got != "kube\n" {
		t.Errorf("default network: %q", got)
	}
	b.Run("kube", "play", "--configmap", cm, f).WantError(t, 125, "pod opts already exists")

	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	b.Run("kube", "down", srv.URL+"/play.yaml").WantSuccess(t)
	r := b.Run("kube", "play", "--configmap", cm, "--start=false", srv.URL+"/play.yaml").WantSuccess(t)
	if !strings.HasPrefix(r.Stdout, "Pod:\n") {
		t.Errorf("play of a URL printed %q", r.Stdout)
	}
	b.Run("kube", "play", srv.URL+"/nosuch.yaml").WantError(t, 125, "404 Not Found")

	// A DaemonSet's pod with hostNetwork shares the host's network namespace.
	ds := filepath.Join(dir, "ds.yaml")
	os.WriteFile(ds, []byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: main, image: localhost/bb:1, command: [sleep, "1000"]}]
`), 0o644)
	b.Run("kube", "play", ds).WantSuccess(t)
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	if got := strings.TrimSpace(execOut(t, b, "agent-pod-main", "readlink", "/proc/self/ns/net")); got != hostNet {
		t.Errorf("hostNetwork pod in %s, host in %s", got, hostNet)
	}
}

// TestKubePlaySymlinkVolume: a symlink planted where play writes a ConfigMap volume is
// replaced, never followed (podman's CVE-2025-9566).
func TestKubePlaySymlinkVolume(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubelink", "10.239.10.0/24")
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("untouched\n"), 0o644)
	f := kubeFile(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {key: from-configmap}
---
apiVersion: v1
kind: Pod
metadata: {name: linked}
spec:
  containers:
  - {name: main, image: localhost/bb:1, command: [sleep, "1000"], volumeMounts: [{name: v, mountPath: /cfg}]}
  volumes: [{name: v, configMap: {name: c}}]
`)
	b.Run("kube", "play", "--network", "kubelink", f).WantSuccess(t)
	vol := filepath.Join(b.Root, "kube", "linked", "v")
	if err := os.Remove(filepath.Join(vol, "key")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(victim, filepath.Join(vol, "key"))
	b.Run("kube", "play", "--replace", "--network", "kubelink", f).WantSuccess(t)
	if data, _ := os.ReadFile(victim); string(data) != "untouched\n" {
		t.Errorf("replay wrote through a symlink: %q", data)
	}
	if got := execOut(t, b, "linked-main", "cat", "/cfg/key"); got != "from-configmap" {
		t.Errorf("volume after replay: %q", got)
	}
	b.Run("kube", "down", f).WantSuccess(t)
	if err := os.Symlink(filepath.Dir(victim), filepath.Join(b.Root, "kube", "linked")); err != nil {
		t.Fatal(err)
	}
	b.Run("kube", "play", "--network", "kubelink", f).WantError(t, 125, "openat2")
	if data, _ := os.ReadFile(victim); string(data) != "untouched\n" {
		t.Errorf("play wrote through a linked pod directory: %q", data)
	}
	if got := b.Run("pod", "ps", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("a failed play left pods: %q", got)
	}
}

// TestKubePlayProbes: exec, httpGet and tcpSocket livenessProbes become health checks that
// pass against a live server, and a failing one makes the container unhealthy.
func TestKubePlayProbes(t *testing.T) {
	b := withImage(t)
	kubeNetwork(t, b, "kubeprobe", "10.239.11.0/24")
	f := kubeFile(t, `apiVersion: v1
kind: Pod
metadata: {name: probes}
spec:
  containers:
  - name: web
    image: localhost/bb:1
    command: [sh, -c, "while true; do printf 'HTTP/1.0 200 OK\r\n\r\nok' | nc -l -p 8080; done"]
    ports: [{name: http, containerPort: 8080}]
    livenessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
  - name: tcp
    image: localhost/bb:1
    command: [sleep, "1000"]
    livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
  - name: cmd
    image: localhost/bb:1
    command: [sleep, "1000"]
    livenessProbe: {exec: {command: [test, -d, /tmp]}, periodSeconds: 1}
  - name: bad
    image: localhost/bb:1
    command: [sleep, "1000"]
    livenessProbe: {exec: {command: [test, -d, /nonexistent]}, periodSeconds: 1, failureThreshold: 1}
`)
	b.Run("kube", "play", "--network", "kubeprobe", f).WantSuccess(t)
	for ctr, want := range map[string]string{"probes-web": "healthy", "probes-tcp": "healthy", "probes-cmd": "healthy", "probes-bad": "unhealthy"} {
		eventually(t, ctr+" "+want, func() bool {
			return b.Run("inspect", "--format", "{{.State.Health.Status}}", ctr).Stdout == want+"\n"
		})
	}
}

// TestKubePlayRootless: an unprivileged user plays a pod (on the engine's rootless network,
// as no bridge can be made) whose containers share 127.0.0.1, and takes it down.
func TestKubePlayRootless(t *testing.T) {
	b := NewRootlessBerth(t)
	dir := filepath.Dir(b.Root)
	p := filepath.Join(dir, "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b.Run("load", "-i", p).WantSuccess(t)
	t.Cleanup(func() { b.Run("pod", "rm", "-af") })
	f := filepath.Join(dir, "play.yaml")
	os.WriteFile(f, []byte(`apiVersion: v1
kind: Pod
metadata: {name: rl}
spec:
  containers:
  - {name: server, image: localhost/bb:1, command: [sh, -c, "while true; do echo rootless-hi | nc -l -p 80; done"]}
  - {name: client, image: localhost/bb:1, command: [sh, -c, "for i in $(seq 50); do nc -w 3 127.0.0.1 80 </dev/null && break; sleep 0.1; done; exec sleep 100"]}
`), 0o644)
	b.Run("kube", "play", f).WantSuccess(t)
	eventually(t, "the client's log", func() bool {
		return b.Run("logs", "rl-client").Stdout == "rootless-hi\n"
	})
	b.Run("kube", "down", f).WantSuccess(t)
	if got := b.Run("ps", "-a", "-q").WantSuccess(t).Stdout; got != "" {
		t.Errorf("down left %q", got)
	}
}
