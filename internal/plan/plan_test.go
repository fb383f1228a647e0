package plan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
)

// sample is a paired plan with one arm per side.
func sample(t *testing.T) *plan.Plan {
	t.Helper()
	prof, err := profile.Get("smoke")
	if err != nil {
		t.Fatal(err)
	}
	arm := func(side string, port int) plan.Arm {
		a := plan.Arm{Side: side, Num: 1, KeyPrefix: side + "1:", Listen: "127.0.0.1:" + itoa(port), Scrape: "127.0.0.1:" + itoa(port)}
		for i, srv := range fault.Servers {
			a.Proxies = append(a.Proxies, plan.Proxy{Server: srv, Name: plan.ArmProxy(srv, side, 1), Listen: "127.0.0.1:" + itoa(port+1+i)})
		}
		return a
	}
	return &plan.Plan{
		Version: plan.Version,
		Profile: prof,
		Scenarios: []plan.Scenario{{Name: "slow", Description: "+200 ms on mc1", FaultTime: profile.Duration(time.Second), Fixed: true,
			Faults: []fault.Fault{fault.On(&fault.Latency{LatencyMS: 200}, "mc1")}, Source: "builtin"}},
		Sides: []plan.Side{{Name: plan.SideHead, Arms: 1, Client: "ours", Commit: "abc"}, {Name: plan.SideBase, Arms: 1, Client: "gomemcache", Args: []string{"-client", "gomemcache"}}},
		Seed:  42,
		Arms:  []plan.Arm{arm(plan.SideBase, 30000), arm(plan.SideHead, 30010)},
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestRoundTrip: a plan written and read back is the same value, and its
// file carries lengths as duration strings.
func TestRoundTrip(t *testing.T) {
	p := sample(t)
	path := filepath.Join(t.TempDir(), plan.File)
	if err := plan.Write(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := plan.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, p)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`"stabilization": "8s"`, `"fault_time": "1s"`, `"latency_ms": 200`, `"name": "mc1.base.1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("plan.json lacks %s:\n%s", want, b)
		}
	}
	if got := p.ArmOrder(); strings.Join(got, " ") != "base-1 head-1" {
		t.Errorf("arm order %v", got)
	}
	if got := p.Arms[1].Servers(); got != "mc1=127.0.0.1:30011,mc2=127.0.0.1:30012,mc3=127.0.0.1:30013" {
		t.Errorf("servers %s", got)
	}
}

// TestRefused: unknown fields, other versions and inconsistent plans are
// refused with an error naming the mistake.
func TestRefused(t *testing.T) {
	valid, err := json.Marshal(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(p *plan.Plan) // applied to a valid plan; nil: raw below
		raw  string
		want string
	}{
		// A field this build does not know.
		{name: "unknown field", raw: strings.Replace(string(valid), `"seed":42`, `"seed":42,"shards":3`, 1), want: `unknown field "shards"`},
		// A profile key this build does not know.
		{name: "unknown profile key", raw: strings.Replace(string(valid), `"arms":5`, `"arms":5,"cores":2`, 1), want: `unknown field "cores"`},
		// A fault parameter of another kind.
		{name: "bad fault", raw: strings.Replace(string(valid), `"latency_ms":200`, `"loss_pct":200`, 1), want: `unknown parameter "loss_pct"`},
		{name: "version", edit: func(p *plan.Plan) { p.Version = 9 }, want: "version 9"},
		{name: "no scenarios", edit: func(p *plan.Plan) { p.Scenarios = nil }, want: "no scenarios"},
		{name: "base first", edit: func(p *plan.Plan) { p.Sides[0], p.Sides[1] = p.Sides[1], p.Sides[0] }, want: "want head, then base"},
		{name: "arm of no side", edit: func(p *plan.Plan) { p.Arms[0].Num = 2 }, want: "arm base-2"},
		{name: "shared proxy port", edit: func(p *plan.Plan) { p.Arms[1].Proxies[0].Listen = p.Arms[0].Proxies[0].Listen }, want: "used twice"},
		{name: "missing proxy", edit: func(p *plan.Plan) { p.Arms[0].Proxies = p.Arms[0].Proxies[:2] }, want: "want one per server"},
		{name: "zero stabilization", edit: func(p *plan.Plan) { p.Profile.Stabilization = 0 }, want: "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.raw)
			if tc.edit != nil {
				p := sample(t)
				tc.edit(p)
				b, _ = json.Marshal(p)
			}
			_, err := plan.Decode(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}
