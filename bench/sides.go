package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/stack"
)

// Side is one side of a run: a loadgen binary and its flags, run as k arms.
type Side struct {
	Name    string   // manifest.SideHead or manifest.SideBase
	Loadgen string   // the loadgen binary
	Args    []string // extra loadgen flags, parsed once by `loadgen -check`
	Ref     string   // the git ref it was built from ("" for this checkout)
	Commit  string
}

// client returns the -client the side's flags ask for, or "" for the default.
func (s Side) client() string {
	for i, a := range s.Args {
		switch {
		case a == "-client" && i+1 < len(s.Args):
			return s.Args[i+1]
		case strings.HasPrefix(a, "-client="):
			return strings.TrimPrefix(a, "-client=")
		}
	}
	return ""
}

// loadgenFlags is one arm's loadgen command line: each field one flag of
// cmd/loadgen, then the side's own flags (later flags win).
type loadgenFlags struct {
	Listen      string  // -listen
	Servers     string  // -servers
	KeyPrefix   string  // -key-prefix
	Rate        float64 // -rate (0: closed loop)
	Concurrency int     // -concurrency
	Extra       []string
}

// Flags returns the command line.
func (f loadgenFlags) Flags() []string {
	args := []string{"-listen", f.Listen, "-servers", f.Servers, "-key-prefix", f.KeyPrefix,
		"-concurrency", strconv.Itoa(f.Concurrency)}
	if f.Rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(f.Rate, 'f', -1, 64))
	}
	return append(args, f.Extra...)
}

// arm is one client instance: what the plan says of it, its side's
// binary and flags, and its loadgen once started.
type arm struct {
	plan.Arm
	side *Side
	proc *stack.Process
}

// flags is the arm's loadgen command line, from the plan.
func (a *arm) flags(prof profile.Profile) loadgenFlags {
	return loadgenFlags{Listen: a.Listen, Servers: a.Servers(), KeyPrefix: a.KeyPrefix, Rate: prof.Rate, Concurrency: prof.Concurrency, Extra: a.side.Args}
}

// checkLoadgen has a side's loadgen parse its flags (`-check`) before
// anything starts, so a typo in -loadgen-args costs no run.
func checkLoadgen(s Side) error {
	out, err := exec.Command(s.Loadgen, append([]string{"-check"}, s.Args...)...).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "flag provided but not defined: -check") {
			return &UsageError{fmt.Errorf("the %s side's loadgen (%s) predates paired runs (no -check, -key-prefix): pick a ref that has them", s.Name, refOr(s))}
		}
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return &UsageError{fmt.Errorf("%s side's loadgen flags %q: %s", s.Name, strings.Join(s.Args, " "), msg)}
	default:
		return fmt.Errorf("bench: run %s -check: %w", s.Loadgen, err)
	}
}

func refOr(s Side) string {
	if s.Ref != "" {
		return s.Ref
	}
	return "this checkout"
}

// resolveRef returns the commit a git ref names, as a usage error when it
// names none.
func resolveRef(ref string) (string, error) {
	out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
	if err != nil {
		return "", &UsageError{fmt.Errorf("-base %s: not a commit in this repository (git rev-parse found nothing)", ref)}
	}
	return strings.TrimSpace(string(out)), nil
}

// buildBase checks commit out in a worktree under dir and builds its
// loadgen there. remove deletes the worktree (and its git bookkeeping); it
// is safe to call more than once and after a failed build.
func buildBase(ctx context.Context, commit, dir string, say func(string, ...any)) (bin string, remove func(), err error) {
	// Absolute: the build runs in the worktree, a relative -o would land there.
	if dir, err = filepath.Abs(dir); err != nil {
		return "", func() {}, fmt.Errorf("bench: %w", err)
	}
	src := filepath.Join(dir, "src")
	var once sync.Once
	remove = func() {
		once.Do(func() {
			exec.Command("git", "worktree", "remove", "--force", src).Run()
			os.RemoveAll(src)
			exec.Command("git", "worktree", "prune").Run()
		})
	}
	if out, err := exec.CommandContext(ctx, "git", "worktree", "add", "--detach", src, commit).CombinedOutput(); err != nil {
		return "", remove, fmt.Errorf("bench: git worktree add %s: %w\n%s", commit, err, out)
	}
	bin = filepath.Join(dir, "bin", "loadgen")
	say("building the base side's loadgen at %.12s in %s", commit, src)
	start := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/loadgen")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", remove, fmt.Errorf("bench: build the base side's loadgen at %.12s: %w\n%s", commit, err, out)
	}
	say("base side built in %s", time.Since(start).Round(time.Second))
	return bin, remove, nil
}

// startArms starts every arm's loadgen, its argv built from the plan, and
// waits until each serves metrics.
func startArms(ctx context.Context, prof profile.Profile, arms []*arm, logDir string, say func(string, ...any)) error {
	for _, a := range arms {
		p, err := startChild("loadgen "+a.Name(), a.side.Loadgen, a.flags(prof).Flags(), filepath.Join(logDir, "loadgen-"+a.Name()+".log"), nil)
		if err != nil {
			return err
		}
		a.proc = p
	}
	// Ready means loading with every breaker closed: every arm has preloaded
	// its keys and no start-up surge left a breaker open, so the first
	// scenario's stabilization is measured under the full load.
	for _, a := range arms {
		if err := waitHTTP(ctx, "http://"+a.Listen+"/ready", a.proc, 60*time.Second); err != nil {
			return fmt.Errorf("bench: loadgen %s did not start: %w", a.Name(), err)
		}
	}
	say("%d loadgen arms started (%s)", len(arms), armSummary(arms))
	return nil
}

// stopArms stops every arm at once.
func stopArms(arms []*arm, grace time.Duration) {
	var wg sync.WaitGroup
	for _, a := range arms {
		if a.proc != nil {
			wg.Go(func() { a.proc.Stop(grace) })
		}
	}
	wg.Wait()
}

func armSummary(arms []*arm) string {
	n := map[string]int{}
	var order []string
	for _, a := range arms {
		if n[a.Side] == 0 {
			order = append(order, a.Side)
		}
		n[a.Side]++
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s ×%d", s, n[s]))
	}
	return strings.Join(parts, ", ")
}

// planned returns the sides as the plan records them, each with k arms.
func planned(sides []*Side, k int) []plan.Side {
	var out []plan.Side
	for _, s := range sides {
		out = append(out, plan.Side{Name: s.Name, Arms: k, Client: cmp.Or(s.client(), "ours"), Ref: s.Ref, Commit: s.Commit, Args: s.Args})
	}
	return out
}

// planSides returns the run's sides: head, and base when the run is
// paired (Base, AA or BaseArgs). Each side's flags are checked by its
// loadgen before anything starts (the base side's once it is built).
func planSides(cfg Config, loadgen string) ([]*Side, error) {
	head := &Side{Name: manifest.SideHead, Loadgen: loadgen, Args: cfg.LoadgenArgs, Commit: shortCommit(cfg.commit)}
	if err := checkLoadgen(*head); err != nil {
		return nil, err
	}
	sides := []*Side{head}
	if cfg.Base == "" && !cfg.AA && cfg.BaseArgs == nil {
		return sides, nil
	}
	base := &Side{Name: manifest.SideBase, Loadgen: loadgen, Args: cfg.BaseArgs, Commit: head.Commit}
	if base.Args == nil {
		base.Args = cfg.LoadgenArgs
	}
	if cfg.Base != "" {
		commit, err := resolveRef(cfg.Base)
		if err != nil {
			return nil, err
		}
		base.Ref, base.Commit, base.Loadgen = cfg.Base, commit, "" // built once the run directory exists
	} else if err := checkLoadgen(*base); err != nil {
		return nil, err
	}
	return append(sides, base), nil
}

// planArms gives every arm of every side its key prefix and exporter
// address; planProxies gives them their proxies. The arms come back in a
// random order drawn from seed, interleaving the sides: ports are handed
// out, proxies created and processes started in that order, so that
// whatever a place in it does to an arm (a port, a proxy created first, a
// process started last) falls on either side by chance, and the arms of a
// side are exchangeable with the other's.
func planArms(cfg Config, k int, sides []*Side, listenHost string, seed uint64) ([]*arm, error) {
	ports, err := stack.FreePortList(len(sides) * k)
	if err != nil {
		return nil, err
	}
	var arms []*arm
	for _, s := range sides {
		for n := 1; n <= k; n++ {
			arms = append(arms, &arm{side: s, Arm: plan.Arm{Side: s.Name, Num: n, KeyPrefix: fmt.Sprintf("%s%d:", s.Name, n)}})
		}
	}
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(arms), func(i, j int) { arms[i], arms[j] = arms[j], arms[i] })
	scrapeHost := "127.0.0.1"
	if cfg.Stack != StackLocal {
		// The compose (or CI's external) Prometheus is in a container.
		scrapeHost = "host.docker.internal"
	}
	for i, a := range arms {
		port := strconv.Itoa(ports[i])
		a.Listen, a.Scrape = net.JoinHostPort(listenHost, port), net.JoinHostPort(scrapeHost, port)
	}
	return arms, nil
}

// planProxies gives every arm, in order, its own proxy to each server: on
// the local stack on free loopback ports; on a compose or external stack
// on the published ports from firstPort on, listening inside the container.
func planProxies(cfg Config, arms []*arm, firstPort int) error {
	n := len(arms) * len(fault.Servers)
	var ports []int
	host := "127.0.0.1"
	if cfg.Stack == StackLocal {
		// Free now, and none an arm's exporter port: those may be free
		// too while the loadgens are down (between stages).
		free, err := stack.FreePortList(n + len(arms))
		if err != nil {
			return err
		}
		exporters := map[string]bool{}
		for _, a := range arms {
			_, port, _ := net.SplitHostPort(a.Listen)
			exporters[port] = true
		}
		for _, p := range free {
			if !exporters[strconv.Itoa(p)] && len(ports) < n {
				ports = append(ports, p)
			}
		}
		if len(ports) < n {
			return fmt.Errorf("bench: %d free proxy ports, want %d", len(ports), n)
		}
	} else {
		host = "0.0.0.0"
		for i := range n {
			ports = append(ports, firstPort+i)
		}
	}
	for _, a := range arms {
		a.Proxies = nil
		for _, srv := range fault.Servers {
			a.Proxies = append(a.Proxies, plan.Proxy{Server: srv, Name: plan.ArmProxy(srv, a.Side, a.Num), Listen: net.JoinHostPort(host, strconv.Itoa(ports[0]))})
			ports = ports[1:]
		}
	}
	return nil
}

// planOf returns the plan's arms.
func planOf(arms []*arm) []plan.Arm {
	var out []plan.Arm
	for _, a := range arms {
		out = append(out, a.Arm)
	}
	return out
}
