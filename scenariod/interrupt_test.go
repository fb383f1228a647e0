package scenariod

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/profile"
)

// TestInterruptAnywhere cancels a run at every step of a scenario's life
// (each runner event) and at times spread over it, and each time finds
// toxiproxy and nftables clean, the killed memcached back, the cleanup done
// within the 5 s budget and the manifest valid.
func TestInterruptAnywhere(t *testing.T) {
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	sc := Scenario{
		Name: "test-interrupt", Description: "three injectors at once",
		Faults: []fault.Fault{
			fault.On(&fault.PacketLoss{LossPct: 50}, "mc1"),
			fault.On(&fault.Latency{LatencyMS: 100}, "mc2"),
			fault.On(&fault.ProcessKill{}, "mc3"),
		},
		FaultTime: profile.Duration(300 * time.Millisecond), Fixed: true,
	}

	// An uninterrupted run gives the number of steps and the length.
	events := 0
	r := testRunner(t, s, table, func(Event) { events++ }, sc)
	start := time.Now()
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	length := time.Since(start)
	t.Logf("uninterrupted: %d events in %v", events, length)

	type point struct {
		event int           // cancel at this event (1-based), or
		after time.Duration // after this long
	}
	var points []point
	for k := 1; k <= events; k++ {
		points = append(points, point{event: k})
	}
	for j := range 10 {
		points = append(points, point{after: length * time.Duration(j) / 10})
	}
	if len(points) < 20 {
		t.Fatalf("only %d interruption points", len(points))
	}
	var worst time.Duration
	for _, p := range points {
		ctx, cancel := context.WithCancel(context.Background())
		var cancelled time.Time
		stop := func() { cancelled = time.Now(); cancel() }
		n := 0
		r := testRunner(t, s, table, func(Event) {
			if n++; n == p.event {
				stop()
			}
		}, sc)
		if p.event == 0 {
			time.AfterFunc(p.after, stop)
		}
		m, err := r.Run(ctx)
		returned := time.Now()
		cancel()
		if cancelled.IsZero() {
			cancelled = returned
		}
		worst = max(worst, returned.Sub(cancelled))
		if took := returned.Sub(cancelled); took > DefaultCleanupTimeout {
			t.Errorf("%+v: Run returned %v after the cancel, want within %v", p, took, DefaultCleanupTimeout)
		}
		switch {
		case err == nil:
			// Cancelled at the very last step: the run had finished.
			if m.Status != manifest.StatusPassed {
				t.Errorf("%+v: no error but status %s", p, m.Status)
			}
		case !errors.Is(err, ErrInterrupted):
			t.Errorf("%+v: %v, want ErrInterrupted", p, err)
		case m.Status != manifest.StatusInterrupted:
			t.Errorf("%+v: run status %s", p, m.Status)
		case len(m.Scenarios) > 0 && m.Scenarios[0].Status != manifest.StatusInterrupted:
			t.Errorf("%+v: scenario status %s", p, m.Scenarios[0].Status)
		}
		if _, err := manifest.Read(r.cfg.ManifestPath); err != nil {
			t.Errorf("%+v: manifest: %v", p, err)
		}
		for _, f := range faultsOf(m) {
			if !f.Applied.IsZero() && f.Removed.IsZero() {
				t.Errorf("%+v: fault %s applied but not marked removed", p, f.Kind)
			}
		}
		assertClean(t, s, table)
		if c, err := net.DialTimeout("tcp", server(s, "mc3").Addr, time.Second); err != nil {
			t.Errorf("%+v: mc3 not restarted: %v", p, err)
		} else {
			c.Close()
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d interruption points, all clean; slowest return after the cancel: %v", len(points), worst)
}

func faultsOf(m *manifest.Manifest) []manifest.Fault {
	if m == nil || len(m.Scenarios) == 0 {
		return nil
	}
	return m.Scenarios[0].Faults
}
