package inject

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// InjectorNetem names packet loss made by netem in the network namespace
// of the compose stack's toxiproxy container (see Netem).
const InjectorNetem = "netem"

// ComposeNetemExec is Netem.Exec for the compose stack's helper
// (docker-compose.yml, service netem), run from the repository root.
var ComposeNetemExec = []string{"docker", "compose", "exec", "-T", "netem"}

// DefaultNetemDevice and DefaultNetemIFB are Netem's interfaces when none
// are given: a container's interface and the ifb device Netem creates.
const (
	DefaultNetemDevice = "eth0"
	DefaultNetemIFB    = "mcifb0"
)

// ErrNetemUnavailable is returned (wrapped) when the namespace's kernel or
// permissions cannot run Netem's rules; the error says what is missing.
var ErrNetemUnavailable = errors.New("netem unavailable")

// Netem drops a share of the TCP packets to and from given ports with the
// Linux netem qdisc, in both directions like Netfilter, in a network
// namespace reached through Exec: in the compose stack a helper container
// sharing the toxiproxy container's namespace (docker-compose.yml, service
// netem: NET_ADMIN, iproute2), the way Pumba and Chaos Mesh do.
//
// Packets toxiproxy sends (source port = a proxy port) are classified on
// Device's egress; packets it receives (destination port = a proxy port)
// are redirected from Device's ingress to an ifb device and classified on
// its egress. Ports with the same loss share one netem qdisc per direction
// (an HTB class, u32 filters), whose sent and dropped packets Counters
// reads; a port with loss 0 gets a netem without loss, to be counted.
//
// In the compose stack the connection that loses packets is the one that
// ends in toxiproxy: from docker-proxy (the host's published port) or,
// without the userland proxy, from the client itself. It is safe for
// concurrent use; each SetLoss replaces all rules.
type Netem struct {
	// Exec is the command prefix that runs a command in the namespace,
	// e.g. {"docker", "compose", "exec", "-T", "netem"}. If empty, here.
	Exec []string
	// Device is the interface toxiproxy's traffic passes. If empty, DefaultNetemDevice.
	Device string
	// IFB is the ifb device for the inbound direction. If empty, DefaultNetemIFB.
	IFB string
	// Timeout bounds one command. If zero, 5 s.
	Timeout time.Duration

	mu     sync.Mutex
	groups map[string][]int // qdisc handle → ports, of the last SetLoss
}

func (n *Netem) dev() string { return orDefault(n.Device, DefaultNetemDevice) }
func (n *Netem) ifb() string { return orDefault(n.IFB, DefaultNetemIFB) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// NetemPlan is what SetLoss runs: Clear first (errors ignored: there may
// be nothing to clear), then Setup one by one, then Batch through
// `tc -batch -`. Handles maps each netem qdisc handle to its ports.
type NetemPlan struct {
	Clear   [][]string
	Setup   [][]string
	Batch   string
	Handles map[string][]int
}

// Plan returns the commands that make loss (port → percent, 0 counts
// without dropping) the only rules; an empty map only clears.
func (n *Netem) Plan(loss map[int]float64) NetemPlan {
	dev, ifb := n.dev(), n.ifb()
	p := NetemPlan{
		Clear: [][]string{
			{"tc", "qdisc", "del", "dev", dev, "root"},
			{"tc", "qdisc", "del", "dev", dev, "ingress"},
			{"ip", "link", "del", ifb},
		},
		Handles: map[string][]int{},
	}
	if len(loss) == 0 {
		return p
	}
	p.Setup = [][]string{
		{"ip", "link", "add", ifb, "type", "ifb"},
		{"ip", "link", "set", ifb, "up"},
	}
	byLoss := map[float64][]int{}
	for port, pct := range loss {
		byLoss[pct] = append(byLoss[pct], port)
	}
	var b strings.Builder
	for _, side := range []struct{ dev, match string }{{dev, "sport"}, {ifb, "dport"}} {
		// Unclassified traffic goes to class 1:1, unshaped.
		fmt.Fprintf(&b, "qdisc add dev %s root handle 1: htb default 1\n", side.dev)
		fmt.Fprintf(&b, "class add dev %s parent 1: classid 1:1 htb rate 10gbit quantum 60000\n", side.dev)
		for i, pct := range slices.Sorted(maps.Keys(byLoss)) {
			// Class minors and handles are hexadecimal in tc.
			class := fmt.Sprintf("%x", 0x10+i)
			handle := fmt.Sprintf("%x", 0x10+i)
			if side.dev == ifb {
				handle = fmt.Sprintf("%x", 0x20+i)
			}
			fmt.Fprintf(&b, "class add dev %s parent 1: classid 1:%s htb rate 10gbit quantum 60000\n", side.dev, class)
			fmt.Fprintf(&b, "qdisc add dev %s parent 1:%s handle %s: netem loss %g%% limit 100000\n", side.dev, class, handle, pct)
			ports := slices.Sorted(slices.Values(byLoss[pct]))
			for _, port := range ports {
				fmt.Fprintf(&b, "filter add dev %s parent 1: protocol ip prio 1 u32 match ip %s %d 0xffff flowid 1:%s\n", side.dev, side.match, port, class)
			}
			p.Handles[handle+":"] = ports
		}
	}
	fmt.Fprintf(&b, "qdisc add dev %s handle ffff: ingress\n", dev)
	fmt.Fprintf(&b, "filter add dev %s parent ffff: protocol ip prio 1 u32 match u32 0 0 action mirred egress redirect dev %s\n", dev, ifb)
	p.Batch = b.String()
	return p
}

func (n *Netem) run(ctx context.Context, stdin string, argv ...string) (string, error) {
	full := append(slices.Clone(n.Exec), argv...)
	out, errOut, err := runTool(ctx, cmp.Or(n.Timeout, 5*time.Second), full, stdin)
	if err != nil {
		msg := strings.TrimSpace(errOut + " " + out)
		var k int
		if i := strings.Index(msg, "Command failed -:"); i >= 0 && stdin != "" {
			// Name the batch line that failed.
			if _, err := fmt.Sscanf(msg[i:], "Command failed -:%d", &k); err == nil && k >= 1 && k <= strings.Count(stdin, "\n") {
				msg += fmt.Sprintf(" [line %d: %s]", k, strings.Split(stdin, "\n")[k-1])
			}
		}
		if strings.Contains(msg, "qdisc kind is unknown") {
			// The kernel lacks the netem (or htb, ingress) qdisc.
			return "", fmt.Errorf("%w: %s: %v: %s (the kernel needs CONFIG_NET_SCH_NETEM, CONFIG_NET_SCH_HTB, CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_U32, CONFIG_NET_ACT_MIRRED, CONFIG_IFB)", ErrNetemUnavailable, strings.Join(full, " "), err, msg)
		}
		if strings.Contains(msg, "Operation not permitted") {
			return "", fmt.Errorf("%w: %s: %v: %s (needs CAP_NET_ADMIN in the namespace)", ErrNetemUnavailable, strings.Join(full, " "), err, msg)
		}
		return "", fmt.Errorf("netem: %s: %v: %s", strings.Join(full, " "), err, msg)
	}
	return out, nil
}

// SetLoss replaces every rule by loss (port → percent, 0 ≤ pct ≤ 100). An
// empty map removes them. On error nothing of ours is left in place.
func (n *Netem) SetLoss(ctx context.Context, loss map[int]float64) error {
	for port, pct := range loss {
		if pct < 0 || pct > 100 || port <= 0 || port > 65535 {
			return fmt.Errorf("netem: bad loss %v%% on port %d", pct, port)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.Plan(loss)
	for _, c := range p.Clear {
		n.run(ctx, "", c...) // nothing to delete is not an error
	}
	n.groups = nil
	err := func() error {
		for _, c := range p.Setup {
			if _, err := n.run(ctx, "", c...); err != nil {
				return err
			}
		}
		if p.Batch != "" {
			if _, err := n.run(ctx, p.Batch, "tc", "-batch", "-"); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		for _, c := range p.Clear {
			n.run(context.WithoutCancel(ctx), "", c...)
		}
		return err
	}
	n.groups = p.Handles
	return nil
}

// Clear removes every rule.
func (n *Netem) Clear(ctx context.Context) error { return n.SetLoss(ctx, nil) }

// Active reports whether any rule of Netem's is in place in the namespace:
// its ifb device or its root qdisc on Device.
func (n *Netem) Active(ctx context.Context) (bool, error) {
	out, err := n.run(ctx, "", "ip", "-o", "link", "show")
	if err != nil {
		return false, err
	}
	if strings.Contains(out, " "+n.ifb()+":") {
		return true, nil
	}
	q, err := n.run(ctx, "", "tc", "qdisc", "show", "dev", n.dev())
	if err != nil {
		return false, err
	}
	return strings.Contains(q, "qdisc htb 1: root"), nil
}

// Counters returns, per group of ports with the same loss, the packets
// both directions' netem qdiscs saw and dropped since the last SetLoss.
func (n *Netem) Counters(ctx context.Context) ([]Counter, error) {
	n.mu.Lock()
	groups := n.groups
	n.mu.Unlock()
	if len(groups) == 0 {
		return nil, nil
	}
	byPorts := map[string]*Counter{}
	for _, dev := range []string{n.dev(), n.ifb()} {
		out, err := n.run(ctx, "", "tc", "-s", "-j", "qdisc", "show", "dev", dev)
		if err != nil {
			return nil, err
		}
		var qs []struct {
			Kind    string `json:"kind"`
			Handle  string `json:"handle"`
			Packets int64  `json:"packets"`
			Drops   int64  `json:"drops"`
		}
		if err := json.Unmarshal([]byte(out), &qs); err != nil {
			return nil, fmt.Errorf("netem: parse tc -j output of %s: %w", dev, err)
		}
		for _, q := range qs {
			ports, ok := groups[q.Handle]
			if q.Kind != "netem" || !ok {
				continue
			}
			k := fmt.Sprint(ports)
			c := byPorts[k]
			if c == nil {
				c = &Counter{Ports: ports}
				byPorts[k] = c
			}
			c.Matched += q.Packets + q.Drops
			c.Dropped += q.Drops
		}
	}
	var cs []Counter
	for _, k := range slices.Sorted(maps.Keys(byPorts)) {
		cs = append(cs, *byPorts[k])
	}
	return cs, nil
}
