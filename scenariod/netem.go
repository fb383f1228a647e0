package scenariod

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// netemInjector drops real packets with netem in toxiproxy's network
// namespace (the compose stack's helper container), for a stack whose
// published ports this host's netfilter does not see. Like netfilter, one
// SetLoss holds every active loss fault, so all arms change at once.
type netemInjector struct{ fs *faultSet }

func (netemInjector) name() string                { return inject.InjectorNetem }
func (netemInjector) fidelity(fault.Fault) string { return manifest.FidelityPerPacket }

func (i netemInjector) put(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	err := i.fs.syncNetem(ctx)
	return i.fs.allAt(f.Targets, time.Now()), err
}

func (i netemInjector) take(ctx context.Context, f fault.Fault) (map[string]time.Time, error) {
	err := i.fs.syncNetem(ctx)
	return i.fs.allAt(f.Targets, time.Now()), err
}

func (i netemInjector) clean(ctx context.Context) error { return i.fs.netem.Clear(ctx) }

func (i netemInjector) dirt(ctx context.Context) ([]string, error) {
	ok, err := i.fs.netem.Active(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return []string{"netem rules present in toxiproxy's namespace"}, nil
}

// syncNetem makes netem hold exactly the active loss faults.
func (fs *faultSet) syncNetem(ctx context.Context) error {
	loss, err := fs.lossPorts(inject.InjectorNetem)
	if err != nil {
		return err
	}
	return fs.netem.SetLoss(ctx, loss)
}

// useNetem proves that netem through exec sees the traffic to the first
// proxy as clients dial it, and makes it the packet loss injector.
func (r *Runner) useNetem(ctx context.Context, exec []string) error {
	nm := &inject.Netem{Exec: exec}
	if len(nm.Exec) == 0 {
		nm.Exec = inject.ComposeNetemExec
	}
	names := slices.Sorted(maps.Keys(r.faults.proxies))
	if len(names) == 0 {
		return errNoProxies
	}
	addr := efficacy.DialAddr(r.faults.proxies[names[0]].Listen, r.cfg.Toxiproxy.Host())
	if err := efficacy.Reaches(ctx, nm, addr); err != nil {
		return err
	}
	r.faults.netem = nm
	return nil
}
