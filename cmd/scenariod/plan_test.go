package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// TestBadPlan: a plan that is not valid, or -plan beside a selection
// flag, is refused before anything starts: one line, exit 2.
func TestBadPlan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	good := write("good.json", `{"version":1,"profile":{"name":"smoke","description":"","stabilization":"1s","recovery":"1s","arms":1,"rate":0,"concurrency":1},
		"scenarios":[{"name":"x","description":"","fault_time":"1s","faults":[{"kind":"latency","targets":["mc1"],"params":{"latency_ms":10}}]}]}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Not there.
		{[]string{"-plan", filepath.Join(dir, "none.json")}, "no such file"},
		// A key this build does not know.
		{[]string{"-plan", write("extra.json", `{"version":1,"shards":2}`)}, `unknown field "shards"`},
		// Another version.
		{[]string{"-plan", write("v9.json", `{"version":9}`)}, "version 9"},
		// A fault parameter out of range.
		{[]string{"-plan", write("range.json", strings.Replace(mustRead(t, good), `"latency_ms":10`, `"latency_ms":-1`, 1))}, "latency_ms = -1 out of range"},
		// The plan selects: no selection flags beside it.
		{[]string{"-plan", good, "-scenario", "blackhole"}, "-scenario with -plan"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(binPath, tc.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := exitCodeOf(err); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if got := strings.TrimSpace(stderr.String()); !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("%v: stderr %q, want one line with %q", tc.args, got, tc.want)
		}
	}
	var stdout bytes.Buffer
	cmd := exec.Command(binPath, "-plan", good, "-check")
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil || stdout.String() != "x\n" {
		t.Errorf("-check of a good plan: %v, %q", err, stdout.String())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlanArms: scenariod -plan puts each fault on exactly the proxies the
// plan gives the arms (created by the stack from the plan, named however
// the plan names them), records each arm's times, and writes the plan and
// its sides into the manifest; no proxy name is parsed.
func TestPlanArms(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	prof, err := profile.Get("smoke")
	if err != nil {
		t.Fatal(err)
	}
	prof.Stabilization, prof.Recovery = 300*time.Millisecond, 300*time.Millisecond
	p := &plan.Plan{Version: plan.Version, Profile: prof,
		Scenarios: []plan.Scenario{{Name: "slow-mc2", FaultTime: profile.Duration(time.Second), Fixed: true,
			Faults: []fault.Fault{fault.On(&fault.Latency{LatencyMS: 100}, "mc2")}}},
		Sides: []plan.Side{{Name: plan.SideHead, Arms: 1, Client: "ours"}, {Name: plan.SideBase, Arms: 1, Client: "ours"}},
		Seed:  7,
	}
	for i, side := range []string{plan.SideBase, plan.SideHead} {
		ports, err := stack.FreePortList(1 + len(fault.Servers))
		if err != nil {
			t.Fatal(err)
		}
		a := plan.Arm{Side: side, Num: 1, KeyPrefix: side + "1:", Listen: "127.0.0.1:" + strconv.Itoa(ports[0]), Scrape: "127.0.0.1:" + strconv.Itoa(ports[0])}
		for j, srv := range fault.Servers {
			// Names of the plan's choosing: scenariod must not read them.
			a.Proxies = append(a.Proxies, plan.Proxy{Server: srv, Name: fmt.Sprintf("arm%d-to-%s", i, srv), Listen: "127.0.0.1:" + strconv.Itoa(ports[1+j])})
		}
		p.Arms = append(p.Arms, a)
	}
	if err := s.AddArms(t.Context(), p.Arms); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	planPath, mpath := filepath.Join(dir, plan.File), filepath.Join(dir, "manifest.json")
	if err := plan.Write(planPath, p); err != nil {
		t.Fatal(err)
	}
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "-plan", planPath, "-toxiproxy", s.ToxiproxyURL, "-manifest", mpath,
		"-listen", "127.0.0.1:"+strconv.Itoa(port), "-linger", "0", "-loss-injector", "toxiproxy",
		"-nft-table", fmt.Sprintf("mcchaos_plantest_%d", os.Getpid()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m, err := manifest.Read(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if m.Plan == nil || m.Profile != "smoke" || m.Seed != 7 || !slices.Equal(m.ArmOrder, []string{"base-1", "head-1"}) || len(m.Sides) != 2 || m.Sides[1].Name != plan.SideBase {
		b, _ := json.MarshalIndent(m, "", " ")
		t.Fatalf("manifest does not carry the plan:\n%s", b)
	}
	f := m.Scenarios[0].Faults[0]
	if m.Scenarios[0].Status != manifest.StatusPassed || len(f.Arms) != 2 {
		t.Fatalf("scenario %+v", m.Scenarios[0])
	}
	for _, a := range f.Arms {
		if a.Applied.IsZero() || a.Removed.IsZero() {
			t.Errorf("arm %s-%d: applied %v, removed %v", a.Side, a.Arm, a.Applied, a.Removed)
		}
	}
}
