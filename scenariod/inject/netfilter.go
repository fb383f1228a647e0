package inject

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// DefaultTable is the nftables table Netfilter owns when none is given.
// bench gives each run its own (RunTable): a table is deleted whole, so
// two runs sharing one would remove each other's faults.
const DefaultTable = "mcchaos"

// RunTable is the nftables table of the run whose key (stack.RunKey, hex
// digits) is given: "mcchaos_<key>". Stale-state cleanup finds a dead
// run's table by the same name.
func RunTable(key string) string { return DefaultTable + "_" + key }

// ErrNetfilterUnavailable is returned (wrapped) by Netfilter.Available when
// this machine cannot drop packets with nftables: not Linux, no nft binary,
// or no permission (CAP_NET_ADMIN).
var ErrNetfilterUnavailable = errors.New("netfilter unavailable")

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)

// Netfilter drops a share of the TCP packets to and from given loopback
// ports, independently per packet (nftables `numgen random`), so a 10 % loss
// is a 10 % loss on every connection, as on a real lossy link. All its rules
// live in one table of its own (family inet, so IPv4 and IPv6), which it
// replaces atomically on every change and deletes to clear; it never touches
// another table.
//
// It drives the nft command rather than netlink (github.com/google/nftables):
// nft is what the "is netfilter usable here" check needs anyway, it applies a
// whole script as one transaction, and its script is what a person types to
// see or undo what was done (`nft list table inet mcchaos`). Methods are safe
// for concurrent use only in the sense that each call is one nft transaction.
type Netfilter struct {
	// Table is the nftables table name (family inet). If empty, DefaultTable.
	Table string
	// Timeout bounds one nft invocation. If zero, 15 s: on a 2-core machine under load, nft waited more than 5 s for the kernel (seen while tests of other tables ran).
	Timeout time.Duration
	// Interface is the input interface whose packets the rules see. If
	// empty, "lo": the client's own connection to a proxy on this host.
	Interface string
	// Command runs nft. If empty, {"nft"}. An unprivileged process cannot
	// pass CAP_NET_ADMIN from its own file capabilities to the nft it
	// runs (they do not survive execve), so where only sudo grants it,
	// {"sudo", "-n", "nft"}; or give nft itself the capability
	// (setcap cap_net_admin+ep $(command -v nft)).
	Command []string
}

func (n *Netfilter) command() []string {
	if len(n.Command) == 0 {
		return []string{"nft"}
	}
	return n.Command
}

func (n *Netfilter) iface() string {
	if n.Interface == "" {
		return "lo"
	}
	return n.Interface
}

func (n *Netfilter) table() string {
	if n.Table == "" {
		return DefaultTable
	}
	return n.Table
}

// ValidTable reports an error if name cannot be an nftables table name.
func ValidTable(name string) error {
	if !tableName.MatchString(name) {
		return fmt.Errorf("nftables table name %q: want letters, digits and _, starting with a letter, at most 32", name)
	}
	return nil
}

func (n *Netfilter) nft(ctx context.Context, stdin string, args ...string) (string, error) {
	out, errOut, err := runTool(ctx, cmp.Or(n.Timeout, 15*time.Second), append(slices.Clone(n.command()), args...), stdin)
	if err != nil {
		return "", fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut))
	}
	return out, nil
}

// runTool runs argv with stdin (if any) under timeout and returns its
// stdout and stderr: the one way nft and tc are run.
func runTool(ctx context.Context, timeout time.Duration, argv []string, stdin string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Available reports nil if this machine can apply Netfilter rules, else an
// error wrapping ErrNetfilterUnavailable that says why. It creates and
// deletes the (empty) table to prove the permission.
func (n *Netfilter) Available(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: not Linux (%s)", ErrNetfilterUnavailable, runtime.GOOS)
	}
	if err := ValidTable(n.table()); err != nil {
		return fmt.Errorf("%w: %v", ErrNetfilterUnavailable, err)
	}
	if _, err := exec.LookPath(n.command()[0]); err != nil {
		return fmt.Errorf("%w: %s not found (Debian: apt-get install nftables)", ErrNetfilterUnavailable, n.command()[0])
	}
	if err := n.Clear(ctx); err != nil {
		return fmt.Errorf("%w: %v (needs root or CAP_NET_ADMIN)", ErrNetfilterUnavailable, err)
	}
	return nil
}

// Script returns the nft script that makes the table drop loss[port] percent
// of the TCP packets to and from each port arriving on the interface. A port
// with loss 0 is only counted, never dropped (a healthy server watched for a
// leak). An empty map gives a script that only deletes the table.
//
// Every port gets two counters per direction, told apart by their rule
// comments: "matched" counts every packet of the port, "dropped" those the
// drop rule took; Counters reads them.
func (n *Netfilter) Script(loss map[int]float64) string {
	t := n.table()
	var b strings.Builder
	// "add" then "delete" removes the table whether or not it existed, in the
	// same transaction as the new definition.
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", t, t)
	if len(loss) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "table inet %s {\n\tchain loss {\n\t\ttype filter hook input priority -150; policy accept;\n", t)
	for _, port := range slices.Sorted(maps.Keys(loss)) {
		// The input hook sees every loopback packet exactly once, so one
		// draw per packet and direction.
		cond := fmt.Sprintf("numgen random mod 10000 < %d ", int(math.Round(loss[port]*100)))
		if loss[port] >= 100 {
			cond = ""
		}
		for _, dir := range []string{"dport", "sport"} {
			match := fmt.Sprintf("iifname %q tcp %s %d ", n.iface(), dir, port)
			fmt.Fprintf(&b, "\t\t%scounter comment \"%s %d\"\n", match, counterMatched, port)
			if loss[port] > 0 {
				fmt.Fprintf(&b, "\t\t%s%scounter drop comment \"%s %d\"\n", match, cond, counterDropped, port)
			}
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// Rule comments of the two counters of a port.
const (
	counterMatched = "matched"
	counterDropped = "dropped"
)

// SetLoss replaces the table's rules by loss (port → percent, 0 ≤ pct ≤ 100;
// 0 counts without dropping) in one transaction. An empty map deletes the table.
func (n *Netfilter) SetLoss(ctx context.Context, loss map[int]float64) error {
	for port, pct := range loss {
		if pct < 0 || pct > 100 || port <= 0 || port > 65535 {
			return fmt.Errorf("netfilter: bad loss %v%% on port %d", pct, port)
		}
	}
	if _, err := n.nft(ctx, n.Script(loss), "-f", "-"); err != nil {
		return fmt.Errorf("netfilter: %w", err)
	}
	return nil
}

// Clear deletes the table if it exists.
func (n *Netfilter) Clear(ctx context.Context) error { return n.SetLoss(ctx, nil) }

// Exists reports whether the table exists (any rule of ours is in place).
func (n *Netfilter) Exists(ctx context.Context) (bool, error) {
	out, err := n.nft(ctx, "", "list", "tables")
	if err != nil {
		return false, fmt.Errorf("netfilter: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "table inet "+n.table() {
			return true, nil
		}
	}
	return false, nil
}

// Counter is what a loss injector saw on a group of ports since its rules
// were last replaced: Matched packets of those ports, of which Dropped were
// dropped. Netfilter gives one Counter per port.
type Counter struct {
	Ports   []int `json:"ports"`
	Matched int64 `json:"matched"`
	Dropped int64 `json:"dropped"`
}

// Counters returns the counters of the table's rules, one per port in
// ascending order; none (and no error) when the table does not exist.
func (n *Netfilter) Counters(ctx context.Context) ([]Counter, error) {
	out, err := n.nft(ctx, "", "-j", "list", "table", "inet", n.table())
	if err != nil {
		// One nft call per check: a missing table is this error, not a
		// prior "list tables".
		if strings.Contains(err.Error(), "No such file or directory") {
			return nil, nil
		}
		return nil, fmt.Errorf("netfilter: %w", err)
	}
	return parseCounters([]byte(out))
}

// parseCounters sums the counters of `nft -j list table` by the port and
// kind their rule comments name.
func parseCounters(js []byte) ([]Counter, error) {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Comment string `json:"comment"`
				Expr    []struct {
					Counter *struct {
						Packets int64 `json:"packets"`
					} `json:"counter"`
				} `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("netfilter: parse nft -j output: %w", err)
	}
	byPort := map[int]*Counter{}
	for _, o := range doc.Nftables {
		if o.Rule == nil {
			continue
		}
		var kind string
		var port int
		if _, err := fmt.Sscanf(o.Rule.Comment, "%s %d", &kind, &port); err != nil {
			continue // not a rule of ours
		}
		c := byPort[port]
		if c == nil {
			c = &Counter{Ports: []int{port}}
			byPort[port] = c
		}
		for _, e := range o.Rule.Expr {
			if e.Counter == nil {
				continue
			}
			switch kind {
			case counterMatched:
				c.Matched += e.Counter.Packets
			case counterDropped:
				c.Dropped += e.Counter.Packets
			}
		}
	}
	var cs []Counter
	for _, p := range slices.Sorted(maps.Keys(byPort)) {
		cs = append(cs, *byPort[p])
	}
	return cs, nil
}

// Dropped returns how many packets the table's rules have dropped since
// they were last replaced; 0 when the table does not exist.
func (n *Netfilter) Dropped(ctx context.Context) (int64, error) {
	cs, err := n.Counters(ctx)
	var total int64
	for _, c := range cs {
		total += c.Dropped
	}
	return total, err
}
