package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// binary builds cmd/scenariod once per test binary.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scenariod-bin-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "scenariod")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestBadInput: bad scenario files and names are one clear line and exit 2.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("scenarios:\n  - name: x\n    fault_time: 1s\n    faults:\n      - kind: packet_loss\n        targets: [mc1]\n        params: {loss_pct: 101}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario-file", bad, "-list"}, bad + ":7: fault packet_loss: loss_pct = 101 out of range"},
		{[]string{"-scenario", "no-such"}, `unknown scenario "no-such": run scenariod -list`},
		{[]string{"-profile", "huge"}, `unknown profile "huge"`},
		{[]string{"-loss-injector", "magic", "-scenario", "blackhole", "-listen", "127.0.0.1:0"}, "loss injector"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(binPath, tc.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := exitCodeOf(err); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want %q", tc.args, stderr.String(), tc.want)
		}
	}
}

// TestList shows every scenario with its phase lengths per profile.
func TestList(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, io.Discard, []string{"-list"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"packet-loss-2-pct", "multi-failure-2-servers-latency", "process-restart", "10s/30s/15s", "30s/2m/1m"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-list lacks %q", want)
		}
	}
}

// started runs the binary on s with a short scenario of every injector.
func started(t *testing.T, s *stack.Stack, extra ...string) (*exec.Cmd, string, string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	os.WriteFile(file, []byte(`
scenarios:
  - name: t
    fault_time: 2s
    fixed: true
    faults:
      - {kind: latency, targets: [mc1], params: {latency_ms: 100}}
      - {kind: server_down, targets: [mc2]}
      - {kind: packet_loss, targets: [mc3], params: {loss_pct: 30}}
`), 0o644)
	table := fmt.Sprintf("mcchaos_cmdtest_%d", os.Getpid())
	mpath := filepath.Join(dir, "manifest.json")
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"-scenario-file", file, "-profile", "smoke", "-stabilization", "500ms", "-recovery", "500ms",
		"-toxiproxy", s.ToxiproxyURL, "-nft-table", table, "-manifest", mpath, "-listen", addr, "-linger", "0",
		"-stack-dir", s.Dir}, extra...)
	cmd := exec.Command(binPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, mpath, table, &stderr
}

// waitPhase polls the manifest until the scenario is in phase.
func waitPhase(t *testing.T, mpath, phase string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := manifest.Read(mpath); err == nil && len(m.Scenarios) > 0 {
			ph := m.Scenarios[0].Phases
			if n := len(ph); n > 0 && ph[n-1].Name == phase && ph[n-1].End.IsZero() {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("phase %s never seen in %s", phase, mpath)
}

func checkClean(t *testing.T, s *stack.Stack, table string) {
	t.Helper()
	ps, err := (&inject.Toxiproxy{URL: s.ToxiproxyURL}).Proxies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range ps {
		if !p.Enabled || len(p.Toxics) > 0 {
			t.Errorf("proxy %s not clean: %+v", name, p)
		}
	}
	if ok, err := (&inject.Netfilter{Table: table}).Exists(context.Background()); err != nil || ok {
		t.Errorf("nft table %s left (err %v)", table, err)
	}
}

// TestSignals interrupts the real binary with SIGINT or SIGTERM in each
// phase, and with two SIGINTs, and finds exit 130, faults gone within 5 s,
// and a valid manifest saying interrupted.
func TestSignals(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	stacktest.NeedNetfilter(t, (&inject.Netfilter{Table: "mcchaos_probe"}).Available(context.Background()))
	for _, tc := range []struct {
		phase   string
		signals []syscall.Signal
	}{
		{manifest.PhaseStabilization, []syscall.Signal{syscall.SIGTERM}},
		{manifest.PhaseTesting, []syscall.Signal{syscall.SIGINT}},
		{manifest.PhaseTesting, []syscall.Signal{syscall.SIGINT, syscall.SIGINT}}, // second: exit at once
		{manifest.PhaseRecovery, []syscall.Signal{syscall.SIGINT}},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.phase, len(tc.signals)), func(t *testing.T) {
			cmd, mpath, table, stderr := started(t, s)
			waitPhase(t, mpath, tc.phase)
			start := time.Now()
			for _, sig := range tc.signals {
				cmd.Process.Signal(sig)
			}
			err := cmd.Wait()
			took := time.Since(start)
			t.Logf("%v in %s: exit after %v; stderr:\n%s", tc.signals, tc.phase, took, stderr)
			if code := exitCodeOf(err); code != exitInterrupted {
				t.Errorf("exit %d, want %d", code, exitInterrupted)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to exit, want under 5s", took)
			}
			checkClean(t, s, table)
			m, err := manifest.Read(mpath)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.signals) == 1 && (m.Status != manifest.StatusInterrupted || m.Scenarios[0].Status != manifest.StatusInterrupted) {
				t.Errorf("manifest status %s / %s", m.Status, m.Scenarios[0].Status)
			}
		})
	}
}

// TestRunMetrics runs the binary to the end and reads /metrics in the
// testing phase.
func TestRunMetrics(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	cmd, mpath, table, stderr := started(t, s, "-loss-injector", "toxiproxy")
	waitPhase(t, mpath, manifest.PhaseTesting)
	var listen string
	for i, a := range cmd.Args {
		if a == "-listen" {
			listen = cmd.Args[i+1]
		}
	}
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(body, `fault_active{injector="toxiproxy",kind="packet_loss",server="mc3"} 1`) {
		if resp, err := http.Get("http://" + listen + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`scenario_phase{scenario="t"} 2`,
		`scenario_active 1`,
		`fault_active{injector="toxiproxy",kind="latency",server="mc1"} 1`,
		`fault_active{injector="toxiproxy",kind="server_down",server="mc2"} 1`,
		`fault_value{kind="latency",param="latency_ms",server="mc1"} 100`,
		`fault_value{kind="packet_loss",param="loss_pct",server="mc3"} 30`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	m, err := manifest.Read(mpath)
	if err != nil {
		t.Fatal(err)
	}
	sc := m.Scenarios[0]
	// The profile keeps its name; the plan in the manifest has the values the flags gave.
	if m.Status != manifest.StatusPassed || len(sc.Phases) != 3 || m.Profile != "smoke" || m.Plan == nil || m.Plan.Profile.Stabilization != 500*time.Millisecond {
		t.Errorf("manifest %+v", m)
	}
	if f := sc.Faults[2]; f.Injector != manifest.InjectorToxiproxy || f.Fidelity != manifest.FidelityPerConnection {
		t.Errorf("loss fault %+v", f)
	}
	if test := sc.Phases[1]; test.End.Sub(test.Start) < 2*time.Second || test.End.Sub(test.Start) > 3*time.Second {
		t.Errorf("testing phase %v, want about 2s", test.End.Sub(test.Start))
	}
	checkClean(t, s, table)
}

// toxiproxyPid finds the toxiproxy server listening on the API port of url.
func toxiproxyPid(t *testing.T, url string) int {
	t.Helper()
	port := url[strings.LastIndexByte(url, ':')+1:]
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		args := strings.Split(string(b), "\x00")
		if err == nil && strings.Contains(args[0], "toxiproxy") && slices.Contains(args, port) {
			pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
			return pid
		}
	}
	t.Fatal("cannot find the toxiproxy process of the test stack in /proc")
	return 0
}

// TestFrozenToxiproxy: with toxiproxy not answering (SIGSTOP), a signal
// still ends the run within the 5 s cleanup budget, and a second signal
// exits at once; the netfilter rules go either way.
func TestFrozenToxiproxy(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	stacktest.NeedNetfilter(t, (&inject.Netfilter{Table: "mcchaos_probe"}).Available(context.Background()))
	pid := toxiproxyPid(t, s.ToxiproxyURL)
	for _, tc := range []struct {
		signals int
		within  time.Duration
	}{
		{1, 6 * time.Second}, // the cleanup budget, then exit
		{2, 3 * time.Second}, // one more cleanup attempt (2 s), then exit
	} {
		t.Run(strconv.Itoa(tc.signals), func(t *testing.T) {
			cmd, mpath, table, stderr := started(t, s)
			waitApplied(t, mpath)
			syscall.Kill(pid, syscall.SIGSTOP)
			defer func() {
				syscall.Kill(pid, syscall.SIGCONT)
				(&inject.Toxiproxy{URL: s.ToxiproxyURL}).Reset(context.Background())
			}()
			start := time.Now()
			for range tc.signals {
				cmd.Process.Signal(syscall.SIGINT)
				time.Sleep(200 * time.Millisecond) // a person pressing Ctrl-C twice
			}
			err := cmd.Wait()
			took := time.Since(start)
			t.Logf("%d SIGINT with toxiproxy frozen: exit %d after %v\n%s", tc.signals, exitCodeOf(err), took, stderr)
			if code := exitCodeOf(err); code != exitInterrupted {
				t.Errorf("exit %d, want %d", code, exitInterrupted)
			}
			if took > tc.within {
				t.Errorf("exit after %v, want within %v", took, tc.within)
			}
			if ok, err := (&inject.Netfilter{Table: table}).Exists(context.Background()); err != nil || ok {
				t.Errorf("nft table %s left (err %v)", table, err)
			}
		})
	}
}

// waitApplied polls the manifest until the first scenario's faults are applied.
func waitApplied(t *testing.T, mpath string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := manifest.Read(mpath); err == nil && len(m.Scenarios) > 0 && !m.Scenarios[0].Faults[0].Applied.IsZero() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("faults never applied in %s", mpath)
}

// TestWaitScraped: scenariod waits for Prometheus to scrape it before the
// first scenario, Prometheus sees the phases, and a job that is never
// scraped is a clear error (exit 2).
func TestWaitScraped(t *testing.T) {
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s := stacktest.Start(t, stacktest.Options{Prometheus: true, ScrapeTargets: map[string]string{"scenariod": listen}})

	var stderr bytes.Buffer
	cmd := exec.Command(binPath, "-toxiproxy", s.ToxiproxyURL, "-listen", "127.0.0.1:0", "-manifest", filepath.Join(t.TempDir(), "m.json"),
		"-scenario", "latency-200ms-100ms", "-wait-scraped", s.PrometheusURL, "-wait-scraped-jobs", "nojob", "-wait-scraped-timeout", "500ms")
	cmd.Stderr = &stderr
	if code := exitCodeOf(cmd.Run()); code != exitCannotRun || !strings.Contains(stderr.String(), "nojob (0 of 1 up)") {
		t.Errorf("unscraped job: exit %d, stderr %q", code, stderr.String())
	}

	cmd, mpath, _, errb := started(t, s, "-listen", listen, "-wait-scraped", s.PrometheusURL, "-wait-scraped-jobs", "scenariod", "-linger", "2s")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	if _, err := manifest.Read(mpath); err != nil {
		t.Fatal(err)
	}
	b := promQuery(t, s.PrometheusURL, `max_over_time(scenario_phase{scenario="t"}[1m])`)
	// The testing phase (2 s) spans scrapes; the 500 ms phases may not.
	if !strings.Contains(b, `"2"`) && !strings.Contains(b, `"3"`) {
		t.Errorf("Prometheus did not see the testing phase: %s", b)
	}
	// -linger kept /metrics up until the idle phase was scraped. The series
	// goes stale at the first failed scrape after exit (one interval later), so
	// ask for its last sample rather than its value now.
	if b := promQuery(t, s.PrometheusURL, `last_over_time(scenario_phase{scenario="t"}[1m])`); !strings.Contains(b, `"0"]`) {
		t.Errorf("last scraped phase is not idle: %s", b)
	}
}

// promQuery returns Prometheus's JSON answer to an instant query.
func promQuery(t *testing.T, url, q string) string {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/query?query=" + neturl.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
