package kube

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/libnet"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with the file at p, or rewrites it with -update.
func golden(t *testing.T, p string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", p, d)
	}
}

// playOptions are the options every play case runs with, plus those its options.json sets.
func playOptions(t *testing.T, dir string) PlayOptions {
	o := PlayOptions{FilesDir: "/var/lib/berth/kube", NodeName: "host1", DefaultNetwork: DefaultNetwork}
	b, err := os.ReadFile(filepath.Join(dir, "options.json"))
	if err == nil {
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestPlayGolden translates each testdata/play/CASE/input.yaml and compares the plan (as
// JSON) with plan.json.
func TestPlayGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/play/*")
	if len(dirs) == 0 {
		t.Fatal("no play cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode("input.yaml", data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			plan, err := Translate(m, playOptions(t, dir))
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			got, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "plan.json"), append(got, '\n'))
		})
	}
}

// TestPlayNegative: each testdata/play-negative/CASE.yaml starts with "# error: MESSAGE",
// the exact error Decode or Translate must return.
func TestPlayNegative(t *testing.T) {
	files, _ := filepath.Glob("testdata/play-negative/*.yaml")
	if len(files) == 0 {
		t.Fatal("no negative cases")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# error: ")
			if !ok {
				t.Fatalf("%s does not start with # error:", f)
			}
			m, err := Decode("case.yaml", data)
			if err == nil {
				_, err = Translate(m, PlayOptions{FilesDir: "/var/lib/berth/kube", DefaultNetwork: DefaultNetwork})
			}
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if err.Error() != want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), want)
			}
		})
	}
}

// TestGenerateGolden renders testdata/generate/CASE/pods.json (with options.json) and
// compares the YAML and the warnings with generate.yaml and warnings.txt; the YAML must
// strict-decode into k8s.io/api types and play back into the same containers.
func TestGenerateGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/generate/*")
	if len(dirs) == 0 {
		t.Fatal("no generate cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var pods []PodSource
			readJSON(t, filepath.Join(dir, "pods.json"), &pods)
			var o GenerateOptions
			if _, err := os.Stat(filepath.Join(dir, "options.json")); err == nil {
				readJSON(t, filepath.Join(dir, "options.json"), &o)
			}
			out, warnings, err := Generate(pods, o)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			golden(t, filepath.Join(dir, "generate.yaml"), out)
			golden(t, filepath.Join(dir, "warnings.txt"), []byte(strings.Join(warnings, "\n")+"\n"))
			strictDecode(t, out)
			roundTrip(t, pods, out)
		})
	}
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// strictDecode decodes every document into its k8s.io/api type, refusing unknown fields.
func strictDecode(t *testing.T, out []byte) {
	t.Helper()
	for _, d := range splitDocuments(out) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(d.body, &tm); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch tm.Kind {
		case "Pod":
			obj = &corev1.Pod{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "Service":
			obj = &corev1.Service{}
		default:
			t.Fatalf("generated kind %q", tm.Kind)
		}
		if err := yaml.UnmarshalStrict(d.body, obj); err != nil {
			t.Errorf("strict decode of %s at line %d: %v", tm.Kind, d.line, err)
		}
	}
}

// roundTrip plays the generated YAML and checks each container comes back with what the
// records held: image, command, env, ports, volumes, labels, limits and health check.
func roundTrip(t *testing.T, pods []PodSource, out []byte) {
	t.Helper()
	m, err := Decode("generated.yaml", out)
	if err != nil {
		t.Fatalf("Decode generated: %v", err)
	}
	plan, err := Translate(m, PlayOptions{FilesDir: "/x", DefaultNetwork: DefaultNetwork})
	if err != nil {
		t.Fatalf("Translate generated: %v", err)
	}
	if len(plan.Report) > 0 {
		t.Errorf("generated YAML has unapplied fields: %q", plan.Report)
	}
	for i, ps := range pods {
		pp := plan.Pods[i]
		var ports []libnet.PortMapping
		for _, c := range ps.Containers {
			for _, p := range c.Options.Ports {
				if p.HostPort != 0 {
					ports = append(ports, p)
				}
			}
		}
		ports = append(ports, ps.Ports...)
		if d := cmp.Diff(ports, pp.Ports, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b libnet.PortMapping) bool { return a.HostPort < b.HostPort })); d != "" {
			t.Errorf("pod %s ports (-want +got):\n%s", ps.Name, d)
		}
		for j, c := range ps.Containers {
			want, got := c.Options, pp.Containers[j].CreateOptions
			delete(got.Labels, LabelPlay)
			delete(got.Labels, "app")
			wantLabels := copyMap(want.Labels)
			delete(wantLabels, LabelPlay)
			for k, v := range ps.Labels {
				if wantLabels == nil {
					wantLabels = map[string]string{}
				}
				wantLabels[k] = v
			}
			type same struct {
				Image      string
				Entrypoint *[]string
				Cmd, Env   []string
				Workdir    string
				Labels     map[string]string
				Annots     map[string]string
				Mounts     []engine.Mount
				Memory     int64
				NanoCPUs   int64
				Health     *engine.Healthcheck
				CapAdd     []string
				CapDrop    []string
				ReadOnly   bool
				NoNewPrivs bool
				Restart    engine.RestartPolicy
			}
			w := same{want.Image, want.Entrypoint, want.Cmd, want.Env, want.Workdir, wantLabels, want.Annotations, want.Mounts, want.Memory, want.NanoCPUs, want.Health, want.CapAdd, want.CapDrop, want.ReadOnly, want.NoNewPrivs, want.Restart}
			g := same{got.Image, got.Entrypoint, got.Cmd, got.Env, got.Workdir, got.Labels, got.Annotations, got.Mounts, got.Memory, got.NanoCPUs, got.Health, got.CapAdd, got.CapDrop, got.ReadOnly, got.NoNewPrivs, got.Restart}
			w.Restart = ps.Containers[0].Options.Restart // a pod has one restartPolicy
			if w.Restart.Name == "" {
				w.Restart.Name = "no"
			}
			if w.Entrypoint != nil && len(*w.Entrypoint) == 0 {
				w.Entrypoint = nil // not expressible, warned
			}
			if want.User != "" && !strings.ContainsAny(want.User, "abcdefghijklmnopqrstuvwxyz") && got.User != want.User {
				t.Errorf("container %s user %q, want %q", c.Name, got.User, want.User)
			}
			if d := cmp.Diff(w, g, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("container %s round trip (-want +got):\n%s", c.Name, d)
			}
		}
	}
}

// FuzzPlay decodes and translates arbitrary input: errors are fine, panics are not.
func FuzzPlay(f *testing.F) {
	files, _ := filepath.Glob("testdata/play*/*/input.yaml")
	neg, _ := filepath.Glob("testdata/play-negative/*.yaml")
	for _, p := range append(files, neg...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		Translate(m, PlayOptions{FilesDir: "/x"})
	})
}
