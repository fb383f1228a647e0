package inject_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/scenariod/inject"
	"github.com/mcchaos/mcchaos/scenariod/inject/injecttest"
)

// TestNetemPlan: ports with the same loss share a class per direction,
// filtered by source port on the device and destination port on the ifb.
func TestNetemPlan(t *testing.T) {
	n := &inject.Netem{Exec: []string{"docker", "compose", "exec", "-T", "netem"}}
	p := n.Plan(map[int]float64{21211: 10, 21214: 10, 21212: 0})
	for _, want := range []string{
		"qdisc add dev eth0 root handle 1: htb default 1\n",
		// loss 0 sorts first: class 1:10, counted only.
		"qdisc add dev eth0 parent 1:10 handle 10: netem loss 0% limit 100000\n",
		"qdisc add dev eth0 parent 1:11 handle 11: netem loss 10% limit 100000\n",
		"filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip sport 21211 0xffff flowid 1:11\n",
		"filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip sport 21214 0xffff flowid 1:11\n",
		"filter add dev mcifb0 parent 1: protocol ip prio 1 u32 match ip dport 21212 0xffff flowid 1:10\n",
		"qdisc add dev mcifb0 parent 1:11 handle 21: netem loss 10% limit 100000\n",
		"filter add dev eth0 parent ffff: protocol ip prio 1 u32 match u32 0 0 action mirred egress redirect dev mcifb0\n",
	} {
		if !strings.Contains(p.Batch, want) {
			t.Errorf("batch lacks %q:\n%s", want, p.Batch)
		}
	}
	if fmt.Sprint(p.Handles) != "map[10::[21212] 11::[21211 21214] 20::[21212] 21::[21211 21214]]" {
		t.Errorf("handles %v", p.Handles)
	}
	if len(p.Setup) != 2 || strings.Join(p.Setup[0], " ") != "ip link add mcifb0 type ifb" {
		t.Errorf("setup %q", p.Setup)
	}
	if empty := n.Plan(nil); empty.Batch != "" || len(empty.Setup) != 0 || len(empty.Clear) != 3 {
		t.Errorf("empty plan %+v", empty)
	}
}

// netns returns the prefix that runs a command in a new network
// namespace with a veth pair (eth0, eth1), like a container's. It skips
// the test where namespaces cannot be made.
func netns(t *testing.T) []string {
	t.Helper()
	for _, bin := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
	prefix := injecttest.Netns(t)
	for _, c := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "link", "set", "eth1", "up"},
	} {
		if out, err := exec.Command(prefix[0], append(prefix[1:], c...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return prefix
}

func run(t *testing.T, prefix []string, stdin string, argv ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(prefix[0], append(prefix[1:], argv...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNetemNamespace runs Netem's commands in a real network namespace.
// Where the kernel has netem, SetLoss and Counters work and Clear leaves
// nothing. Where it has not (this development machine: CONFIG_NET_SCH_NETEM
// is not set), SetLoss fails with ErrNetemUnavailable naming it and leaves
// nothing, and every other line of the plan is proven against the kernel.
func TestNetemNamespace(t *testing.T) {
	prefix := netns(t)
	n := &inject.Netem{Exec: prefix}
	loss := map[int]float64{21211: 10, 21214: 10, 21212: 0}
	err := n.SetLoss(t.Context(), loss)
	switch {
	case err == nil:
		cs, err := n.Counters(t.Context())
		if err != nil || len(cs) != 2 {
			t.Errorf("counters %+v, %v; want 2 groups", cs, err)
		}
	case errors.Is(err, inject.ErrNetemUnavailable):
		t.Logf("this kernel: %v", err)
		if out, _ := run(t, prefix, "", "tc", "qdisc", "show", "dev", "eth0"); strings.Contains(out, "htb") {
			t.Errorf("a failed SetLoss left rules: %s", out)
		}
		p := n.Plan(loss)
		for _, c := range p.Setup {
			if out, err := run(t, prefix, "", c...); err != nil {
				t.Fatalf("%q: %v: %s", c, err, out)
			}
		}
		out, _ := run(t, prefix, p.Batch, "tc", "-force", "-batch", "-")
		// tc -force reports each failing line as "Command failed -:N".
		lines := strings.Split(p.Batch, "\n")
		for _, l := range strings.Split(out, "\n") {
			var k int
			if _, err := fmt.Sscanf(l, "Command failed -:%d", &k); err == nil && !strings.Contains(lines[k-1], " netem ") {
				t.Errorf("line %d failed, not a netem line: %s\n%s", k, lines[k-1], out)
			}
		}
		for dev, want := range map[string]int{"eth0": 4, "mcifb0": 3} {
			// eth0: 3 port filters and the ingress redirect is on ffff:, so
			// count the u32 keys of parent 1: and ffff: together.
			f1, _ := run(t, prefix, "", "tc", "filter", "show", "dev", dev, "parent", "1:")
			f2, _ := run(t, prefix, "", "tc", "filter", "show", "dev", dev, "parent", "ffff:")
			if got := strings.Count(f1+f2, "match "); got != want {
				t.Errorf("%s: %d u32 matches, want %d:\n%s%s", dev, got, want, f1, f2)
			}
		}
	default:
		t.Fatal(err)
	}
	if err := n.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, _ := run(t, prefix, "", "tc", "qdisc", "show", "dev", "eth0")
	links, _ := run(t, prefix, "", "ip", "link", "show")
	if strings.Contains(out, "htb") || strings.Contains(out, "ingress") || strings.Contains(links, "mcifb0") {
		t.Errorf("Clear left rules:\n%s%s", out, links)
	}
}

// TestNetemCounters reads the netem qdiscs' counters of both directions
// per port group, from iproute2's JSON (here from a stand-in for the
// helper container: this kernel has no netem to count with).
func TestNetemCounters(t *testing.T) {
	n := &inject.Netem{Exec: []string{"testdata/fake-netns.sh"}}
	if cs, err := n.Counters(t.Context()); err != nil || len(cs) != 0 {
		t.Errorf("before SetLoss: %+v, %v; want none", cs, err)
	}
	if err := n.SetLoss(t.Context(), map[int]float64{21211: 10, 21214: 10, 21212: 0}); err != nil {
		t.Fatal(err)
	}
	cs, err := n.Counters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := "[{Ports:[21211 21214] Matched:1000 Dropped:100} {Ports:[21212] Matched:1000 Dropped:0}]"
	if got := fmt.Sprintf("%+v", cs); got != want {
		t.Errorf("counters\n got %s\nwant %s", got, want)
	}
	if err := n.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cs, _ := n.Counters(t.Context()); len(cs) != 0 {
		t.Errorf("after Clear: %+v", cs)
	}
}
