package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/tests/fixture"
)

// evLine is the template the events tests print each event with.
const evLine = `{{.Type}} {{.Action}} {{index .Actor.Attributes "name"}}`

// pastWindow prints the events from since up to now, as evLine, one per line.
func pastWindow(t *testing.T, b *Berth, since time.Time, extra ...string) []string {
	t.Helper()
	args := append([]string{"events", "--since", unixTime(since), "--until", unixTime(time.Now()), "--format", evLine}, extra...)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(b.Run(args...).WantSuccess(t).Stdout), "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return lines
}

func unixTime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// wantSequence fails unless want appears in got in order (other events may come between).
func wantSequence(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("events lack %q (after %q)\ngot:\n%s", want[i], want[:i], strings.Join(got, "\n"))
	}
}

func TestEventsContainerLifecycle(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	b.Run("run", "--rm", "--name", "evrm", "-l", "team=ops", "localhost/bb:1", "sh", "-c", "exit 3").WantExit(t, 3)
	b.Run("run", "-d", "--name", "evd", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("pause", "evd").WantSuccess(t)
	b.Run("unpause", "evd").WantSuccess(t)
	b.Run("kill", "-s", "USR1", "evd").WantSuccess(t)
	b.Run("exec", "evd", "sh", "-c", "exit 4").WantExit(t, 4)
	b.Run("commit", "-m", "snap", "evd", "localhost/evcommit:1").WantSuccess(t)
	b.Run("export", "-o", filepath.Join(t.TempDir(), "evd.tar"), "evd").WantSuccess(t)
	b.Run("rename", "evd", "evd2").WantSuccess(t)
	b.Run("restart", "-t", "1", "evd2").WantSuccess(t)
	b.Run("stop", "-t", "1", "evd2").WantSuccess(t)
	b.Run("rm", "evd2").WantSuccess(t)
	got := pastWindow(t, b, start, "--filter", "type=container")
	wantSequence(t, got,
		"container create evrm", "container attach evrm", "container start evrm", "container die evrm", "container destroy evrm",
		"container create evd", "container start evd", "container pause evd", "container unpause evd", "container kill evd",
		"container exec_create: sh -c exit 4 evd", "container exec_start: sh -c exit 4 evd", "container exec_die evd",
		"container commit evd", "container export evd", "container rename evd2",
		"container kill evd2", "container die evd2", "container stop evd2", "container start evd2", "container restart evd2",
		"container kill evd2", "container die evd2", "container stop evd2", "container destroy evd2")
	// One die per exit, however the monitor's cleanup and run --rm's removal race.
	if n := strings.Count(strings.Join(got, "\n"), "container die evrm"); n != 1 {
		t.Errorf("%d die events for evrm, want 1", n)
	}
	// Attributes: Docker's exitCode, signal, execID, oldName, and the container's labels
	// (its own, and its image's: tier=test).
	attrs := func(filter ...string) map[string]string {
		t.Helper()
		args := append([]string{"events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--format", "{{json .Actor.Attributes}}"}, filter...)
		out := strings.TrimSpace(b.Run(args...).WantSuccess(t).Stdout)
		lines := strings.Split(out, "\n")
		var m map[string]string
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatalf("attributes %q: %v", out, err)
		}
		return m
	}
	if a := attrs("--filter", "container=evrm", "--filter", "event=die"); a["exitCode"] != "3" || a["team"] != "ops" || a["tier"] != "test" || a["image"] != "localhost/bb:1" {
		t.Errorf("die attributes %v", a)
	}
	if a := attrs("--filter", "event=kill"); a["signal"] != "10" {
		t.Errorf("kill -s USR1 attributes %v", a)
	}
	if a := attrs("--filter", "event=exec_die"); a["exitCode"] != "4" || a["execID"] == "" {
		t.Errorf("exec_die attributes %v", a)
	}
	if a := attrs("--filter", "event=rename"); a["oldName"] != "/evd" || a["name"] != "evd2" {
		t.Errorf("rename attributes %v", a)
	}
	// --no-trunc=false shortens a 64-hex ID in the default output, as podman does.
	short := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--filter", "container=evrm", "--filter", "event=create", "--no-trunc=false").WantSuccess(t).Stdout
	if f := strings.Fields(short); len(f) < 4 || len(f[3]) != 12 {
		t.Errorf("--no-trunc=false: %q", short)
	}
	if a := attrs("--filter", "event=commit"); a["comment"] != "snap" || !strings.HasPrefix(a["imageID"], "sha256:") || a["imageRef"] != "localhost/evcommit:1" {
		t.Errorf("commit attributes %v", a)
	}
}

func TestEventsImages(t *testing.T) {
	b := withImage(t) // load
	reg := fixture.StartRegistry(t).Addr
	start := time.Now()
	dir := t.TempDir()
	b.Run("tag", "localhost/bb:1", "localhost/bb:evt").WantSuccess(t)
	b.Run("save", "-o", filepath.Join(dir, "bb.tar"), "localhost/bb:evt").WantSuccess(t)
	b.Run("rmi", "localhost/bb:evt").WantSuccess(t)
	b.Run("tag", "localhost/bb:1", reg+"/ev/bb:1").WantSuccess(t)
	b.Run("push", reg+"/ev/bb:1").WantSuccess(t)
	b.Run("rmi", reg+"/ev/bb:1").WantSuccess(t)
	b.Run("pull", reg+"/ev/bb:1").WantSuccess(t)
	b.Run("rmi", "-f", reg+"/ev/bb:1").WantSuccess(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb:1\nLABEL stage=built\nRUN echo hi > /built\n"})
	b.Run("build", "-q", "-t", "localhost/evbuilt:1", ctx).WantSuccess(t)
	rootfs, err := fixture.TarBytes([]fixture.Entry{{Name: "hello", Body: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	b.RunStdin(rootfs, "import", "-", "localhost/evimported:1").WantSuccess(t)
	b.Run("rmi", "localhost/evimported:1").WantSuccess(t)
	b.Run("load", "-i", filepath.Join(dir, "bb.tar")).WantSuccess(t)
	got := pastWindow(t, b, start, "--filter", "type=image")
	bb := strings.TrimSpace(b.Run("image", "inspect", "-f", "{{.Id}}", "localhost/bb:1").WantSuccess(t).Stdout)
	built := strings.TrimSpace(b.Run("image", "inspect", "-f", "{{.Id}}", "localhost/evbuilt:1").WantSuccess(t).Stdout)
	imported := strings.TrimPrefix(got[len(got)-2], "image delete ")
	wantSequence(t, got,
		"image tag localhost/bb:evt", "image save "+bb, "image untag "+bb, "image tag "+reg+"/ev/bb:1",
		"image push "+reg+"/ev/bb", "image untag "+bb, "image pull "+reg+"/ev/bb", "image untag "+bb,
		"image tag localhost/evbuilt:1", "image build "+built, "image import "+imported, "image untag "+imported, "image delete "+imported, "image load "+bb)
	if !strings.HasPrefix(imported, "sha256:") {
		t.Errorf("image delete is not about the image ID: %q", got)
	}
	// Labels ride along: the build's LABEL, and filters by image name work on image events.
	out := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--filter", "event=build",
		"--format", "{{index .Actor.Attributes \"stage\"}}").WantSuccess(t).Stdout
	if out != "built\n" {
		t.Errorf("build event's stage label: %q", out)
	}
	if got := pastWindow(t, b, start, "--filter", "image="+reg+"/ev/bb"); len(got) != 3 || got[1] != "image push "+reg+"/ev/bb" {
		t.Errorf("image= filter on pulls and pushes: %q", got)
	}
}

func TestEventsVolumesAndNetworks(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	net := fmt.Sprintf("evnet%d", os.Getpid()%10000)
	b.Run("volume", "create", "--label", "keep=yes", "evvol").WantSuccess(t)
	b.Run("network", "create", "--label", "zone=a", net).WantSuccess(t)
	b.Run("run", "--rm", "-v", "evvol:/data", "--network", net, "--name", "evnc", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("run", "-d", "--name", "evnc2", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	b.Run("network", "connect", net, "evnc2").WantSuccess(t)
	b.Run("network", "disconnect", net, "evnc2").WantSuccess(t)
	b.Run("rm", "-f", "evnc2").WantSuccess(t)
	b.Run("network", "rm", net).WantSuccess(t)
	b.Run("volume", "rm", "evvol").WantSuccess(t)
	got := pastWindow(t, b, start, "--filter", "type=volume", "--filter", "type=network")
	wantSequence(t, got, "volume create", "network create "+net, "network connect "+net, "volume mount",
		"volume unmount", "network disconnect "+net, "network connect "+net, "network disconnect "+net, "network destroy "+net, "volume destroy")
	if n := strings.Count(strings.Join(got, "\n"), "volume"); n != 4 {
		t.Errorf("%d volume events, want create, mount, unmount, destroy:\n%s", n, strings.Join(got, "\n"))
	}
	out := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--filter", "volume=evvol",
		"--filter", "event=mount", "--format", "{{.Actor.ID}} {{index .Actor.Attributes \"destination\"}} {{index .Actor.Attributes \"read/write\"}}").WantSuccess(t).Stdout
	if out != "evvol /data true\n" {
		t.Errorf("volume mount event: %q", out)
	}
	if out := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--filter", "label=zone=a",
		"--format", "{{.Action}}").WantSuccess(t).Stdout; !strings.HasPrefix(out, "create\nconnect\n") {
		t.Errorf("network events by label: %q", out)
	}
}

// follower is a running `berth events` whose output lines the test reads.
type follower struct {
	t     *testing.T
	lines chan string
	done  chan error
	cmd   interface{ Signal(os.Signal) error }
}

func follow(t *testing.T, b *Berth, args ...string) *follower {
	t.Helper()
	cmd := b.Cmd(append([]string{"events"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &follower{t: t, lines: make(chan string, 1000), done: make(chan error, 1), cmd: cmd.Process}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		f.done <- err
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return f
}

// waitFor reads lines until one equals want.
func (f *follower) waitFor(want string) {
	f.t.Helper()
	deadline := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				f.t.Fatalf("events ended before %q; saw %q", want, seen)
			}
			if strings.TrimSpace(l) == want {
				return
			}
			seen = append(seen, l)
		case <-deadline:
			f.t.Fatalf("no %q within 30s; saw %q", want, seen)
		}
	}
}

// exit waits for the command to end and returns its error.
func (f *follower) exit() error {
	f.t.Helper()
	select {
	case err := <-f.done:
		return err
	case <-time.After(30 * time.Second):
		f.t.Fatal("events did not exit")
		return nil
	}
}

func TestEventsFollow(t *testing.T) {
	b := withImage(t)
	// Live only: nothing of the past, then what happens, as it happens.
	b.Run("volume", "create", "evpast").WantSuccess(t)
	f := follow(t, b, "--format", evLine, "--filter", "type=container")
	time.Sleep(300 * time.Millisecond) // let it reach the end of the log; later events must still come
	b.Run("run", "--rm", "--name", "evlive", "localhost/bb:1", "true").WantSuccess(t)
	f.waitFor("container create evlive")
	f.waitFor("container start evlive")
	f.waitFor("container destroy evlive")
	if err := f.cmd.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := f.exit(); err != nil {
		t.Errorf("events after Ctrl-C: %v", err)
	}
	// With --since, the past comes first, then the stream goes on.
	start := time.Now().Add(-time.Hour)
	f = follow(t, b, "--since", unixTime(start), "--format", evLine)
	f.waitFor("volume create")
	f.waitFor("container destroy evlive")
	b.Run("volume", "rm", "evpast").WantSuccess(t)
	f.waitFor("volume destroy")
	f.cmd.Signal(syscall.SIGTERM)
	f.exit()
	// An --until in the future follows until then, and exits 0.
	f = follow(t, b, "--until", unixTime(time.Now().Add(2*time.Second)), "--format", evLine)
	b.Run("volume", "create", "evuntil").WantSuccess(t)
	f.waitFor("volume create")
	if err := f.exit(); err != nil {
		t.Errorf("events --until in 2s: %v", err)
	}
	// system reset takes the log away: a follower says so and ends.
	f = follow(t, b, "--format", evLine)
	time.Sleep(300 * time.Millisecond)
	b.Run("system", "reset", "-f").WantSuccess(t)
	if err := f.exit(); err == nil || !strings.Contains(err.Error(), "the event log was removed") {
		t.Errorf("events across system reset: %v", err)
	}
}

func TestEventsUntilMatch(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	b.Run("run", "-d", "--name", "evwait", "localhost/bb:1", "sh", "-c", "sleep 1; exit 7").WantSuccess(t)
	// A script waits for the container's death without a poll loop; --since covers a death
	// that happened before events started.
	r := b.Run("events", "--since", unixTime(start), "--filter", "event=die", "--until-match", "event=die",
		"--until-match", "container=evwait", "--format", "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}").WantSuccess(t)
	if r.Stdout != "evwait 7\n" {
		t.Errorf("until-match die printed %q", r.Stdout)
	}
	// health_status=healthy: the monitor's health check result becomes an event.
	b.Run("run", "-d", "--name", "evhealth", "--health-cmd", "true", "--health-interval", "200ms", "localhost/bb:1", "sleep", "100").WantSuccess(t)
	r = b.Run("events", "--since", unixTime(start), "--until-match", "health_status=healthy", "--filter", "container=evhealth",
		"--filter", "event=health_status", "--format", evLine).WantSuccess(t)
	if r.Stdout != "container health_status: healthy evhealth\n" {
		t.Errorf("until-match healthy printed %q", r.Stdout)
	}
	// A past window without a match exits 1.
	b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--until-match", "event=oom").
		WantError(t, 1, "no event matched --until-match event=oom")
}

func TestEventsFiltersAndErrors(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	b.Run("create", "--name", "evf1", "-l", "app=shop", "-l", "tier=web", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("create", "--name", "evf2", "-l", "app=bank", "localhost/bb:1", "true").WantSuccess(t)
	b.Run("volume", "create", "evfv").WantSuccess(t)
	b.Run("rm", "evf1", "evf2").WantSuccess(t)
	end := time.Now()
	window := func(filters ...string) string {
		t.Helper()
		args := []string{"events", "--since", unixTime(start), "--until", unixTime(end), "--format", evLine}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		return b.Run(args...).WantSuccess(t).Stdout
	}
	tests := []struct {
		filters []string
		want    string
	}{
		{nil, "container create evf1\ncontainer create evf2\nvolume create \ncontainer destroy evf1\ncontainer destroy evf2\n"},
		{[]string{"container=evf1"}, "container create evf1\ncontainer destroy evf1\n"},
		{[]string{"container=evf1", "container=evf2", "event=destroy"}, "container destroy evf1\ncontainer destroy evf2\n"},
		{[]string{"type=volume"}, "volume create \n"},
		{[]string{"volume=evfv"}, "volume create \n"},
		{[]string{"type=volume", "type=container", "event=create"}, "container create evf1\ncontainer create evf2\nvolume create \n"},
		{[]string{"label=app"}, "container create evf1\ncontainer create evf2\ncontainer destroy evf1\ncontainer destroy evf2\n"},
		{[]string{"label=app=shop", "label=tier=web", "event=create"}, "container create evf1\n"},
		{[]string{"label=app=shop", "label=tier=db"}, ""},
		{[]string{"image=localhost/bb", "event=create"}, "container create evf1\ncontainer create evf2\n"},
		{[]string{"type=network"}, ""},
	}
	for _, tt := range tests {
		if got := window(tt.filters...); got != tt.want {
			t.Errorf("--filter %q:\n%s\nwant:\n%s", tt.filters, got, tt.want)
		}
	}
	// A window in the past returns at once, also with nothing in it.
	before := time.Now()
	b.Run("events", "--since", "2020-01-01", "--until", "2020-01-02").WantSuccess(t)
	if out := b.Run("events", "--until", "10m").WantSuccess(t).Stdout; out != "" {
		t.Errorf("--until 10m (before anything happened): %q", out)
	}
	if d := time.Since(before); d > 20*time.Second {
		t.Errorf("past windows took %v", d)
	}
	// json is Docker's message, one per line.
	out := b.Run("events", "--since", unixTime(start), "--until", unixTime(end), "--filter", "container=evf2", "--filter", "event=create", "--format", "json").WantSuccess(t).Stdout
	var msg map[string]any
	if err := json.Unmarshal([]byte(out), &msg); err != nil {
		t.Fatalf("--format json %q: %v", out, err)
	}
	actor, _ := msg["Actor"].(map[string]any)
	attrs, _ := actor["Attributes"].(map[string]any)
	if msg["status"] != "create" || msg["Type"] != "container" || msg["Action"] != "create" || msg["scope"] != "local" ||
		msg["from"] != "localhost/bb:1" || attrs["name"] != "evf2" || attrs["app"] != "bank" || msg["timeNano"] == nil || msg["cursor"] == nil {
		t.Errorf("--format json: %s", out)
	}
	// The default line is Docker's: TIME TYPE ACTION ID (ATTRS).
	line := b.Run("events", "--since", unixTime(start), "--until", unixTime(end), "--filter", "type=volume").WantSuccess(t).Stdout
	if f := strings.Fields(line); len(f) != 5 || f[1] != "volume" || f[2] != "create" || f[4] != "(driver=local)" {
		t.Errorf("default output %q", line)
	} else if _, err := time.Parse("2006-01-02T15:04:05.000000000Z07:00", f[0]); err != nil {
		t.Errorf("default output's time %q: %v", f[0], err)
	}
	// Bad input: one line, exit 1 as Docker answers user errors, nothing
	// stored is lost.
	b.Run("events", "--filter", "colour=red").WantError(t, 1, "invalid filter 'colour'")
	b.Run("events", "--filter", "container").WantError(t, 1, "bad format of filter")
	b.Run("events", "--since", "yesterday").WantError(t, 1, `failed to parse value as time or duration: "yesterday"`)
	b.Run("events", "--until-match", "nope=1").WantError(t, 1, "invalid filter 'nope'")
	b.Run("events", "--format", "{{.Nope").WantError(t, 1, "parse format")
	b.Run("events", "--since", "99:0").WantError(t, 1, "beyond the end of the log")
	b.Run("events", "--since", "1:99999999").WantError(t, 1, "beyond the end of the log")
	b.Run("system", "events", "extra").WantError(t, 1, "requires exactly 0 arguments")
	if got := window(); !strings.HasPrefix(got, "container create evf1") {
		t.Errorf("events after bad input: %q", got)
	}
}

func TestEventsCursorResumeAcrossRotation(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	cfg := filepath.Join(t.TempDir(), "berth.conf")
	if err := os.WriteFile(cfg, []byte("[events]\nsegment_size = 1200\nmax_segments = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Env = append(b.Env, "BERTH_CONFIG="+cfg)
	type ev struct{ cursor, id string }
	list := func(args ...string) []ev {
		t.Helper()
		out := b.Run(append([]string{"system", "events", "--stream=false", "--format", "{{.Cursor}} {{.Actor.ID}}"}, args...)...).WantSuccess(t).Stdout
		var evs []ev
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				evs = append(evs, ev{f[0], f[1]})
			}
		}
		return evs
	}
	for i := 0; i < 6; i++ {
		b.Run("volume", "create", "cv"+strconv.Itoa(i)).WantSuccess(t)
	}
	first := list()
	if len(first) != 6 {
		t.Fatalf("6 volume creates gave %d events: %v", len(first), first)
	}
	// Resume exactly after an event.
	if got := list("--since", first[2].cursor); fmt.Sprint(got) != fmt.Sprint(first[3:]) {
		t.Errorf("--since %s = %v, want %v", first[2].cursor, got, first[3:])
	}
	// --until CURSOR includes that event.
	if got := list("--since", first[0].cursor, "--until", first[3].cursor); fmt.Sprint(got) != fmt.Sprint(first[1:4]) {
		t.Errorf("--since %s --until %s = %v", first[0].cursor, first[3].cursor, got)
	}
	// Rotation: a cursor whose segment is kept resumes exactly across segments.
	for i := 6; i < 14; i++ {
		b.Run("volume", "create", "cv"+strconv.Itoa(i)).WantSuccess(t)
	}
	all := list()
	segs := map[string]bool{}
	for _, e := range all {
		segs[strings.Split(e.cursor, ":")[0]] = true
	}
	if len(segs) < 2 {
		t.Fatalf("no rotation with 1200-byte segments: %v", all)
	}
	if got := list("--since", all[1].cursor); fmt.Sprint(got) != fmt.Sprint(all[2:]) {
		t.Errorf("--since %s across segments = %v, want %v", all[1].cursor, got, all[2:])
	}
	// Storage stays bounded: old segments were dropped, and a cursor into one of them
	// resumes at the oldest event left, saying so.
	for i := 14; i < 30; i++ {
		b.Run("volume", "create", "cv"+strconv.Itoa(i)).WantSuccess(t)
	}
	left := list()
	if len(left) >= 30 || left[len(left)-1].id != "cv29" {
		t.Fatalf("after 30 creates the log holds %d events ending %v", len(left), left[len(left)-1])
	}
	files, _ := filepath.Glob(filepath.Join(b.Root, "events", "events-*.log"))
	if len(files) > 3 {
		t.Errorf("%d segments kept, max 3", len(files))
	}
	r := b.Run("events", "--stream=false", "--since", first[0].cursor, "--format", "{{.Actor.ID}}").WantExit(t, 0)
	if !strings.Contains(r.Stderr, "dropped by rotation") || !strings.HasPrefix(r.Stdout, left[0].id+"\n") {
		t.Errorf("--since a dropped cursor: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
}

func TestEventsRestartPolicy(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	b.Run("run", "-d", "--name", "evrs", "--restart", "on-failure:2", "localhost/bb:1", "sh", "-c", "exit 5").WantSuccess(t)
	b.Run("wait", "evrs").WantSuccess(t)
	b.Run("rm", "evrs").WantSuccess(t) // after the monitor's cleanup: its die is the last one
	got := pastWindow(t, b, start, "--filter", "container=evrs")
	want := []string{"container create evrs", "container start evrs", "container die evrs", "container start evrs",
		"container die evrs", "container start evrs", "container die evrs", "container destroy evrs"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restart policy events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A container whose monitor was killed dies in the log once, when the next command finds it
// gone; its volumes are unmounted with it.
func TestEventsDieOfLostMonitor(t *testing.T) {
	b := withImage(t)
	start := time.Now()
	id := strings.TrimSpace(b.Run("run", "-d", "--name", "evlost", "-v", "evlostvol:/data", "localhost/bb:1", "sleep", "100").WantSuccess(t).Stdout)
	killMonitorAndContainer(t, b, id)
	b.Run("ps", "-a").WantSuccess(t)
	b.Run("ps", "-a").WantSuccess(t)
	got := pastWindow(t, b, start, "--filter", "event=die", "--filter", "event=unmount")
	if fmt.Sprint(got) != "[container die evlost volume unmount]" {
		t.Errorf("die of a container whose monitor was killed: %q", got)
	}
	out := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}").WantSuccess(t).Stdout
	if out != "255\n" {
		t.Errorf("exitCode %q, want 255", out)
	}
}

func TestEventsRootless(t *testing.T) {
	b := NewRootlessBerth(t)
	dir, err := os.MkdirTemp("", "berth-events-rootless-") // readable by the user, unlike t.TempDir's parent
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "bb.tar")
	if err := fixture.WriteDockerArchive(p, "localhost/bb:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	start := time.Now()
	b.Run("load", "-i", p).WantSuccess(t)
	b.Run("run", "--rm", "--name", "evrl", "localhost/bb:1", "true").WantSuccess(t)
	got := pastWindow(t, b, start)
	if len(got) == 0 || !strings.HasPrefix(got[0], "image load sha256:") {
		t.Errorf("rootless events: %q", got)
	}
	wantSequence(t, got, "container create evrl", "container start evrl", "container die evrl", "container destroy evrl")
	// The log lives in the user's root, owned by the user.
	st, err := os.Stat(filepath.Join(b.Root, "events"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Errorf("rootless event log owned by root")
	}
}

// Many commands at once append whole events, each once.
func TestEventsConcurrentCommands(t *testing.T) {
	RequireRoot(t)
	b := NewBerth(t)
	start := time.Now()
	const n = 16
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			out, err := b.Cmd("volume", "create", "cc"+strconv.Itoa(i)).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%w: %s", err, out)
			}
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out := b.Run("events", "--since", unixTime(start), "--until", unixTime(time.Now()), "--format", "{{.Cursor}} {{.Action}} {{.Actor.ID}}").WantSuccess(t).Stdout
	seen := map[string]bool{}
	cursors := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[1] != "create" || seen[f[2]] || cursors[f[0]] {
			t.Fatalf("event line %q in:\n%s", l, out)
		}
		seen[f[2]], cursors[f[0]] = true, true
	}
	if len(seen) != n {
		t.Errorf("%d volume create events, want %d:\n%s", len(seen), n, out)
	}
}
