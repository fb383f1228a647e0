package scenariod

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// ErrDirtyState is returned (wrapped) when the faults of a scenario cannot
// be proven gone: a run stops rather than measure on a faulted stack.
var ErrDirtyState = errors.New("scenariod: stack state is not clean")

// applied is a fault in place, with how it was made.
type applied struct {
	f        fault.Fault
	injector string
}

// faultSet applies and removes faults and proves the state clean. It
// remembers the proxies as they were at the start so it can re-create them
// on a toxiproxy that restarted. It is safe for concurrent use (the runner
// and a forced cleanup on a second signal).
type faultSet struct {
	tp       *inject.Toxiproxy
	nf       *inject.Netfilter // nil: netfilter not used
	netem    *inject.Netem     // nil: netem not used; else it makes packet loss
	proc     *inject.Process
	lossNF   bool                    // packet loss through netfilter
	proxies  map[string]inject.Proxy // definitions at start, by name
	server   map[string]string       // each proxy's server, by proxy name
	metrics  *Metrics
	logf     func(format string, args ...any)
	mu       sync.Mutex
	active   []applied
	killed   map[string]bool // servers whose process is down by our hand
	restarts int             // toxiproxy restarts noticed
}

// injectorFor returns the name and fidelity of the injector a fault will use.
func (fs *faultSet) injectorFor(f fault.Fault) (string, string) {
	inj := fs.injector(f)
	return inj.name(), inj.fidelity(f)
}

// injector returns the one injector that makes f.
func (fs *faultSet) injector(f fault.Fault) injector {
	switch {
	case f.Kind == fault.KindPacketLoss && fs.netem != nil:
		return netemInjector{fs}
	case f.Kind == fault.KindPacketLoss && fs.lossNF:
		return netfilterInjector{fs}
	case f.Kind == fault.KindProcessKill:
		return processInjector{fs}
	case f.Kind == fault.KindServerDown:
		return downInjector{fs}
	}
	return toxicInjector{fs}
}

// injectorNamed returns the injector recorded under name for f (the one
// that applied it, even if the choice would differ now).
func (fs *faultSet) injectorNamed(name string, f fault.Fault) injector {
	switch name {
	case manifest.InjectorNetfilter:
		return netfilterInjector{fs}
	case inject.InjectorNetem:
		return netemInjector{fs}
	}
	return fs.injector(f)
}

// apply puts f in place on every target's paths and returns when each
// path got it, by proxy name.
func (fs *faultSet) apply(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	inj, _ := fs.injectorFor(f)
	fs.mu.Lock()
	fs.active = append(fs.active, applied{f: f, injector: inj})
	fs.mu.Unlock()
	fs.setMetrics(f, inj, true)
	return fs.put(ctx, f, inj)
}

// paths returns the proxies in front of server: the server's own proxy
// ("mc1") and the plan's arms' proxies to it ("mc1.head.1", ...), sorted
// by name. A fault on a server is a fault on all of them, so every arm
// sees it.
func (fs *faultSet) paths(server string) []inject.Proxy {
	var ps []inject.Proxy
	for _, name := range slices.Sorted(maps.Keys(fs.proxies)) {
		if fs.server[name] == server {
			ps = append(ps, fs.proxies[name])
		}
	}
	return ps
}

// onPaths calls do on every path of every target concurrently (one
// toxiproxy call each, so every arm gets the fault at the same instant)
// and returns when each call returned, by proxy name.
func (fs *faultSet) onPaths(targets []string, do func(p inject.Proxy) error) (map[string]time.Time, error) {
	var ps []inject.Proxy
	for _, t := range targets {
		ps = append(ps, fs.paths(t)...)
	}
	times := make([]time.Time, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			if err := do(p); err != nil {
				errs[i] = fmt.Errorf("%s: %w", p.Name, err)
			}
			times[i] = time.Now()
		})
	}
	wg.Wait()
	at := make(map[string]time.Time, len(ps))
	for i, p := range ps {
		at[p.Name] = times[i]
	}
	return at, errors.Join(errs...)
}

// allAt returns the same time for every path of targets: one netfilter
// transaction or one process fault changes them all at once.
func (fs *faultSet) allAt(targets []string, t time.Time) map[string]time.Time {
	at := map[string]time.Time{}
	for _, s := range targets {
		for _, p := range fs.paths(s) {
			at[p.Name] = t
		}
	}
	return at
}

// put makes f happen; it is idempotent, so it also re-applies.
func (fs *faultSet) put(ctx context.Context, f fault.Fault, inj string) (map[string]time.Time, error) {
	return fs.injectorNamed(inj, f).put(ctx, f)
}

// remove takes f away from every target's paths and returns when each path
// lost it, by proxy name.
func (fs *faultSet) remove(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	fs.mu.Lock()
	inj := ""
	fs.active = slices.DeleteFunc(fs.active, func(a applied) bool {
		if a.f.Kind == f.Kind && slices.Equal(a.f.Targets, f.Targets) {
			inj = a.injector
			return true
		}
		return false
	})
	fs.mu.Unlock()
	if inj == "" {
		inj, _ = fs.injectorFor(f)
	}
	at, err := fs.injectorNamed(inj, f).take(ctx, f)
	if err != nil {
		return at, fmt.Errorf("remove %s: %w", f.Kind, err)
	}
	fs.setMetrics(f, inj, false)
	return at, nil
}

// syncNetfilter makes the netfilter table hold exactly the active loss faults.
func (fs *faultSet) syncNetfilter(ctx context.Context) error {
	loss, err := fs.lossPorts(manifest.InjectorNetfilter)
	if err != nil {
		return err
	}
	return fs.nf.SetLoss(ctx, loss)
}

// lossPorts returns port → loss percent for the active loss faults made by
// the injector named inj, on every path of their targets, plus every other
// proxy port with 0 (counted, never dropped) when there is any.
func (fs *faultSet) lossPorts(inj string) (map[int]float64, error) {
	var faults []manifest.Fault
	fs.mu.Lock()
	for _, a := range fs.active {
		if a.injector == inj {
			faults = append(faults, manifest.Fault{Fault: a.f, Made: manifest.Made{Injector: inj}})
		}
	}
	fs.mu.Unlock()
	return efficacy.LossPorts(efficacy.ServersOf(fs.proxies, fs.server), faults)
}

// restartKilled starts again every process we killed.
func (fs *faultSet) restartKilled(ctx context.Context) error {
	fs.mu.Lock()
	names := slices.Sorted(maps.Keys(fs.killed))
	fs.mu.Unlock()
	var errs []error
	for _, t := range names {
		if err := fs.proc.Restart(ctx, t, fs.proxies[t].Upstream); err != nil {
			errs = append(errs, err)
			continue
		}
		fs.mu.Lock()
		delete(fs.killed, t)
		fs.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (fs *faultSet) setMetrics(f fault.Fault, inj string, on bool) {
	if fs.metrics == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	for _, t := range f.Targets {
		fs.metrics.FaultActive.WithLabelValues(t, string(f.Kind), inj).Set(v)
		for _, x := range fault.Values(f.Params) {
			fs.metrics.FaultValue.WithLabelValues(t, string(f.Kind), x.Key).Set(x.V * v)
		}
	}
}

// clearAll removes every fault whatever the bookkeeping says, each injector
// concurrently so a dead toxiproxy cannot hold up the netfilter cleanup.
func (fs *faultSet) clearAll(ctx context.Context) error {
	cleaners := fs.cleaners()
	errs := make([]error, len(cleaners))
	var wg sync.WaitGroup
	for i, c := range cleaners {
		wg.Go(func() { errs[i] = c.clean(ctx) })
	}
	wg.Wait()
	fs.mu.Lock()
	act := fs.active
	fs.active = nil
	fs.mu.Unlock()
	for _, a := range act {
		fs.setMetrics(a.f, a.injector, false)
	}
	return errors.Join(errs...)
}

// cleaners are the injectors that own state to clean: toxiproxy's (toxics
// and disabled proxies alike), netfilter's when it is used, the process
// fault's.
func (fs *faultSet) cleaners() []injector {
	cs := []injector{toxicInjector{fs}, processInjector{fs}}
	if fs.nf != nil {
		cs = append(cs, netfilterInjector{fs})
	}
	if fs.netem != nil {
		cs = append(cs, netemInjector{fs})
	}
	return cs
}

// syncProxies re-creates any proxy of the start that toxiproxy no longer
// has (it restarted), and reports whether it had to.
func (fs *faultSet) syncProxies(ctx context.Context) (bool, error) {
	have, err := fs.tp.Proxies(ctx)
	if err != nil {
		return false, err
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(fs.proxies)) {
		if _, ok := have[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	fs.mu.Lock()
	fs.restarts++
	fs.mu.Unlock()
	fs.logf("toxiproxy lost proxies %s (restarted?): re-creating them", strings.Join(missing, ", "))
	for _, name := range missing {
		if err := fs.tp.CreateProxy(ctx, fs.proxies[name]); err != nil {
			return true, fmt.Errorf("re-create proxy %s: %w", name, err)
		}
	}
	return true, nil
}

// reapply puts every active toxiproxy fault in place again (after a
// toxiproxy restart lost them).
func (fs *faultSet) reapply(ctx context.Context) error {
	fs.mu.Lock()
	act := slices.Clone(fs.active)
	fs.mu.Unlock()
	var errs []error
	for _, a := range act {
		if a.injector == manifest.InjectorToxiproxy {
			_, err := fs.put(ctx, a.f, a.injector)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dirt describes what is not clean, or "" when all is.
func (fs *faultSet) dirt(ctx context.Context) (string, error) {
	var d []string
	for _, c := range fs.cleaners() {
		more, err := c.dirt(ctx)
		if err != nil {
			return "", err
		}
		d = append(d, more...)
	}
	return strings.Join(d, "; "), nil
}

// ensureClean proves the state clean, cleaning once if it is not.
func (fs *faultSet) ensureClean(ctx context.Context) error {
	d, err := fs.dirt(ctx)
	if err == nil && d == "" {
		return nil
	}
	if err := fs.clearAll(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: %v", ErrDirtyState, err)
	}
	if d, err = fs.dirt(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrDirtyState, err)
	}
	if d != "" {
		return fmt.Errorf("%w after cleaning: %s", ErrDirtyState, d)
	}
	return nil
}
