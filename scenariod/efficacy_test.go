package scenariod

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/efficacy/efficacytest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// addArms creates k head arms' proxies per server on s's toxiproxy from
// a plan, as bench does, and gives r that plan's sides and arms. It
// returns every proxy's listen address (the servers' own proxies too).
func addArms(t *testing.T, s *stack.Stack, r *Runner, k int) []string {
	t.Helper()
	var addrs []string
	for _, srv := range s.Servers {
		addrs = append(addrs, srv.ProxyAddr)
	}
	var arms []plan.Arm
	for a := 1; a <= k; a++ {
		ports, err := stack.FreePortList(len(s.Servers) + 1)
		if err != nil {
			t.Fatal(err)
		}
		arm := plan.Arm{Side: plan.SideHead, Num: a, KeyPrefix: fmt.Sprintf("head%d:", a), Listen: "127.0.0.1:" + strconv.Itoa(ports[0]), Scrape: "127.0.0.1:" + strconv.Itoa(ports[0])}
		for j, srv := range s.Servers {
			listen := "127.0.0.1:" + strconv.Itoa(ports[j+1])
			arm.Proxies = append(arm.Proxies, plan.Proxy{Server: srv.Name, Name: plan.ArmProxy(srv.Name, plan.SideHead, a), Listen: listen})
			addrs = append(addrs, listen)
		}
		arms = append(arms, arm)
	}
	if err := s.AddArms(t.Context(), arms); err != nil {
		t.Fatal(err)
	}
	r.cfg.Plan.Sides = []plan.Side{{Name: plan.SideHead, Arms: k}}
	r.cfg.Plan.Arms = arms
	return addrs
}

// readEfficacy reads the records the runner wrote next to its manifest.
func readEfficacy(t *testing.T, r *Runner) map[string]efficacy.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(r.cfg.ManifestPath), EfficacyFile))
	if err != nil {
		t.Fatal(err)
	}
	var recs map[string]efficacy.Record
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestEfficacyLeakInvalid: a toxic that appears on an arm's proxy of a
// server the fault does not target makes the scenario invalid, with the
// reason in the manifest and the record in efficacy.json; the run goes on.
func TestEfficacyLeakInvalid(t *testing.T) {
	s := startStack(t)
	tp := inject.Toxiproxy{URL: s.ToxiproxyURL}
	leak := inject.Toxic{Name: "leak", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 50}}
	sc := scenario(fault.KindLatency, map[string]float64{"latency_ms": 100}, "mc1")
	sc.FaultTime = profile.Duration(1500 * time.Millisecond)
	r := testRunner(t, s, testTable(), func(e Event) {
		switch e.Kind {
		case EventFaultApplied:
			if err := tp.AddToxic(t.Context(), "mc2.head.2", leak); err != nil {
				t.Error(err)
			}
		case EventFaultRemoved:
			// Gone before the runner proves the state clean.
			if err := tp.RemoveToxic(t.Context(), "mc2.head.2", leak.Name); err != nil {
				t.Error(err)
			}
		}
	}, sc)
	addArms(t, s, r, 2)
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := m.Scenarios[0]
	if got.Status != StatusInvalid || !strings.Contains(got.Error, "mc2.head.2 has toxic leak") {
		t.Errorf("status %s, error %q; want invalid naming the leak", got.Status, got.Error)
	}
	rec := readEfficacy(t, r)[sc.Name]
	if rec.Verdict.Valid || len(rec.Samples) == 0 || rec.Recovery == nil {
		t.Errorf("record %+v", rec.Verdict)
	}
	t.Logf("line: %s", rec.Verdict.Line)
}

// TestEfficacyCatalogue runs the 14 scenarios of the catalogue, their
// fault times cut to MCCHAOS_EFFICACY_FAULT (e.g. 3s), on the local stack
// with two arms under light load, and logs the oracle's requested-vs-
// measured line for each. It takes about a minute and a half at 3 s, so
// it runs only when that variable is set. MCCHAOS_EFFICACY_LOSS picks the
// loss injector (default auto: netfilter here; toxiproxy is CI's fallback).
func TestEfficacyCatalogue(t *testing.T) {
	cut, err := time.ParseDuration(os.Getenv("MCCHAOS_EFFICACY_FAULT"))
	if err != nil {
		t.Skip("set MCCHAOS_EFFICACY_FAULT (e.g. 3s) to run the 14 scenarios")
	}
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	all, _, err := Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	sel, err := Select(all, "all")
	if err != nil {
		t.Fatal(err)
	}
	for i := range sel {
		sel[i].FaultTime = min(sel[i].FaultTime, profile.Duration(cut))
	}
	r := testRunner(t, s, table, nil, sel...)
	efficacytest.Load(t, addArms(t, s, r, 2), 2)
	r.cfg.Plan.Profile = profile.Profile{Name: "test", Stabilization: time.Second, Recovery: time.Second}
	r.cfg.LossInjector = cmp.Or(os.Getenv("MCCHAOS_EFFICACY_LOSS"), LossAuto)
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	recs := readEfficacy(t, r)
	for _, sc := range m.Scenarios {
		v := recs[sc.Name].Verdict
		t.Logf("%-38s %-7s %-9s %s", sc.Name, sc.Status, sc.Faults[0].Injector, v.Line)
		for _, w := range append(v.Reasons, v.Warnings...) {
			t.Logf("%38s - %s", "", w)
		}
		if sc.Status != manifest.StatusPassed {
			t.Errorf("%s: %s: %s", sc.Name, sc.Status, sc.Error)
		}
	}
}

// TestComposeLossByTrying: on a stack called compose, per-packet loss is
// chosen when netfilter on this host is seen to count the traffic to a
// proxy (here the proxies are on loopback, as through docker-proxy).
func TestComposeLossByTrying(t *testing.T) {
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	r := testRunner(t, s, table, nil, scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 10}, "mc1"))
	r.cfg.Stack = "compose"
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f := m.Scenarios[0].Faults[0]; f.Injector != manifest.InjectorNetfilter || f.Fidelity != manifest.FidelityPerPacket {
		t.Errorf("fault %+v, want netfilter per-packet", f)
	}
}

// TestNetemWiring: with -loss-injector netem, packet loss goes through
// netem's commands in toxiproxy's namespace (here a stand-in for the
// helper container, scenariod/inject/testdata/fake-netns.sh: this kernel
// has no netem), the manifest says netem per-packet, and the oracle
// judges netem's counters.
func TestNetemWiring(t *testing.T) {
	s := startStack(t)
	dir := t.TempDir()
	t.Setenv("FAKE_NETNS_LOG", filepath.Join(dir, "log"))
	t.Setenv("FAKE_NETNS_STATE", filepath.Join(dir, "state"))
	r := testRunner(t, s, testTable(), nil, scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 10}, "mc1"))
	r.cfg.LossInjector = LossNetem
	r.cfg.NetemExec = []string{"inject/testdata/fake-netns.sh"}
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc := m.Scenarios[0]
	if f := sc.Faults[0]; f.Injector != inject.InjectorNetem || f.Fidelity != manifest.FidelityPerPacket || sc.Status != manifest.StatusPassed {
		t.Errorf("status %s (%s), fault %+v; want passed, netem per-packet", sc.Status, sc.Error, f)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	for _, want := range []string{"tc -batch -", "ip link add mcifb0 type ifb", "tc qdisc del dev eth0 root"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("netem commands lack %q:\n%s", want, log)
		}
	}
	t.Logf("line: %s", readEfficacy(t, r)[sc.Name].Verdict.Line)
}

// TestNFTCommand: nft runs through Config.NFTCommand (sudo -n nft on a CI
// runner; env here); a command that cannot run leaves auto on toxiproxy's
// per-connection emulation.
func TestNFTCommand(t *testing.T) {
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	for _, tc := range []struct {
		command  []string
		injector string
	}{
		{[]string{"env", "nft"}, manifest.InjectorNetfilter},
		{[]string{"/nonexistent/sudo", "-n", "nft"}, manifest.InjectorToxiproxy},
	} {
		r := testRunner(t, s, table, nil, scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 10}, "mc1"))
		r.cfg.NFTCommand = tc.command
		m, err := r.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if f := m.Scenarios[0].Faults[0]; f.Injector != tc.injector {
			t.Errorf("%q: injector %s, want %s", tc.command, f.Injector, tc.injector)
		}
	}
}
