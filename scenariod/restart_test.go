package scenariod

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/manifest"
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

// TestToxiproxyRestart kills toxiproxy in the middle of a fault and starts
// it again empty: the runner notices, re-creates the proxies and puts the
// fault back, and the scenario still ends clean.
func TestToxiproxyRestart(t *testing.T) {
	s := startStack(t)
	bin, err := stack.ToxiproxyBinary(t.Context(), "")
	if err != nil {
		t.Skip(err)
	}
	apiPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tp := inject.Toxiproxy{URL: fmt.Sprintf("http://127.0.0.1:%d", apiPort)}
	srv := ownToxiproxy(t, bin, apiPort)
	proxies := map[string]string{}
	for _, x := range s.Servers {
		port, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		proxies[x.Name] = fmt.Sprintf("127.0.0.1:%d", port)
		if err := tp.CreateProxy(t.Context(), inject.Proxy{Name: x.Name, Listen: proxies[x.Name], Upstream: x.Addr}); err != nil {
			t.Fatal(err)
		}
	}

	sc := scenario(KindLatency, map[string]float64{"latency_ms": 200}, "mc1")
	sc.FaultTime = 3 * time.Second
	r := testRunner(t, s, testTable(), nil, sc)
	r.cfg.Toxiproxy = tp
	r.cfg.WatchInterval = 100 * time.Millisecond
	back := make(chan error, 1)
	r.cfg.OnEvent = func(e Event) {
		if e.Kind != EventFaultApplied {
			return
		}
		go func() {
			srv.Process.Kill()
			srv.Wait()
			restarted := time.Now()
			srv = ownToxiproxy(t, bin, apiPort)
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
