package scenariod

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// ownToxiproxy starts a toxiproxy server on port, for a test that restarts it.
func ownToxiproxy(t *testing.T, bin string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tp := inject.Toxiproxy{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if err := inject.Poll(t.Context(), 10*time.Second, func() bool { _, err := tp.Proxies(t.Context()); return err == nil }); err != nil {
		t.Fatalf("toxiproxy did not come up: %v", err)
	}
	return cmd
}

// ownProxies is a toxiproxy server of the test's own (so the test may kill
// and restart it) in front of the stack's memcached servers.
type ownProxies struct {
	tp      inject.Toxiproxy
	bin     string
	apiPort int
	srv     *exec.Cmd
	listen  map[string]string // proxy listen address by server name
}

func startOwnProxies(t *testing.T, s *stack.Stack) *ownProxies {
	t.Helper()
	bin, err := stack.ToxiproxyBinary(t.Context(), "")
	if err != nil {
		t.Fatal(err) // the stack already runs this binary
	}
	o := &ownProxies{bin: bin, listen: map[string]string{}}
	if o.apiPort, err = stack.FreePort(); err != nil {
		t.Fatal(err)
	}
	o.tp = inject.Toxiproxy{URL: fmt.Sprintf("http://127.0.0.1:%d", o.apiPort)}
	o.srv = ownToxiproxy(t, bin, o.apiPort)
	for _, x := range s.Servers {
		port, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		o.listen[x.Name] = fmt.Sprintf("127.0.0.1:%d", port)
		if err := o.tp.CreateProxy(t.Context(), inject.Proxy{Name: x.Name, Listen: o.listen[x.Name], Upstream: x.Addr}); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// kill stops the toxiproxy server for good.
func (o *ownProxies) kill() {
	o.srv.Process.Kill()
	o.srv.Wait()
}

// TestToxiproxyRestart kills toxiproxy in the middle of a fault and starts
// it again empty: the runner notices, re-creates the proxies and puts the
// fault back, and the scenario still ends clean.
func TestToxiproxyRestart(t *testing.T) {
	s := startStack(t)
	o := startOwnProxies(t, s)
	tp, proxies := o.tp, o.listen

	sc := scenario(fault.KindLatency, map[string]float64{"latency_ms": 200}, "mc1")
	sc.FaultTime = profile.Duration(3 * time.Second)
	r := testRunner(t, s, testTable(), nil, sc)
	r.cfg.Toxiproxy = tp
	r.cfg.WatchInterval = 100 * time.Millisecond
	back := make(chan error, 1)
	r.cfg.OnEvent = func(e Event) {
		if e.Kind != EventFaultApplied {
			return
		}
		go func() {
			o.kill()
			restarted := time.Now()
			o.srv = ownToxiproxy(t, o.bin, o.apiPort)
			// The runner must re-create mc1 with its latency toxic.
			err := inject.Poll(context.Background(), 2*time.Second, func() bool {
				ps, err := tp.Proxies(context.Background())
				return err == nil && len(ps) == 3 && len(ps["mc1"].Toxics) == 1
			})
			if err == nil {
				t.Logf("proxies and toxic back %v after the restart", time.Since(restarted).Round(time.Millisecond))
				if d := medianRTT(t, proxies["mc1"], 3); d < 190*time.Millisecond {
					err = fmt.Errorf("mc1 median %v after the restart, want +200ms", d)
				}
			}
			back <- err
		}()
	}
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if m.Scenarios[0].Status != manifest.StatusPassed || r.faults.restarts == 0 {
		t.Errorf("status %s, restarts noticed %d", m.Scenarios[0].Status, r.faults.restarts)
	}
	ps, err := tp.Proxies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range ps {
		if !p.Enabled || len(p.Toxics) > 0 {
			t.Errorf("proxy %s not clean: %+v", name, p)
		}
	}
}

// TestDirtyStateStops: when the state cannot be proven clean before a
// scenario (toxiproxy gone for good), the run stops with ErrDirtyState and
// says why, instead of measuring on a faulted stack.
func TestDirtyStateStops(t *testing.T) {
	s := startStack(t)
	o := startOwnProxies(t, s)
	tp := o.tp
	tp.CallTimeout = 200 * time.Millisecond
	a := scenario(fault.KindLatency, map[string]float64{"latency_ms": 10}, "mc1")
	b := a
	b.Name = "second"
	r := testRunner(t, s, testTable(), func(e Event) {
		if e.Kind == EventScenarioEnd && e.Index == 1 {
			o.kill()
		}
	}, a, b)
	r.cfg.Toxiproxy = tp
	start := time.Now()
	m, err := r.Run(t.Context())
	t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
	if !errors.Is(err, ErrDirtyState) {
		t.Fatalf("err %v, want ErrDirtyState", err)
	}
	if len(m.Scenarios) != 2 || m.Scenarios[0].Status != manifest.StatusPassed || m.Scenarios[1].Status != manifest.StatusFailed || m.Status != manifest.StatusFailed {
		t.Errorf("manifest %+v", m)
	}
	if len(m.Scenarios[1].Phases) != 0 {
		t.Errorf("second scenario ran phases on an unproven state: %+v", m.Scenarios[1].Phases)
	}
}
