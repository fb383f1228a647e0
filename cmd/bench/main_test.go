package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/deploy"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// binDir holds the four binaries, built once for the whole test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcchaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	root, err := stack.RepoRoot()
	if err == nil {
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/...")
		cmd.Dir = root
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/...: %v\n%s", berr, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireStack skips (or, under make test, fails) when a binary of the
// local stack is missing.
func requireStack(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"memcached", "prometheus"} {
		stacktest.NeedBinary(t, bin)
	}
}

// bench starts the bench binary on free ports with its own reports dir and
// nftables table.
func startBench(t *testing.T, reports string, args ...string) *exec.Cmd {
	t.Helper()
	if !slices.Contains(args, "-baseline") {
		args = append([]string{"-baseline", "none"}, args...)
	}
	args = append([]string{
		"-free-ports", "-reports", reports, "-bin", binDir,
		"-scenariod-args", fmt.Sprintf("-nft-table mcchaos_e2e_%d", os.Getpid()),
	}, args...)
	cmd := exec.Command(filepath.Join(binDir, "bench"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// TestEndToEndSmoke runs the smoke profile on the real local stack and checks
// results.json: every phase present, load flowing before the fault, and a
// 100 %-loss fault raising the error ratio. It then reopens the run's
// Prometheus data and runs every query of the Grafana dashboard on it.
// The run is a paired A/A run (-aa): both sides with k arms, every fault
// on every arm's path within the spread goal; its results then serve as
// the stored baseline of a head-only run (TestStoredBaseline's mode).
func TestEndToEndSmoke(t *testing.T) {
	requireStack(t)
	reports := t.TempDir()
	cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "e2e", "-aa")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	t.Logf("bench output:\n%s", out.String())
	runDir := filepath.Join(reports, "e2e")
	if !strings.Contains(out.String(), "report: "+filepath.Join(runDir, "report.md")) {
		t.Errorf("bench did not print the report's path")
	}
	if !strings.Contains(out.String(), "verdict: no regression in 3 scenarios compared") {
		t.Errorf("bench did not print the A/A verdict")
	}
	m, err := manifest.Read(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sides) != 2 || m.Sides[0].Arms != armsPerSide || m.Sides[1].Arms != armsPerSide {
		t.Errorf("manifest sides %+v, want head and base with %d arms each", m.Sides, armsPerSide)
	}
	for _, sc := range m.Scenarios {
		for _, f := range sc.Faults {
			if len(f.Arms) != 2*armsPerSide {
				t.Errorf("%s: %s reached %d arms, want %d", sc.Name, f.Kind, len(f.Arms), 2*armsPerSide)
			}
			// Goal 10 ms. nftables changes every arm in one transaction;
			// toxiproxy re-links each proxy's connections, and removing a
			// latency toxic waits for the data it holds (up to its
			// latency), so its spread is bounded looser.
			a, r := f.Spread()
			limA, limR := 5*time.Millisecond, 5*time.Millisecond
			if f.Injector == manifest.InjectorToxiproxy {
				limA, limR = 50*time.Millisecond, 200*time.Millisecond
			}
			if a > limA || r > limR {
				t.Errorf("%s: %s (%s) applied within %v, removed within %v across the arms, want ≤ %v and ≤ %v", sc.Name, f.Kind, f.Injector, a, r, limA, limR)
			}
		}
	}

	f, err := results.Read(filepath.Join(runDir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(f.Runs))
	}
	want := []string{"packet-loss-100-pct", "latency-200ms-1s", "multi-failure-2-servers-latency"}
	got := map[string]results.Scenario{}
	for _, s := range f.Runs[0].Scenarios {
		got[s.Name] = s
	}
	for _, name := range want {
		s, ok := got[name]
		if !ok {
			t.Errorf("scenario %s missing from results.json", name)
			continue
		}
		if len(s.Phases) != 3 {
			t.Errorf("%s: %d phases, want 3", name, len(s.Phases))
			continue
		}
		for i, p := range s.Phases {
			if p.Name != manifest.Phases[i] {
				t.Errorf("%s: phase %d is %s, want %s", name, i, p.Name, manifest.Phases[i])
			}
		}
		if v := metric(t, s, manifest.PhaseStabilization, "throughput"); v <= 0 {
			t.Errorf("%s: stabilization throughput = %g, want > 0", name, v)
		}
	}
	if s, ok := got["packet-loss-100-pct"]; ok {
		before := metric(t, s, manifest.PhaseStabilization, "error_ratio")
		during := metric(t, s, manifest.PhaseTesting, "error_ratio")
		if during <= before {
			t.Errorf("packet-loss-100-pct: error ratio in testing %g not above stabilization %g", during, before)
		}
	}
	report, err := os.ReadFile(filepath.Join(runDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if !bytes.Contains(report, []byte(name)) {
			t.Errorf("report.md does not mention %s", name)
		}
	}

	checkDashboard(t, runDir)

	// Stored-baseline mode: a head-only run compared with this run's results.
	t.Run("stored baseline", func(t *testing.T) {
		cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "stored", "-scenarios", "latency-200ms-1s", "-baseline", filepath.Join(runDir, "results.json"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bench: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("verdict: advisory, against a stored baseline of another day")) || !bytes.Contains(out, []byte("in 1 scenario compared")) {
			t.Errorf("stored-baseline run did not compare its one scenario:\n%s", out)
		}
	})
}

// TestBaseRef runs a paired run whose base side is built from a git ref in
// a worktree under the run directory, and checks that the worktree is gone
// afterwards and the manifest names the ref.
func TestBaseRef(t *testing.T) {
	requireStack(t)
	reports := t.TempDir()
	cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "ref", "-base", "HEAD", "-arms", "2", "-scenarios", "latency-200ms-1s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench -base HEAD: %v\n%s", err, out)
	}
	runDir := filepath.Join(reports, "ref")
	m, err := manifest.Read(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	base, ok := m.Side(manifest.SideBase)
	if !ok || base.Ref != "HEAD" || base.Commit == "" || base.Arms != 2 {
		t.Errorf("base side %+v (found %v), want ref HEAD with a commit and 2 arms", base, ok)
	}
	if _, err := os.Stat(filepath.Join(runDir, "base", "src")); !os.IsNotExist(err) {
		t.Errorf("the base worktree is still there (%v)", err)
	}
	if list, _ := exec.Command("git", "worktree", "list").Output(); bytes.Contains(list, []byte(runDir)) {
		t.Errorf("git still lists the base worktree:\n%s", list)
	}
	if !bytes.Contains(out, []byte("in 1 scenario compared")) {
		t.Errorf("no paired verdict:\n%s", out)
	}
}

// TestConfirmationStage: a head side whose operations wait 5 s instead of
// 500 ms (its -timeout), paired with the default, on 100 % loss: the first
// stage's candidates run again with fresh processes and a new arm order,
// the regressions are confirmed there, the report shows both stages, and
// -fail-on regression exits 1. The manifests record each stage's seed and
// arm order.
func TestConfirmationStage(t *testing.T) {
	requireStack(t)
	reports := t.TempDir()
	// The head's breaker sees its first failure after 5 s: both timeouts are
	// raised, since under 100 % loss dials time out too, and with the dial
	// timeout at 500 ms a head arm detected within a second of the base's
	// (timeout alone moved time to detect 2.0 s → 2.8 s; confirmation p 0.10).
	cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "confirm", "-scenarios", "packet-loss-100-pct",
		"-loadgen-args", "-timeout 5s -dial-timeout 5s", "-base-args", "-timeout 500ms", "-fail-on", "regression", "-seed", "42")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("bench: %v, want exit 1 (a confirmed regression)\n%s", err, out)
	}
	runDir := filepath.Join(reports, "confirm")
	for _, want := range []string{"confirmation stage: packet-loss-100-pct again with fresh processes and a new arm order", "confirmed by a second stage, in 1 scenario compared: packet-loss-100-pct"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	first, err := manifest.Read(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := manifest.Read(filepath.Join(runDir, "confirm", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Seed != 42 || len(first.ArmOrder) != 2*armsPerSide || second.Seed == first.Seed || slices.Equal(first.ArmOrder, second.ArmOrder) {
		t.Errorf("arm orders: first seed %d %v, confirmation seed %d %v: want seed 42, %d arms, and a new order", first.Seed, first.ArmOrder, second.Seed, second.ArmOrder, 2*armsPerSide)
	}
	if len(second.Scenarios) != 1 || second.Scenarios[0].Expect != manifest.ExpectDetect {
		t.Errorf("confirmation stage scenarios %+v, want packet-loss-100-pct expecting detection", second.Scenarios)
	}
	report, err := os.ReadFile(filepath.Join(runDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| confirmation | packet-loss-100-pct run again", "**detect and recover**", "## Healthy path", "- confirmation stage: "} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report.md does not show %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "confirm", "results.json")); err != nil {
		t.Errorf("the confirmation stage's results: %v", err)
	}
}

// metric returns the median over the head side's arms of the unlabelled
// metric of a phase, and checks that every side has one value per arm.
func metric(t *testing.T, s results.Scenario, phase, name string) float64 {
	t.Helper()
	for _, p := range s.Phases {
		if p.Name != phase {
			continue
		}
		for _, m := range p.Metrics {
			if m.Name != name || len(m.Labels) != 0 {
				continue
			}
			for side, vs := range m.Arms {
				if len(vs) != armsPerSide {
					t.Errorf("%s %s %s: side %s has %d values, want one per arm (%d)", s.Name, phase, name, side, len(vs), armsPerSide)
				}
			}
			vs := slices.Clone(m.Side("head"))
			slices.Sort(vs)
			if len(vs) == 0 {
				t.Fatalf("%s: %s in phase %s has no head values", s.Name, name, phase)
			}
			return vs[len(vs)/2]
		}
	}
	t.Fatalf("%s: no %s in phase %s", s.Name, name, phase)
	return 0
}

// armsPerSide is the smoke profile's k.
const armsPerSide = 5

// TestInterrupt sends Ctrl-C to bench at every step of a run that the
// manifest shows (the first scenario's stabilization, the second's
// stabilization, testing before and after its faults are in place, and its
// recovery): each time no child process may outlive it, toxiproxy and
// nftables must be clean, the exit code is 2 and the report covers the
// scenarios that finished.
func TestInterrupt(t *testing.T) {
	requireStack(t)
	type point struct {
		name     string
		finished int // scenarios passed when interrupted
		reached  func(m *manifest.Manifest) bool
	}
	second := func(phases int, applied bool) func(m *manifest.Manifest) bool {
		return func(m *manifest.Manifest) bool {
			if len(m.Scenarios) < 2 || len(m.Scenarios[1].Phases) < phases {
				return false
			}
			return !applied || !m.Scenarios[1].Faults[0].Applied.IsZero()
		}
	}
	for _, p := range []point{
		// Nothing finished yet: the report has nothing to cover, exit 2 all the same.
		{"first scenario stabilization", 0, func(m *manifest.Manifest) bool { return len(m.Scenarios) >= 1 && len(m.Scenarios[0].Phases) >= 1 }},
		{"second scenario stabilization", 1, second(1, false)},
		{"second scenario testing", 1, second(2, false)},
		{"second scenario fault applied", 1, second(2, true)},
		{"second scenario recovery", 1, second(3, false)},
	} {
		t.Run(p.name, func(t *testing.T) {
			reports := t.TempDir()
			cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "int", "-arms", "2",
				"-scenarios", "packet-loss-100-pct,multi-failure-2-servers-latency",
				"-scenariod-args", fmt.Sprintf("-nft-table mcchaos_e2e_%d -stabilization 3s -recovery 3s -max-fault 3s", os.Getpid()))
			run := startRun(t, cmd)
			out := run.out
			runDir := filepath.Join(reports, "int")
			run.waitFor(t, runDir, p.name, p.reached)
			pids := descendants(cmd.Process.Pid)
			cmd.Process.Signal(syscall.SIGINT)
			run.wait(t, "SIGINT")
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("exit code %d, want 2 (interrupted)\n%s", code, out.String())
			}
			for _, pid := range pids {
				if alive(pid) {
					t.Errorf("pid %d (%s) outlived bench", pid, comm(pid))
				}
			}
			if !strings.Contains(out.String(), "toxiproxy is clean") {
				t.Errorf("bench did not confirm toxiproxy is clean\n%s", out.String())
			}
			if tables, err := exec.Command("nft", "list", "tables").Output(); err == nil &&
				bytes.Contains(tables, []byte(fmt.Sprintf("mcchaos_e2e_%d", os.Getpid()))) {
				t.Errorf("nftables table left behind:\n%s", tables)
			}
			m, err := manifest.Read(filepath.Join(runDir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			passed := 0
			for _, sc := range m.Scenarios {
				if sc.Status == manifest.StatusPassed {
					passed++
				}
			}
			if passed != p.finished {
				t.Errorf("%d scenarios passed, want %d", passed, p.finished)
			}
			if p.finished == 0 {
				return
			}
			report, err := os.ReadFile(filepath.Join(runDir, "report.md"))
			if err != nil {
				t.Fatalf("no report after interrupt: %v\n%s", err, out.String())
			}
			if !bytes.Contains(report, []byte(m.Scenarios[0].Name)) {
				t.Errorf("report does not cover the finished scenario %s", m.Scenarios[0].Name)
			}
		})
	}
}

// running is a bench started in the background, its output collected.
type running struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

// startRun starts cmd and returns it running.
func startRun(t *testing.T, cmd *exec.Cmd) *running {
	t.Helper()
	r := &running{cmd: cmd, out: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	return r
}

// waitFor polls the run's manifest until reached says so, failing the test
// if bench exits first or 90 s pass.
func (r *running) waitFor(t *testing.T, runDir, what string, reached func(*manifest.Manifest) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m, err := manifest.Read(filepath.Join(runDir, "manifest.json")); err == nil && reached(m) {
			return
		}
		select {
		case err := <-r.done:
			t.Fatalf("bench exited before %s: %v\n%s", what, err, r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.cmd.Process.Kill()
			t.Fatalf("%s never came\n%s", what, r.out.String())
		}
	}
}

// wait waits at most 60 s for bench to exit.
func (r *running) wait(t *testing.T, after string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("bench did not exit within 60 s of %s\n%s", after, r.out.String())
	}
}

// TestBadInput checks that input the run cannot work with gives one clear
// line and exit code 2, before anything starts.
func TestBadInput(t *testing.T) {
	// A PATH with prometheus but no memcached.
	noMemcached := t.TempDir()
	if prom, err := exec.LookPath("prometheus"); err == nil {
		os.Symlink(prom, filepath.Join(noMemcached, "prometheus"))
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		// A typo in a scenario name.
		{"unknown scenario", []string{"-scenarios", "packet-loss-3-pct"}, nil, "packet-loss-3-pct"},
		// A profile that does not exist.
		{"unknown profile", []string{"-profile", "huge"}, nil, `unknown profile "huge"`},
		// No memcached in PATH: the fix is make deps.
		{"missing memcached", []string{"-profile", "smoke"}, []string{"PATH=" + noMemcached}, "memcached not found in PATH: run `make deps`"},
		// Stray arguments.
		{"stray argument", []string{"smoke"}, nil, "unexpected arguments"},
		// A typo in -fail-on, found before 13 minutes of measuring.
		{"fail-on typo", []string{"-fail-on", "regresion"}, nil, "regresion"},
		// A run id that is a path.
		{"run id path", []string{"-run-id", "."}, nil, "plain name"},
		{"run id slash", []string{"-run-id", "a/b"}, nil, "plain name"},
		// A ref that names no commit.
		{"bad base ref", []string{"-profile", "smoke", "-base", "no-such-ref-x"}, nil, "not a commit"},
		// -aa compares a side with itself: it takes no base.
		{"aa with base", []string{"-aa", "-base", "HEAD"}, nil, "-aa runs this checkout on both sides"},
		// A typo in the client's flags, found by loadgen -check.
		{"loadgen flag typo", []string{"-profile", "smoke", "-loadgen-args", "-timeoutt 1s"}, nil, "timeoutt"},
		{"unknown client", []string{"-profile", "smoke", "-base-client", "memcachier"}, nil, `unknown client "memcachier"`},
		// A missing, truncated or empty baseline, or one of another profile.
		{"missing baseline", []string{"-profile", "smoke", "-baseline", "/nonexistent/base.json"}, nil, "re-record it"},
		{"truncated baseline", []string{"-profile", "smoke", "-baseline", writeFile(t, `{"schema_version":`)}, nil, "re-record it"},
		{"empty baseline", []string{"-profile", "smoke", "-baseline", writeFile(t, `{"schema_version":1,"runs":[{"run_id":"x","profile":"smoke","scenarios":[]}]}`)}, nil, "baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reports := t.TempDir()
			cmd := startBench(t, reports, tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Fatalf("exit code %d (%v), want 2\n%s", code, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, out)
			}
			if runs, _ := os.ReadDir(reports); len(runs) > 0 {
				t.Errorf("bad input left a run directory %s", runs[0].Name())
			}
		})
	}
}

// writeFile writes content to a temporary file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPortInUse occupies scenariod's default port and runs bench without
// -free-ports: one clear line naming the port, exit code 2.
func TestPortInUse(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "bench"), "-reports", t.TempDir(), "-bin", binDir, "-baseline", "none")
	l, err := listen("127.0.0.1:9092")
	if err == nil {
		defer l.Close()
	}
	// If something else holds 9092 already, bench must refuse all the same.
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit code %d, want 2\n%s", code, out)
	}
	if !strings.Contains(string(out), "port 9092") || !strings.Contains(string(out), "in use") {
		t.Errorf("output does not name port 9092 in use:\n%s", out)
	}
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// descendants returns the pids of every process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil {
			continue
		}
		if pp := ppid(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var pp int
	fmt.Sscan(f[1], &pp)
	return pp
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])[0] != "Z"
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// checkDashboard restarts Prometheus alone on the run's data and runs every
// dashboard query against it.
func checkDashboard(t *testing.T, runDir string) {
	t.Helper()
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Start(context.Background(), stack.Config{
		Dir:            t.TempDir(),
		Services:       stack.Prometheus,
		PrometheusData: filepath.Join(runDir, "stack", "prometheus-data"),
		Ports:          stack.Ports{Prometheus: port},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exported, err := deploy.ExportedMetrics(ctx, st.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) < 20 {
		t.Fatalf("reopened Prometheus knows %d metric names, want the run's", len(exported))
	}
	if err := deploy.CheckDashboard(ctx, st.PrometheusURL, deploy.DashboardPath(), exported); err != nil {
		t.Error(err)
	}
}

// TestChildDies kills, in the middle of the second scenario of a real run,
// each process the run needs: bench stops at once (the last line names the
// process), removes its faults, and reports the scenario that finished;
// when Prometheus is the one that died, on its data restarted.
func TestChildDies(t *testing.T) {
	requireStack(t)
	for _, victim := range []string{"prometheus", "toxiproxy-serve", "loadgen"} {
		t.Run(victim, func(t *testing.T) {
			reports := t.TempDir()
			cmd := startBench(t, reports, "-profile", "smoke", "-run-id", "die", "-arms", "2",
				"-scenarios", "latency-200ms-1s,multi-failure-2-servers-latency")
			run := startRun(t, cmd)
			out := run.out
			runDir := filepath.Join(reports, "die")
			run.waitFor(t, runDir, "the second scenario's testing phase", func(m *manifest.Manifest) bool {
				return len(m.Scenarios) >= 2 && len(m.Scenarios[1].Phases) >= 2
			})
			killed := 0
			for _, pid := range descendants(cmd.Process.Pid) {
				if comm(pid) == victim {
					syscall.Kill(pid, syscall.SIGKILL)
					killed++
					break
				}
			}
			if killed == 0 {
				cmd.Process.Kill()
				t.Fatalf("no %s among bench's descendants", victim)
			}
			at := time.Now()
			run.wait(t, victim+" dying")
			stopped := time.Since(at)
			t.Logf("bench exited %v after %s died; output:\n%s", stopped, victim, out.String())
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			name := map[string]string{"toxiproxy-serve": "toxiproxy", "loadgen": "loadgen"}[victim]
			if name == "" {
				name = victim
			}
			if last := lines[len(lines)-1]; !strings.Contains(last, name) || !strings.Contains(last, "exited") {
				t.Errorf("last line does not name %s as the cause: %q", name, last)
			}
			m, err := manifest.Read(filepath.Join(runDir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Scenarios[0].Status != manifest.StatusPassed {
				t.Errorf("first scenario %s, want passed", m.Scenarios[0].Status)
			}
			// The run must stop at once: the second scenario is cut short
			// within 5 s of the death, not walked to its end.
			if ph := m.Scenarios[1].Phases; len(ph) > 0 && !ph[len(ph)-1].End.IsZero() {
				if d := ph[len(ph)-1].End.Sub(at); d > 5*time.Second {
					t.Errorf("the second scenario ended %v after %s died, want ≤ 5 s", d, victim)
				}
			}
			if n := len(m.Scenarios[1].Phases); n == 3 && !m.Scenarios[1].Phases[2].End.IsZero() && m.Scenarios[1].Status == manifest.StatusPassed {
				t.Errorf("the second scenario ran to its end after %s died", victim)
			}
			report, err := os.ReadFile(filepath.Join(runDir, "report.md"))
			if err != nil {
				t.Fatalf("no report after %s died: %v", victim, err)
			}
			if !bytes.Contains(report, []byte(m.Scenarios[0].Name)) {
				t.Errorf("report does not cover the finished scenario %s", m.Scenarios[0].Name)
			}
			if tables, err := exec.Command("nft", "list", "tables").Output(); err == nil &&
				bytes.Contains(tables, []byte(fmt.Sprintf("mcchaos_e2e_%d", os.Getpid()))) {
				t.Errorf("nftables table left behind:\n%s", tables)
			}
		})
	}
}
