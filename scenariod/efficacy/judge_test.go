package efficacy_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

var t0 = time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)

// sample is a check at second sec (may be fractional): mc1 targeted with
// matched/dropped packets, mc2 healthy; problems by server.
func sample(sec float64, matched, dropped int64, problems map[string]string) efficacy.Sample {
	s := efficacy.Sample{Time: t0.Add(time.Duration(sec * float64(time.Second)))}
	for _, name := range []string{"mc1", "mc2"} {
		ss := efficacy.ServerSample{Server: name, Targeted: name == "mc1", Counted: true, Proxies: 2, InState: 2, Probe: efficacy.Probe{Outcome: efficacy.OutcomeOK}}
		if name == "mc1" {
			ss.Matched, ss.Dropped = matched, dropped
		} else {
			ss.Matched = 1000
		}
		if kind, ok := problems[name]; ok {
			ss.Problems = []efficacy.Problem{{Kind: kind, Detail: "test"}}
		}
		s.Servers = append(s.Servers, ss)
	}
	return s
}

// seconds returns n one-second checks of mc1 at matched/dropped each;
// problems[i] are check i's problems.
func seconds(n int, matched, dropped int64, problems map[int]map[string]string) []efficacy.Sample {
	var ss []efficacy.Sample
	for i := range n {
		ss = append(ss, sample(float64(i), matched, dropped, problems[i]))
	}
	return ss
}

func TestJudge(t *testing.T) {
	loss10 := []manifest.Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 10}, "mc1"), Made: manifest.Made{Injector: "netfilter"}}}
	clean := &efficacy.Sample{Time: t0.Add(time.Minute)}
	absent := map[string]string{"mc1": efficacy.ProblemAbsent}
	harmed := map[string]string{"mc2": efficacy.ProblemHarmed}
	lingering := new(sample(60, 0, 0, map[string]string{"mc1": efficacy.ProblemLingering}))
	ends := map[string]time.Time{"open-gap": t0.Add(6 * time.Second), "open-gap-at-end": t0.Add(4500 * time.Millisecond)}
	for _, tc := range []struct {
		name     string
		samples  []efficacy.Sample
		recovery *efficacy.Sample
		valid    bool
	}{
		// 10.0 % of 10 000 packets.
		{"on-target", seconds(10, 1000, 100, nil), clean, true},
		// 12 %: within 3 points.
		{"within", seconds(10, 1000, 120, nil), clean, true},
		// 14 % of 10 000 packets: 4 points off, 4 standard errors are 1.2.
		{"off", seconds(10, 1000, 140, nil), clean, false},
		// 14 % of 50 packets: 4 standard errors are 17 points.
		{"few-packets", seconds(1, 50, 7, nil), clean, true},
		// Matched packets, none dropped.
		{"drops-nothing", seconds(5, 1000, 0, nil), clean, false},
		// 10 packets, none dropped: 35 % likely at 10 % loss.
		{"too-few-to-judge", seconds(1, 10, 0, nil), clean, true},
		// A fault absent in one check, back 0.5 s later.
		{"short-gap", append(append(seconds(3, 1000, 100, nil), sample(3, 100, 10, absent), sample(3.5, 100, 10, nil)), seconds(6, 1000, 100, nil)[4:]...), clean, true},
		// Absent in checks 3 to 4.5: 1.5 s.
		{"long-gap", append(append(seconds(3, 1000, 100, nil), sample(3, 100, 10, absent), sample(4, 100, 10, absent), sample(4.5, 100, 10, nil)), seconds(8, 1000, 100, nil)[5:]...), clean, false},
		// Absent from 4 s to the end of the phase at 6 s.
		{"open-gap", seconds(5, 1000, 100, map[int]map[string]string{4: absent}), clean, false},
		// Absent from 4 s to the end of the phase at 4.5 s: no time to repair.
		{"open-gap-at-end", seconds(5, 1000, 100, map[int]map[string]string{4: absent}), clean, true},
		// A healthy server's probe failed in 2 of 10 checks: a warning.
		{"harmed-rarely", seconds(10, 1000, 100, map[int]map[string]string{2: harmed, 7: harmed}), clean, true},
		// ... in 3 of 10 is still only told: a slow healthy server proves
		// no leak (a pr run on a loaded machine had toxiproxy itself slow
		// every probe by 130 ms); counters and toxics prove leaks.
		{"harmed-often", seconds(10, 1000, 100, map[int]map[string]string{1: harmed, 2: harmed, 3: harmed}), clean, true},
		// One leak is enough.
		{"leak", seconds(10, 1000, 100, map[int]map[string]string{5: {"mc2": efficacy.ProblemLeak}}), clean, false},
		// Still there after removal.
		{"lingering", seconds(10, 1000, 100, nil), lingering, false},
		// No check at all.
		{"no-checks", nil, clean, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &efficacy.Record{Samples: tc.samples, Recovery: tc.recovery, End: ends[tc.name]}
			efficacy.Judge(rec, loss10, efficacy.Tolerance{})
			v := rec.Verdict
			if v.Valid != tc.valid {
				t.Errorf("valid %v, want %v; reasons %q, warnings %q", v.Valid, tc.valid, v.Reasons, v.Warnings)
			}
			if _, err := json.Marshal(rec); err != nil {
				t.Errorf("record does not encode: %v", err)
			}
		})
	}
}

// TestLine: the report's line names requested and measured per server.
func TestLine(t *testing.T) {
	rec := &efficacy.Record{Samples: seconds(10, 1000, 97, nil)}
	loss10 := []manifest.Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 10}, "mc1"), Made: manifest.Made{Injector: "netfilter"}}}
	efficacy.Judge(rec, loss10, efficacy.Tolerance{})
	want := "mc1: requested 10 % loss, measured 9.7 % of 10000 packets lost, probe +0.0 ms; elsewhere mc2 0.0 % of 10000 packets lost, probe +0.0 ms"
	if rec.Verdict.Line != want {
		t.Errorf("line\n got %q\nwant %q", rec.Verdict.Line, want)
	}
}

func TestDialAddr(t *testing.T) {
	for _, tc := range []struct{ listen, host, want string }{
		{"127.0.0.1:21211", "127.0.0.1", "127.0.0.1:21211"},
		// toxiproxy in a container: dial the API's host.
		{"0.0.0.0:21211", "toxiproxy", "toxiproxy:21211"},
		{"[::]:21211", "", "127.0.0.1:21211"},
		{":21211", "127.0.0.1", "127.0.0.1:21211"},
	} {
		if got := efficacy.DialAddr(tc.listen, tc.host); got != tc.want {
			t.Errorf("DialAddr(%q, %q) = %q, want %q", tc.listen, tc.host, got, tc.want)
		}
	}
}

// TestLossPorts: every proxy of a targeted server (legacy and arms) gets
// the loss, every other proxy 0; no counted loss fault, no rules.
func TestLossPorts(t *testing.T) {
	servers := efficacy.ServersOf(map[string]inject.Proxy{
		"mc1":        {Listen: "127.0.0.1:21211"},
		"mc1.head.1": {Listen: "127.0.0.1:21214"},
		"mc1.base.1": {Listen: "0.0.0.0:21215"},
		"mc2":        {Listen: "127.0.0.1:21212"},
		"mc2.head.1": {Listen: "127.0.0.1:21216"},
	}, map[string]string{"mc1": "mc1", "mc1.head.1": "mc1", "mc1.base.1": "mc1", "mc2": "mc2", "mc2.head.1": "mc2"})
	if len(servers) != 2 || len(servers[0].Proxies) != 3 || servers[0].Proxies[1].Name != "mc1.base.1" {
		t.Fatalf("servers %+v", servers)
	}
	nf := manifest.Fault{Fault: fault.On(&fault.PacketLoss{LossPct: 10}, "mc1"), Made: manifest.Made{Injector: "netfilter"}}
	got, err := efficacy.LossPorts(servers, []manifest.Fault{nf})
	if want := "map[21211:10 21212:0 21214:10 21215:10 21216:0]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("LossPorts = %v, %v; want %s", got, err, want)
	}
	// The toxiproxy emulation is not counted per packet: no rules.
	nf.Injector = "toxiproxy"
	if got, _ := efficacy.LossPorts(servers, []manifest.Fault{nf}); len(got) != 0 {
		t.Errorf("toxiproxy loss gave ports %v", got)
	}
}

// TestLinePerConnection: the emulated loss says what it is.
func TestLinePerConnection(t *testing.T) {
	rec := &efficacy.Record{Samples: seconds(2, 0, 0, nil)}
	f := []manifest.Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 10}, "mc1"), Made: manifest.Made{Injector: "toxiproxy"}}}
	efficacy.Judge(rec, f, efficacy.Tolerance{})
	if want := "mc1: requested 10 % of connections black-holed (per-connection emulation of loss)"; !strings.HasPrefix(rec.Verdict.Line, want) {
		t.Errorf("line %q, want it to start with %q", rec.Verdict.Line, want)
	}
}
