package efficacy_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/efficacy/efficacytest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// rig is the real stack's memcached servers behind a toxiproxy server of
// the test's own (so the test may kill and restart it), with arms proxies
// per server named like the runner's ("mc1.head.1").
type rig struct {
	tp      *inject.Toxiproxy
	bin     string
	apiPort int
	srv     *exec.Cmd
	proxies map[string]inject.Proxy // definitions, by name
	servers []efficacy.Server
}

func newRig(t *testing.T, arms int) *rig {
	t.Helper()
	s := stacktest.Start(t, stacktest.Options{})
	bin, err := stack.ToxiproxyBinary(t.Context(), "")
	if err != nil {
		t.Fatal(err) // the stack runs this binary already
	}
	r := &rig{bin: bin, proxies: map[string]inject.Proxy{}}
	if r.apiPort, err = stack.FreePort(); err != nil {
		t.Fatal(err)
	}
	r.tp = &inject.Toxiproxy{URL: fmt.Sprintf("http://127.0.0.1:%d", r.apiPort)}
	r.start(t)
	t.Cleanup(r.kill)
	server := map[string]string{}
	for _, x := range s.Servers {
		for a := 1; a <= arms; a++ {
			port, err := stack.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			name := plan.ArmProxy(x.Name, plan.SideHead, a)
			r.proxies[name] = inject.Proxy{Name: name, Listen: "127.0.0.1:" + strconv.Itoa(port), Upstream: x.Addr}
			server[name] = x.Name
		}
	}
	if err := r.createMissing(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.servers = efficacy.ServersOf(r.proxies, server)
	return r
}

// start starts the toxiproxy server, empty, and waits for its API.
func (r *rig) start(t *testing.T) {
	t.Helper()
	r.srv = exec.Command(r.bin, "-host", "127.0.0.1", "-port", strconv.Itoa(r.apiPort))
	if err := r.srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := inject.Poll(t.Context(), 10*time.Second, func() bool { _, err := r.tp.Proxies(t.Context()); return err == nil }); err != nil {
		t.Fatalf("toxiproxy did not come up: %v", err)
	}
}

func (r *rig) kill() {
	r.srv.Process.Kill()
	r.srv.Wait()
}

// createMissing creates every proxy of the rig that toxiproxy lacks.
func (r *rig) createMissing(ctx context.Context) error {
	have, err := r.tp.Proxies(ctx)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(r.proxies)) {
		if _, ok := have[name]; !ok {
			if err := r.tp.CreateProxy(ctx, r.proxies[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addToxic adds x to every proxy of server.
func (r *rig) addToxic(ctx context.Context, server string, x inject.Toxic) error {
	for _, s := range r.servers {
		if s.Name != server {
			continue
		}
		for _, p := range s.Proxies {
			if err := r.tp.AddToxic(ctx, p.Name, x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *rig) oracle(t *testing.T, loss efficacy.Counters) *efficacy.Oracle {
	t.Helper()
	o, err := efficacy.New(efficacy.Config{Servers: r.servers, Toxiproxy: r.tp, Loss: loss})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Baseline(t.Context(), 5); err != nil {
		t.Fatal(err)
	}
	return o
}

// load runs conns memcached clients on every proxy until stop.
func (r *rig) load(t *testing.T, conns int) (stop func() int64) {
	t.Helper()
	var addrs []string
	for _, p := range r.proxies {
		addrs = append(addrs, p.Listen)
	}
	return efficacytest.Load(t, addrs, conns)
}

var tableSeq atomic.Int32

// testNetfilter returns a Netfilter on a table of the test's own, deleted
// at the end; it skips the test when nftables cannot be used here.
func testNetfilter(t *testing.T) *inject.Netfilter {
	t.Helper()
	// A long timeout: on this shared machine nft has taken over 5 s.
	nf := &inject.Netfilter{Table: fmt.Sprintf("mcchaos_etest_%d_%d", os.Getpid(), tableSeq.Add(1)), Timeout: 30 * time.Second}
	stacktest.NeedNetfilter(t, nf.Available(t.Context()))
	t.Cleanup(func() { nf.Clear(context.Background()) })
	return nf
}

// lossFault is a netfilter packet loss of pct on the targets.
func lossFault(pct float64, targets ...string) manifest.Fault {
	return manifest.Fault{Fault: fault.On(&fault.PacketLoss{LossPct: pct}, targets...), Made: manifest.Made{Injector: manifest.InjectorNetfilter}}
}

// runLoss applies faults (apply gets the port losses of efficacy.LossPorts),
// watches them under load for d, removes them (clearing nf) and returns
// the judged record.
func runLoss(t *testing.T, r *rig, nf *inject.Netfilter, apply func(map[int]float64) error, d time.Duration, faults ...manifest.Fault) *efficacy.Record {
	t.Helper()
	o := r.oracle(t, nf)
	ports, err := efficacy.LossPorts(r.servers, faults)
	if err != nil {
		t.Fatal(err)
	}
	stop := r.load(t, 8)
	if err := apply(ports); err != nil {
		t.Fatal(err)
	}
	w := o.Start(t.Context(), faults, nil)
	time.Sleep(d) // the fault's duration: a scenario's testing phase
	rec := w.Stop()
	if err := nf.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec = o.Finish(t.Context(), rec, faults)
	t.Logf("%d ops; verdict: %s; reasons %q; warnings %q", stop(), rec.Verdict.Line, rec.Verdict.Reasons, rec.Verdict.Warnings)
	return rec
}

// result returns the verdict's result for server.
func result(t *testing.T, rec *efficacy.Record, server string) efficacy.ServerResult {
	t.Helper()
	for _, r := range rec.Verdict.Servers {
		if r.Server == server {
			return r
		}
	}
	t.Fatalf("no result for %s", server)
	return efficacy.ServerResult{}
}

// TestLoss10 applies 10 % per-packet loss to mc1 (all three arms'
// proxies, one nft transaction) under load: the oracle measures 10 ± 3 %
// on mc1 and 0 % of counted packets on mc2 and mc3, and the verdict is valid.
func TestLoss10(t *testing.T) {
	r := newRig(t, 3)
	nf := testNetfilter(t)
	apply := func(p map[int]float64) error { return nf.SetLoss(t.Context(), p) }
	rec := runLoss(t, r, nf, apply, 4*time.Second, lossFault(10, "mc1"))
	if !rec.Verdict.Valid {
		t.Errorf("invalid: %q", rec.Verdict.Reasons)
	}
	var most time.Duration
	for i := 1; i < len(rec.Samples); i++ {
		most = max(most, rec.Samples[i].Time.Sub(rec.Samples[i-1].Time))
	}
	t.Logf("%d checks, at most %v apart", len(rec.Samples), most.Round(time.Millisecond))
	// One a second, with room for a starved machine (2 cores shared by
	// five, load average 30 seen: a check's nft call alone took 1.8 s).
	if len(rec.Samples) < 3 || most > 2500*time.Millisecond {
		t.Errorf("%d checks in 4 s, at most %v apart; want about one a second", len(rec.Samples), most)
	}
	mc1 := result(t, rec, "mc1")
	if mc1.LossPct == nil || *mc1.LossPct < 7 || *mc1.LossPct > 13 {
		t.Errorf("mc1 measured %v, want 10 ± 3 %%", mc1.LossPct)
	}
	for _, c := range rec.Ports {
		if slices.Contains(r.ports("mc1"), c.Ports[0]) && (c.Matched == 0 || c.Dropped == 0) {
			t.Errorf("an mc1 arm's port lost nothing: %+v", c)
		}
	}
	for _, name := range []string{"mc2", "mc3"} {
		x := result(t, rec, name)
		if x.LossPct == nil || *x.LossPct != 0 || x.Matched < 100 {
			t.Errorf("%s: %d packets counted, loss %v; want many, 0 %%", name, x.Matched, x.LossPct)
		}
	}
	if rec.Recovery == nil || len(rec.Recovery.Servers) != 3 {
		t.Errorf("recovery check %+v", rec.Recovery)
	}
}

func (r *rig) ports(server string) []int {
	var ps []int
	for _, s := range r.servers {
		if s.Name == server {
			for _, p := range s.Proxies {
				port, _ := inject.ListenPort(p.Listen)
				ps = append(ps, port)
			}
		}
	}
	return ps
}

// TestLossRuleDropsNothing: a loss rule that drops no packet makes the
// scenario invalid, whether it sees the traffic and never drops (the loss
// set to 0) or never sees it (the compose case: the rule on an interface
// the traffic does not pass).
func TestLossRuleDropsNothing(t *testing.T) {
	r := newRig(t, 2)
	for _, tc := range []struct {
		name  string
		apply func(nf *inject.Netfilter, ports map[int]float64) error
		want  string
	}{
		// The rules are in place on the right ports, with loss 0.
		{"counts-only", func(nf *inject.Netfilter, ports map[int]float64) error {
			for p := range ports {
				ports[p] = 0
			}
			return nf.SetLoss(context.Background(), ports)
		}, "dropped none"},
		// The rules are on an interface the traffic does not pass.
		{"elsewhere", func(nf *inject.Netfilter, ports map[int]float64) error {
			other := &inject.Netfilter{Table: nf.Table, Timeout: nf.Timeout, Interface: "mcchaos0"}
			return other.SetLoss(context.Background(), ports)
		}, "matched no packet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nf := testNetfilter(t)
			apply := func(p map[int]float64) error { return tc.apply(nf, p) }
			rec := runLoss(t, r, nf, apply, 2*time.Second, lossFault(10, "mc1"))
			if rec.Verdict.Valid || !anyContains(rec.Verdict.Reasons, tc.want) {
				t.Errorf("valid %v, reasons %q; want invalid for %q", rec.Verdict.Valid, rec.Verdict.Reasons, tc.want)
			}
		})
	}
}

func anyContains(ss []string, sub string) bool {
	return slices.ContainsFunc(ss, func(s string) bool { return strings.Contains(s, sub) })
}

// latency is the toxic scenariod makes for +ms latency.
func latency(ms int) inject.Toxic {
	return inject.Toxic{Name: "mcchaos_latency", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": ms}}
}

func latencyFault(ms int, targets ...string) manifest.Fault {
	return manifest.Fault{Fault: fault.On(&fault.Latency{LatencyMS: float64(ms)}, targets...), Made: manifest.Made{Injector: manifest.InjectorToxiproxy}}
}

// watchFor measures the baseline, applies the faults, watches them
// while during runs (the testing phase) and returns the judged record
// after remove has taken them away.
func watchFor(t *testing.T, r *rig, faults []manifest.Fault, apply func() error, repair func(context.Context) error, during func(), remove func() error) *efficacy.Record {
	t.Helper()
	o := r.oracle(t, nil)
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	w := o.Start(t.Context(), faults, repair)
	during()
	rec := w.Stop()
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	rec = o.Finish(t.Context(), rec, faults)
	t.Logf("%d checks; verdict: %s; reasons %q; warnings %q", len(rec.Samples), rec.Verdict.Line, rec.Verdict.Reasons, rec.Verdict.Warnings)
	return rec
}

// reset removes every toxic and re-creates missing proxies.
func (r *rig) reset(ctx context.Context) error {
	if err := r.createMissing(ctx); err != nil {
		return err
	}
	return r.tp.Reset(ctx)
}

// TestToxiproxyRestart kills toxiproxy in the middle of a latency fault
// and starts it again empty. With a repair that re-creates the proxies and
// puts the toxic back (what scenariod's runner does), the fault is back
// within 1 s and the verdict is valid, with the gap recorded; without one,
// the scenario is invalid: the phase is never recorded as faulted while
// the fault is absent.
func TestToxiproxyRestart(t *testing.T) {
	r := newRig(t, 2)
	faults := []manifest.Fault{latencyFault(200, "mc1")}
	for _, tc := range []struct {
		name   string
		repair func(context.Context) error
		valid  bool
	}{
		{"repaired", func(ctx context.Context) error {
			if err := r.createMissing(ctx); err != nil {
				return err
			}
			return r.addToxic(ctx, "mc1", latency(200))
		}, true},
		{"not-repaired", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var restarted time.Time
			apply := func() error { return r.addToxic(t.Context(), "mc1", latency(200)) }
			rec := watchFor(t, r, faults, apply, tc.repair, func() {
				time.Sleep(1500 * time.Millisecond) // into the phase
				r.kill()
				restarted = time.Now()
				r.start(t)
				time.Sleep(2500 * time.Millisecond) // the rest of the phase
			}, func() error { return r.reset(t.Context()) })
			v := rec.Verdict
			if len(v.Gaps) == 0 {
				t.Fatalf("no gap recorded; reasons %q", v.Reasons)
			}
			g := v.Gaps[0]
			t.Logf("restart at %s, last seen %s, gap %s – %s", restarted.Format("15:04:05.000"), g.LastSeen.Format("15:04:05.000"), g.Start.Format("15:04:05.000"), g.End.Format("15:04:05.000"))
			// Never valid with the fault absent for more than 1 s: a
			// repaired fault is valid only if it came back in time (on a
			// starved machine toxiproxy itself may take longer to restart).
			long := g.End.IsZero() || g.End.Sub(g.Start) > time.Second
			switch {
			case !tc.valid && v.Valid:
				t.Errorf("valid without repair: %+v", v)
			case v.Valid == long:
				t.Errorf("valid %v with gap %v; reasons %q", v.Valid, g.End.Sub(g.Start), v.Reasons)
			case tc.valid && !v.Valid && !anyContains(v.Reasons, "limit 1s"):
				t.Errorf("repaired but invalid for another reason: %q", v.Reasons)
			}
		})
	}
}

// TestToxicFaults: a latency fault on every mc1 proxy is seen by the
// probe (+200 ms) and valid; a toxic left on one mc2 proxy is a leak; a
// server down is seen as refusals; a fault gone before its time is invalid.
func TestToxicFaults(t *testing.T) {
	r := newRig(t, 2)
	ctx := t.Context()
	down := manifest.Fault{Fault: fault.On(&fault.ServerDown{}, "mc2"), Made: manifest.Made{Injector: manifest.InjectorToxiproxy}}
	for _, tc := range []struct {
		name  string
		fault manifest.Fault
		apply func() error
		want  string // a reason of the invalid verdict; "" for valid
	}{
		{"latency", latencyFault(200, "mc1"), func() error { return r.addToxic(ctx, "mc1", latency(200)) }, ""},
		{"leak", latencyFault(200, "mc1"), func() error {
			if err := r.addToxic(ctx, "mc1", latency(200)); err != nil {
				return err
			}
			return r.tp.AddToxic(ctx, "mc2.head.2", latency(200))
		}, "does not target"},
		{"server-down", down, func() error {
			for _, p := range []string{"mc2.head.1", "mc2.head.2"} {
				if err := r.tp.SetEnabled(ctx, p, false); err != nil {
					return err
				}
			}
			return nil
		}, ""},
		// Applied on one arm only: the other arm's proxy lacks it.
		{"one-arm", latencyFault(200, "mc1"), func() error { return r.tp.AddToxic(ctx, "mc1.head.1", latency(200)) }, "absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := watchFor(t, r, []manifest.Fault{tc.fault}, tc.apply, nil, func() { time.Sleep(2 * time.Second) }, func() error { return r.reset(ctx) })
			v := rec.Verdict
			if v.Valid != (tc.want == "") || tc.want != "" && !anyContains(v.Reasons, tc.want) {
				t.Errorf("valid %v, reasons %q; want %q", v.Valid, v.Reasons, tc.want)
			}
			if tc.name == "latency" {
				if x := result(t, rec, "mc1"); x.AddedMsMedian < 190 || x.AddedMsMedian > 300 {
					t.Errorf("mc1 probe +%.1f ms, want about +200", x.AddedMsMedian)
				}
			}
		})
	}
}

// TestReaches: netfilter on this host's loopback sees the traffic to a
// proxy on it; rules on an interface the traffic does not pass do not,
// which Reaches reports as ErrNotReached (the compose stack's case when
// docker publishes ports without docker-proxy).
func TestReaches(t *testing.T) {
	r := newRig(t, 1)
	nf := testNetfilter(t)
	addr := r.servers[0].Proxies[0].Listen
	if err := efficacy.Reaches(t.Context(), nf, addr); err != nil {
		t.Errorf("loopback: %v", err)
	}
	other := &inject.Netfilter{Table: nf.Table, Timeout: nf.Timeout, Interface: "mcchaos0"}
	err := efficacy.Reaches(t.Context(), other, addr)
	if !errors.Is(err, efficacy.ErrNotReached) {
		t.Errorf("other interface: %v, want ErrNotReached", err)
	}
	t.Log(err)
	if ok, _ := nf.Exists(t.Context()); ok {
		t.Error("Reaches left its table")
	}
	var _ efficacy.LossInjector = (*inject.Netem)(nil)
}
