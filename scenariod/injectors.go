package scenariod

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// injector makes one kind of fault on every path (proxy) of its targets.
// faultSet picks one per fault (faultSet.injector) and never switches on a
// fault's kind itself.
type injector interface {
	// name and fidelity are what the manifest records.
	name() string
	fidelity(f fault.Fault) string
	// put makes f happen and returns when each path got it, by proxy
	// name. It is idempotent, so it also re-applies.
	put(ctx context.Context, f fault.Fault) (map[string]time.Time, error)
	// take removes f and returns when each path lost it.
	take(ctx context.Context, f fault.Fault) (map[string]time.Time, error)
	// clean removes whatever this injector may have left, bookkeeping aside.
	clean(ctx context.Context) error
	// dirt lists what this injector left that is not clean.
	dirt(ctx context.Context) ([]string, error)
}

// toxicInjector makes faults as toxiproxy toxics on every path: latency,
// reset, blackhole, bandwidth, slicer, and packet loss emulated per
// connection. It also owns the cleanliness of the proxies themselves.
type toxicInjector struct{ fs *faultSet }

func (toxicInjector) name() string { return manifest.InjectorToxiproxy }

func (toxicInjector) fidelity(f fault.Fault) string {
	if f.Kind == fault.KindPacketLoss {
		return manifest.FidelityPerConnection
	}
	return manifest.FidelityExact
}

func (i toxicInjector) put(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	x, _ := fault.Toxic(f.Params)
	at, err := i.fs.onPaths(f.Targets, func(p inject.Proxy) error { return i.fs.tp.AddToxic(ctx, p.Name, x) })
	if err != nil {
		return at, fmt.Errorf("%s: %w", f.Kind, err)
	}
	return at, nil
}

func (i toxicInjector) take(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	x, _ := fault.Toxic(f.Params)
	return i.fs.onPaths(f.Targets, func(p inject.Proxy) error { return i.fs.tp.RemoveToxic(ctx, p.Name, x.Name) })
}

// clean re-creates lost proxies, then resets toxiproxy: no toxic, every
// proxy enabled (so it cleans server-down faults too).
func (i toxicInjector) clean(ctx context.Context) error {
	if _, err := i.fs.syncProxies(ctx); err != nil {
		return err
	}
	return i.fs.tp.Reset(ctx)
}

func (i toxicInjector) dirt(ctx context.Context) ([]string, error) {
	have, err := i.fs.tp.Proxies(ctx)
	if err != nil {
		return nil, err
	}
	var d []string
	for _, name := range slices.Sorted(maps.Keys(i.fs.proxies)) {
		p, ok := have[name]
		switch {
		case !ok:
			d = append(d, "proxy "+name+" missing")
		case !p.Enabled:
			d = append(d, "proxy "+name+" disabled")
		case len(p.Toxics) > 0:
			d = append(d, fmt.Sprintf("proxy %s has %d toxics", name, len(p.Toxics)))
		}
	}
	return d, nil
}

// downInjector takes a server down by disabling every path's proxy
// (connections refused and cut). toxicInjector cleans after it.
type downInjector struct{ fs *faultSet }

func (downInjector) name() string                { return manifest.InjectorToxiproxy }
func (downInjector) fidelity(fault.Fault) string { return manifest.FidelityExact }

func (i downInjector) put(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	at, err := i.fs.onPaths(f.Targets, func(p inject.Proxy) error { return i.fs.tp.SetEnabled(ctx, p.Name, false) })
	if err != nil {
		return at, fmt.Errorf("server down: %w", err)
	}
	return at, nil
}

func (i downInjector) take(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	return i.fs.onPaths(f.Targets, func(p inject.Proxy) error { return i.fs.tp.SetEnabled(ctx, p.Name, true) })
}

func (downInjector) clean(context.Context) error            { return nil }
func (downInjector) dirt(context.Context) ([]string, error) { return nil, nil }

// netfilterInjector drops real packets on every path's port: one nftables
// transaction holds every active loss fault, so all arms change at once.
type netfilterInjector struct{ fs *faultSet }

func (netfilterInjector) name() string                { return manifest.InjectorNetfilter }
func (netfilterInjector) fidelity(fault.Fault) string { return manifest.FidelityPerPacket }

func (i netfilterInjector) put(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	err := i.fs.syncNetfilter(ctx)
	return i.fs.allAt(f.Targets, time.Now()), err
}

func (i netfilterInjector) take(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	// No drop at all means the traffic does not pass this host's loopback
	// (a proxy inside a container) or there was no traffic.
	if n, err := i.fs.nf.Dropped(ctx); err == nil && n == 0 {
		i.fs.logf("WARNING: netfilter dropped no packet during the %s fault on %s: no traffic, or it does not pass this host's loopback (then use -loss-injector toxiproxy)", f.Kind, strings.Join(f.Targets, "+"))
	}
	err := i.fs.syncNetfilter(ctx)
	return i.fs.allAt(f.Targets, time.Now()), err
}

func (i netfilterInjector) clean(ctx context.Context) error { return i.fs.nf.Clear(ctx) }

func (i netfilterInjector) dirt(ctx context.Context) ([]string, error) {
	ok, err := i.fs.nf.Exists(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return []string{"nftables table " + i.fs.nf.Table + " present"}, nil
}

// processInjector kills a server's memcached (every path loses it at once)
// and starts it again on removal.
type processInjector struct{ fs *faultSet }

func (processInjector) name() string                { return manifest.InjectorProcess }
func (processInjector) fidelity(fault.Fault) string { return manifest.FidelityExact }

func (i processInjector) put(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	fs := i.fs
	for _, t := range f.Targets {
		fs.mu.Lock()
		fs.killed[t] = true
		fs.mu.Unlock()
		if err := fs.proc.Kill(ctx, t, fs.proxies[t].Upstream); err != nil {
			return nil, err
		}
	}
	return fs.allAt(f.Targets, time.Now()), nil
}

func (i processInjector) take(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	err := i.fs.restartKilled(ctx)
	return i.fs.allAt(f.Targets, time.Now()), err
}

func (i processInjector) clean(ctx context.Context) error { return i.fs.restartKilled(ctx) }

func (i processInjector) dirt(context.Context) ([]string, error) {
	fs := i.fs
	var d []string
	fs.mu.Lock()
	for t := range fs.killed {
		d = append(d, "process "+t+" down")
	}
	fs.mu.Unlock()
	if fs.proc.Dir != "" {
		seen := map[string]bool{} // every arm's proxy of a server has its upstream
		for _, name := range slices.Sorted(maps.Keys(fs.proxies)) {
			up := fs.proxies[name].Upstream
			if seen[up] {
				continue
			}
			seen[up] = true
			if c, err := net.DialTimeout("tcp", up, dialTimeout); err != nil {
				d = append(d, "memcached "+name+" not accepting connections at "+up)
			} else {
				c.Close()
			}
		}
	}
	return d, nil
}
