package scenariod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// Defaults of Config.
const (
	// DefaultCleanupTimeout is the budget for removing every fault after an
	// interruption.
	DefaultCleanupTimeout = 5 * time.Second
	// DefaultWatchInterval is how often toxiproxy is checked during a phase.
	DefaultWatchInterval = time.Second
	// DefaultSetupTimeout bounds reaching toxiproxy and cleaning at the start.
	DefaultSetupTimeout = 15 * time.Second
)

// Loss injector choices of Config.LossInjector.
const (
	LossAuto      = "auto"
	LossNetfilter = manifest.InjectorNetfilter
	LossToxiproxy = manifest.InjectorToxiproxy
	// LossNetem: netem in toxiproxy's network namespace through
	// Config.NetemExec (the compose stack's helper container).
	LossNetem = inject.InjectorNetem
)

const dialTimeout = 300 * time.Millisecond

// Errors of Run, checked with errors.Is.
var (
	// ErrInterrupted: the context was cancelled (SIGINT/SIGTERM); every
	// fault was removed and the manifest says which scenario was cut short.
	ErrInterrupted = errors.New("scenariod: interrupted")
	// ErrSetup: the run could not start (toxiproxy unreachable, proxies
	// missing, netfilter asked for but unavailable, bad config).
	ErrSetup = errors.New("scenariod: cannot start")
	// ErrScenarioFailed: at least one scenario failed (a fault could not be
	// applied or removed); the others ran.
	ErrScenarioFailed = errors.New("scenariod: scenario failed")
)

// Config says what to run. Zero values mean the documented defaults.
type Config struct {
	// Plan gives the profile (phase lengths), the scenarios to run in
	// order (at least one), and the sides and arms whose proxies each fault
	// is put on (none: the servers' own proxies only). It goes into the
	// manifest.
	Plan plan.Plan
	// Toxiproxy is the toxiproxy API client (URL, timeouts, retries).
	Toxiproxy inject.Toxiproxy
	// LossInjector is LossAuto, LossNetfilter or LossToxiproxy. If empty,
	// LossAuto: netfilter when this is Linux with nft and the permission
	// to use it, toxiproxy is on this host's loopback and Stack is not
	// "compose" (whose proxies listen inside a container).
	LossInjector string
	// NetemExec is the command prefix that runs tc and ip in toxiproxy's
	// network namespace, for LossNetem. If nil, inject.ComposeNetemExec.
	NetemExec []string
	// NFTable is the nftables table of our rules. If empty, inject.DefaultTable.
	NFTable string
	// NFTCommand runs nft (inject.Netfilter.Command), e.g. {"sudo", "-n",
	// "nft"} where only sudo grants CAP_NET_ADMIN. If nil, nft.
	NFTCommand []string
	// StackDir is the local stack's directory (pid and argv files), needed
	// only by process faults.
	StackDir string
	// ManifestPath is where manifest.json goes. Required.
	ManifestPath string
	// RunID names the run. If empty, the start time as 20060102-150405.
	RunID string
	// Stack is recorded in the manifest ("local", "compose", "external").
	Stack string
	// Metrics receives scenario and fault metrics. If nil, none are kept.
	Metrics *Metrics
	// CleanupTimeout is the budget to remove every fault after an
	// interruption. If zero, DefaultCleanupTimeout.
	CleanupTimeout time.Duration
	// WatchInterval is how often toxiproxy is checked (and re-created after
	// a restart) during a phase. If zero, DefaultWatchInterval.
	WatchInterval time.Duration
	// OnEvent, if not nil, is called synchronously at every step of the
	// run, from the goroutine of Run. Progress display and tests hook here.
	OnEvent func(Event)
	// Log receives warnings (toxiproxy restarts, injector choice). If nil, discarded.
	Log io.Writer
}

// EventKind is what happened.
type EventKind int

// Event kinds, in the order they happen within a scenario.
const (
	EventScenarioStart EventKind = iota // state proven clean, about to start
	EventPhaseStart
	EventFaultApplied // testing phase: all faults in place
	EventFaultRemoved // testing phase: all faults gone
	EventPhaseEnd
	EventScenarioEnd
	EventManifestWritten
)

// Event is one step of a run.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Index    int // 1-based index of the scenario
	Total    int // number of scenarios
	Scenario string
	Phase    string        // for phase and fault events
	Planned  time.Duration // EventPhaseStart: the phase's planned length
	Left     time.Duration // EventPhaseStart: planned time left in the run, this phase included
	Status   string        // EventScenarioEnd
}

// Runner runs scenarios. Create it with NewRunner; Run once. Cleanup may be
// called from another goroutine at any time (a second signal).
type Runner struct {
	cfg      Config
	stopOnce sync.Once
	stopBy   time.Time // when the cleanup budget after a cancel runs out
	faults   *faultSet
	oracle   *efficacy.Oracle            // nil: efficacy not checked
	records  map[string]*efficacy.Record // the oracle's, by scenario
	m        *manifest.Manifest
	testLen  []time.Duration // planned testing length per scenario
}

// NewRunner checks cfg and returns a Runner. It does not touch the stack yet.
func NewRunner(cfg Config) (*Runner, error) {
	if len(cfg.Plan.Scenarios) == 0 {
		return nil, fmt.Errorf("%w: no scenarios", ErrSetup)
	}
	if cfg.ManifestPath == "" {
		return nil, fmt.Errorf("%w: no manifest path", ErrSetup)
	}
	if cfg.Plan.Profile.Name == "" {
		return nil, fmt.Errorf("%w: no profile", ErrSetup)
	}
	for i := range cfg.Plan.Scenarios {
		if err := cfg.Plan.Scenarios[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSetup, err)
		}
	}
	switch cfg.LossInjector {
	case "":
		cfg.LossInjector = LossAuto
	case LossAuto, LossNetfilter, LossToxiproxy, LossNetem:
	default:
		return nil, fmt.Errorf("%w: loss injector %q: want auto, netfilter, netem or toxiproxy", ErrSetup, cfg.LossInjector)
	}
	if cfg.NFTable == "" {
		cfg.NFTable = inject.DefaultTable
	}
	if err := inject.ValidTable(cfg.NFTable); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = DefaultCleanupTimeout
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	r := &Runner{cfg: cfg}
	r.faults = &faultSet{
		tp:      &r.cfg.Toxiproxy,
		proc:    &inject.Process{Dir: cfg.StackDir},
		metrics: cfg.Metrics,
		killed:  map[string]bool{},
		logf:    r.logf,
	}
	for _, s := range cfg.Plan.Scenarios {
		r.testLen = append(r.testLen, cfg.Plan.Profile.FaultTime(time.Duration(s.FaultTime), s.Fixed))
	}
	return r, nil
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "scenariod: "+format+"\n", args...)
}

// Planned returns the planned length of a run of scenarios under p.
func Planned(p profile.Profile, scenarios []Scenario) time.Duration {
	var d time.Duration
	for _, s := range scenarios {
		d += p.Stabilization + p.FaultTime(time.Duration(s.FaultTime), s.Fixed) + p.Recovery
	}
	return d
}

// left is the planned time from phase ph of scenario i to the end.
func (r *Runner) left(i, ph int) time.Duration {
	var d time.Duration
	for j := i; j < len(r.testLen); j++ {
		for k := range manifest.Phases {
			if j > i || k >= ph {
				d += r.phaseLen(j, k)
			}
		}
	}
	return d
}

func (r *Runner) phaseLen(i, ph int) time.Duration {
	switch manifest.Phases[ph] {
	case manifest.PhaseStabilization:
		return r.cfg.Plan.Profile.Stabilization
	case manifest.PhaseTesting:
		return r.testLen[i]
	}
	return r.cfg.Plan.Profile.Recovery
}

func (r *Runner) emit(e Event) {
	if r.cfg.OnEvent == nil {
		return
	}
	e.Time = time.Now()
	e.Total = len(r.cfg.Plan.Scenarios)
	r.cfg.OnEvent(e)
}

// cleanupContext returns the context of a cleanup: not cancelled with ctx,
// and bounded by CleanupTimeout; once ctx is cancelled every cleanup shares
// one budget counted from the first, so the run ends within it.
func (r *Runner) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	bg := context.WithoutCancel(ctx)
	if ctx.Err() == nil {
		return context.WithTimeout(bg, r.cfg.CleanupTimeout)
	}
	r.stopOnce.Do(func() { r.stopBy = time.Now().Add(r.cfg.CleanupTimeout) })
	return context.WithDeadline(bg, r.stopBy)
}

// Cleanup removes every fault now, whatever the run is doing: for a second
// signal, just before exiting. It is safe to call concurrently with Run.
func (r *Runner) Cleanup(ctx context.Context) error {
	return r.faults.clearAll(ctx)
}

// Manifest returns the manifest as last written (nil before the start).
func (r *Runner) Manifest() *manifest.Manifest { return r.m }

// setup reaches toxiproxy, records the proxies, picks the loss injector and
// cleans the state.
func (r *Runner) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultSetupTimeout)
	defer cancel()
	proxies, err := r.cfg.Toxiproxy.Proxies(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v (is the stack up? -toxiproxy %s)", ErrSetup, err, r.cfg.Toxiproxy.URL)
	}
	// The paths faults go on: each server's own proxy and every proxy
	// the plan gives an arm.
	fs := r.faults
	fs.proxies, fs.server = map[string]inject.Proxy{}, map[string]string{}
	use := func(name, server string) {
		p := proxies[name]
		fs.proxies[name] = inject.Proxy{Name: name, Listen: p.Listen, Upstream: p.Upstream}
		fs.server[name] = server
	}
	for _, srv := range fault.Servers {
		if _, ok := proxies[srv]; ok {
			use(srv, srv)
		}
	}
	for _, a := range r.cfg.Plan.Arms {
		for _, x := range a.Proxies {
			if _, ok := proxies[x.Name]; !ok {
				return fmt.Errorf("%w: the plan's arm %s has proxy %s, toxiproxy %s has none", ErrSetup, a.Name(), x.Name, r.cfg.Toxiproxy.URL)
			}
			use(x.Name, x.Server)
		}
	}
	needLoss := false
	for _, s := range r.cfg.Plan.Scenarios {
		for _, f := range s.Faults {
			for _, t := range f.Targets {
				if _, ok := proxies[t]; !ok {
					return fmt.Errorf("%w: scenario %s targets %s but toxiproxy %s has no such proxy (has: %v)", ErrSetup, s.Name, t, r.cfg.Toxiproxy.URL, slices.Sorted(maps.Keys(proxies)))
				}
				if f.Kind == fault.KindProcessKill {
					if err := fs.proc.Check(t); err != nil {
						return fmt.Errorf("%w: scenario %s: %v", ErrSetup, s.Name, err)
					}
				}
			}
			needLoss = needLoss || f.Kind == fault.KindPacketLoss
		}
	}
	nf := &inject.Netfilter{Table: r.cfg.NFTable, Command: r.cfg.NFTCommand}
	avail := nf.Available(ctx) // also deletes a table left by an earlier run
	if avail == nil {
		fs.nf = nf
	}
	switch {
	case avail != nil:
	case !isLoopback(r.cfg.Toxiproxy.Host()):
		avail = fmt.Errorf("%w: toxiproxy at %s is not on this host's loopback", inject.ErrNetfilterUnavailable, r.cfg.Toxiproxy.Host())
	case r.cfg.Stack == "compose":
		// Its proxies listen inside a container; the client's own
		// connection ends on this host's loopback only through docker-proxy
		// (the userland proxy). Try it rather than guess (issue 14).
		if err := r.reachesCompose(ctx, nf); err != nil {
			avail = fmt.Errorf("%w: the compose stack's proxies are inside a container: %v", inject.ErrNetfilterUnavailable, err)
		}
	}
	switch r.cfg.LossInjector {
	case LossNetfilter:
		if avail != nil {
			return fmt.Errorf("%w: -loss-injector netfilter: %v (or use -loss-injector toxiproxy)", ErrSetup, avail)
		}
		fs.lossNF = true
	case LossAuto:
		fs.lossNF = avail == nil
		if needLoss && avail != nil {
			r.logf("packet loss uses the toxiproxy per-connection emulation: %v", avail)
		}
	case LossNetem:
		if err := r.useNetem(ctx, r.cfg.NetemExec); err != nil {
			return fmt.Errorf("%w: -loss-injector netem: %v (is the helper up? docker compose --profile netem up -d --wait)", ErrSetup, err)
		}
	}
	if err := fs.ensureClean(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrSetup, err)
	}
	if err := r.newOracle(); err != nil {
		r.logf("efficacy checks off: %v", err)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run runs every scenario in order and returns the manifest. It returns an
// error wrapping ErrInterrupted when ctx is cancelled (after removing every
// fault within CleanupTimeout and writing the manifest), ErrSetup when it
// could not start, ErrDirtyState when a scenario's faults could not be
// proven gone (the run stops), ErrScenarioFailed when some scenario failed.
func (r *Runner) Run(ctx context.Context) (*manifest.Manifest, error) {
	start := time.Now()
	runID := r.cfg.RunID
	if runID == "" {
		runID = start.Format("20060102-150405")
	}
	pl := r.cfg.Plan
	r.m = &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion,
		RunID:         runID,
		Plan:          &pl,
		Profile:       pl.Profile.Name,
		Sides:         pl.Sides,
		Seed:          pl.Seed,
		ArmOrder:      pl.ArmOrder(),
		Stack:         r.cfg.Stack,
		Start:         start,
		Status:        manifest.StatusRunning,
		Shard:         pl.Shard,
		Scenarios:     []manifest.Scenario{},
	}
	if len(r.m.Sides) == 0 {
		// Alone, without arms: one head arm through the servers' proxies.
		r.m.Sides = []manifest.Side{{Name: manifest.SideHead, Arms: 1}}
	}
	if err := os.MkdirAll(filepath.Dir(r.cfg.ManifestPath), 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	if r.cfg.Metrics != nil {
		for _, s := range r.cfg.Plan.Scenarios {
			r.cfg.Metrics.Phase.WithLabelValues(s.Name).Set(PhaseIdle)
		}
		r.cfg.Metrics.Active.Set(0)
	}
	// On any way out, every fault goes, within the cleanup budget even when
	// ctx is already cancelled.
	defer func() {
		cctx, cancel := r.cleanupContext(ctx)
		defer cancel()
		if err := r.faults.clearAll(cctx); err != nil {
			r.logf("final cleanup: %v", err)
		}
	}()
	err := r.setup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r.finish(manifest.StatusInterrupted, ErrInterrupted)
		}
		return nil, err
	}
	if err := r.write(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	var failed []string
	for i := range r.cfg.Plan.Scenarios {
		status, err := r.scenario(ctx, i)
		switch {
		case status == manifest.StatusInterrupted:
			// err, if any, says which faults could not be removed.
			return r.finish(manifest.StatusInterrupted, errors.Join(ErrInterrupted, err))
		case errors.Is(err, ErrDirtyState):
			_, _ = r.finish(manifest.StatusFailed, nil)
			return r.m, err
		case status == manifest.StatusFailed:
			failed = append(failed, r.cfg.Plan.Scenarios[i].Name)
		}
	}
	if len(failed) > 0 {
		return r.finish(manifest.StatusFailed, fmt.Errorf("%w: %v", ErrScenarioFailed, failed))
	}
	return r.finish(manifest.StatusPassed, nil)
}

// finish closes the manifest with status and writes it.
func (r *Runner) finish(status string, err error) (*manifest.Manifest, error) {
	r.m.Status = status
	r.m.End = time.Now()
	if werr := r.write(); werr != nil {
		err = errors.Join(err, werr)
	}
	return r.m, err
}

func (r *Runner) write() error {
	if err := manifest.Write(r.cfg.ManifestPath, r.m); err != nil {
		return err
	}
	r.emit(Event{Kind: EventManifestWritten})
	return nil
}

// scenarioRun is one scenario while it runs: its manifest entry and the
// event every step of it emits.
type scenarioRun struct {
	r   *Runner
	i   int
	s   Scenario
	cur *manifest.Scenario
	ev  Event
}

// step records one step of the scenario, always the same way: the
// manifest (written, so a run cut short keeps it), the scenario metrics,
// then the event. kind says which metrics change; e is the event's
// fields beyond the scenario's. A manifest that cannot be written is
// returned after the event went out.
func (sr *scenarioRun) step(kind EventKind, e Event) error {
	met := sr.r.cfg.Metrics
	if met != nil {
		name := sr.s.Name
		switch kind {
		case EventScenarioStart:
			met.Active.Set(1)
		case EventPhaseStart:
			met.Phase.WithLabelValues(name).Set(float64(len(sr.cur.Phases)))
		case EventPhaseEnd:
			ph := sr.cur.Phases[len(sr.cur.Phases)-1]
			met.PhaseDuration.WithLabelValues(name, ph.Name).Set(ph.End.Sub(ph.Start).Seconds())
		case EventScenarioEnd:
			met.Phase.WithLabelValues(name).Set(PhaseIdle)
			met.Active.Set(0)
			met.Runs.WithLabelValues(name, sr.cur.Status).Inc()
		}
	}
	var err error
	if kind != EventScenarioStart {
		err = sr.r.write()
	}
	e.Kind, e.Index, e.Scenario = kind, sr.ev.Index, sr.ev.Scenario
	sr.r.emit(e)
	return err
}

// end closes the scenario: faults gone, open phase closed, status set,
// and the step recorded.
func (sr *scenarioRun) end(ctx context.Context, st string, why error) (string, error) {
	cur := sr.cur
	if st != manifest.StatusPassed {
		cctx, cancel := sr.r.cleanupContext(ctx)
		cerr := sr.r.faults.clearAll(cctx)
		cancel()
		now := time.Now()
		if cerr != nil {
			why = errors.Join(why, fmt.Errorf("%w: %v", ErrDirtyState, cerr))
		}
		for j := range cur.Faults {
			// Removed only when the cleanup is known to have worked.
			if !cur.Faults[j].Applied.IsZero() && cur.Faults[j].Removed.IsZero() && cerr == nil {
				cur.Faults[j].Removed = now
			}
		}
		if n := len(cur.Phases); n > 0 && cur.Phases[n-1].End.IsZero() {
			cur.Phases[n-1].End = now
		}
	}
	cur.Status = st
	if why != nil {
		cur.Error = why.Error()
	}
	if werr := sr.step(EventScenarioEnd, Event{Status: st}); werr != nil {
		why = errors.Join(why, werr)
	}
	return st, why
}

// faults applies (or removes) every fault of the scenario and records
// when each arm got it.
func (sr *scenarioRun) faults(ctx context.Context, apply bool) error {
	for j, f := range sr.s.Faults {
		do, verb := sr.r.faults.remove, "remove"
		if apply {
			do, verb = sr.r.faults.apply, "apply"
		}
		at, err := do(ctx, f)
		if err != nil {
			return fmt.Errorf("%s: %w", verb, err)
		}
		if apply {
			sr.cur.Faults[j].Applied = time.Now()
		} else {
			sr.cur.Faults[j].Removed = time.Now()
		}
		recordArms(&sr.r.cfg.Plan, &sr.cur.Faults[j], at, apply)
	}
	return nil
}

// scenario runs scenario i and returns its status. A non-nil error is
// ErrDirtyState (stop the run) or the reason of a failure.
func (r *Runner) scenario(ctx context.Context, i int) (status string, err error) {
	s := r.cfg.Plan.Scenarios[i]
	ms := manifest.Scenario{Name: s.Name, Description: s.Description, Status: manifest.StatusRunning, Phases: []manifest.Phase{}}
	ms.Expect, ms.ExpectWhy = Expectation(s)
	for _, f := range s.Faults {
		inj, fid := r.faults.injectorFor(f)
		ms.Faults = append(ms.Faults, manifest.Fault{Fault: f.Clone(),
			Made: manifest.Made{Injector: inj, Fidelity: fid, Nominal: s.FaultTime}})
	}
	r.m.Scenarios = append(r.m.Scenarios, ms)
	sr := &scenarioRun{r: r, i: i, s: s, cur: &r.m.Scenarios[len(r.m.Scenarios)-1], ev: Event{Index: i + 1, Scenario: s.Name}}
	cur := sr.cur

	cctx, cancel := context.WithTimeout(ctx, DefaultSetupTimeout)
	err = r.faults.ensureClean(cctx)
	cancel()
	if ctx.Err() != nil {
		return sr.end(ctx, manifest.StatusInterrupted, nil)
	}
	if err != nil {
		return sr.end(ctx, manifest.StatusFailed, err)
	}
	sr.step(EventScenarioStart, Event{})
	chk := r.newCheck(s, cur)
	defer chk.verdict() // no check outlives its scenario
	defer chk.stop()

	for ph, name := range manifest.Phases {
		planned := r.phaseLen(i, ph)
		start := time.Now()
		cur.Phases = append(cur.Phases, manifest.Phase{Name: name, Start: start})
		if err := sr.step(EventPhaseStart, Event{Phase: name, Planned: planned, Left: r.left(i, ph)}); err != nil {
			return sr.end(ctx, manifest.StatusFailed, err)
		}
		if ctx.Err() != nil {
			return sr.end(ctx, manifest.StatusInterrupted, nil)
		}

		until := start.Add(planned)
		if name == manifest.PhaseTesting {
			chk.baseline(ctx)
			if err := sr.faults(ctx, true); err != nil {
				if ctx.Err() != nil {
					return sr.end(ctx, manifest.StatusInterrupted, nil)
				}
				return sr.end(ctx, manifest.StatusFailed, err)
			}
			// The fault is held for the planned time from the moment it is in place.
			until = time.Now().Add(planned)
			if err := sr.step(EventFaultApplied, Event{Phase: name}); err != nil {
				return sr.end(ctx, manifest.StatusFailed, err)
			}
			chk.start(ctx)
		}
		if err := r.wait(ctx, until); err != nil {
			return sr.end(ctx, manifest.StatusInterrupted, nil)
		}
		if name == manifest.PhaseTesting {
			chk.stop()
			if err := sr.faults(ctx, false); err != nil {
				if ctx.Err() != nil {
					return sr.end(ctx, manifest.StatusInterrupted, nil)
				}
				return sr.end(ctx, manifest.StatusFailed, errors.Unwrap(err))
			}
			if err := sr.step(EventFaultRemoved, Event{Phase: name}); err != nil {
				return sr.end(ctx, manifest.StatusFailed, err)
			}
		}
		cur.Phases[ph].End = time.Now()
		if err := sr.step(EventPhaseEnd, Event{Phase: name}); err != nil {
			return sr.end(ctx, manifest.StatusFailed, err)
		}
		if name == manifest.PhaseTesting {
			// Recovery starts only on a state proven clean.
			cctx, cancel := context.WithTimeout(ctx, DefaultSetupTimeout)
			d, err := r.faults.dirt(cctx)
			cancel()
			if ctx.Err() != nil {
				return sr.end(ctx, manifest.StatusInterrupted, nil)
			}
			if err == nil && d != "" {
				err = fmt.Errorf("%w after removing the faults: %s", ErrDirtyState, d)
			}
			if err != nil {
				return sr.end(ctx, manifest.StatusFailed, err)
			}
			chk.finish(ctx)
		}
	}
	if err := chk.verdict(); err != nil {
		return sr.end(ctx, StatusInvalid, err)
	}
	return sr.end(ctx, manifest.StatusPassed, nil)
}

// recordArms notes when each arm's path got (or lost) the fault. A fault on
// several servers reaches an arm when its last path has it, so an arm's
// time is the latest over its paths.
func recordArms(p *plan.Plan, f *manifest.Fault, at map[string]time.Time, applied bool) {
	for name, t := range at {
		_, pa, ok := p.Proxy(name)
		if !ok {
			continue
		}
		side, arm := pa.Side, pa.Num
		i := slices.IndexFunc(f.Arms, func(a manifest.ArmFault) bool { return a.Side == side && a.Arm == arm })
		if i < 0 {
			f.Arms = append(f.Arms, manifest.ArmFault{Side: side, Arm: arm})
			i = len(f.Arms) - 1
		}
		a := &f.Arms[i]
		if applied && t.After(a.Applied) {
			a.Applied = t
		} else if !applied && t.After(a.Removed) {
			a.Removed = t
		}
	}
	slices.SortFunc(f.Arms, func(a, b manifest.ArmFault) int {
		if a.Side != b.Side {
			return strings.Compare(b.Side, a.Side) // head before base
		}
		return a.Arm - b.Arm
	})
}

// wait waits until the given time, checking toxiproxy every WatchInterval:
// proxies lost by a restart are re-created and the active faults
// re-applied. It returns ctx's error if ctx ends first.
func (r *Runner) wait(ctx context.Context, until time.Time) error {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	tick := time.NewTicker(r.cfg.WatchInterval)
	defer tick.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-tick.C:
			wctx, cancel := context.WithDeadline(ctx, until)
			restarted, err := r.faults.syncProxies(wctx)
			if restarted && err == nil {
				err = r.faults.reapply(wctx)
				if err == nil {
					r.logf("toxiproxy proxies re-created and active faults re-applied")
				}
			}
			cancel()
			if err != nil && ctx.Err() == nil && time.Now().Before(until) && !warned {
				warned = true
				r.logf("toxiproxy check: %v", err)
			}
		}
	}
}
