// Package efficacy is the oracle that proves a fault was in effect while
// it was meant to be, only where it was meant to be, and gone afterwards.
//
// While the faults of a scenario are on, a Watch checks every server about
// once a second with two kinds of evidence: the injector's own (netfilter's
// matched and dropped packet counters per port, toxiproxy's toxics and
// proxy states on every proxy of every arm) and an independent probe, a
// fresh connection through one of the server's proxies that asks memcached
// for its version and so sees the added latency, refusal or reset. After
// the faults are removed, Finish checks once more that everything is gone
// and judges the Record: a fault that did not take effect, was absent for
// longer than Tolerance.MaxGap, leaked onto a server it does not target, or
// lingered into recovery makes the verdict invalid.
//
// The oracle never applies a fault itself; a Watch calls the caller's
// repair function when it finds one absent.
package efficacy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// Defaults of Config and Tolerance.
const (
	DefaultInterval     = time.Second
	DefaultFastInterval = 100 * time.Millisecond
	DefaultProbeTimeout = 500 * time.Millisecond
	DefaultLossPoints   = 3
	DefaultMinPackets   = 100
	DefaultMaxGap       = time.Second
	DefaultLatencySlack = 20 * time.Millisecond
	DefaultLeakLatency  = 100 * time.Millisecond
	DefaultShare        = 0.25
	DefaultMinSigns     = 3
	DefaultStallLag     = 50 * time.Millisecond
	// DefaultCheckCallTimeout bounds a check's toxiproxy API call.
	DefaultCheckCallTimeout = 800 * time.Millisecond
	// DefaultBaselineTimeout bounds one baseline probe.
	DefaultBaselineTimeout = 2 * time.Second
)

// counted reports whether the loss injector's counters measure f.
func counted(f manifest.Fault) bool {
	return f.Kind == fault.KindPacketLoss && (f.Injector == manifest.InjectorNetfilter || f.Injector == inject.InjectorNetem)
}

// toxicOf returns the toxic that makes f, when toxiproxy makes it as one.
func toxicOf(f manifest.Fault) (inject.Toxic, bool) {
	if f.Injector != manifest.InjectorToxiproxy {
		return inject.Toxic{}, false
	}
	return fault.Toxic(f.Params)
}

// lossPct is the loss f requests, 0 for a fault that is no packet loss.
func lossPct(f manifest.Fault) float64 {
	if p, ok := f.Params.(*fault.PacketLoss); ok {
		return p.LossPct
	}
	return 0
}

// Server is one memcached server with every proxy in front of it.
type Server struct {
	Name string
	// Proxies are every proxy the faults on this server are applied to:
	// the per-arm proxies "mc1.head.1", ... and the legacy "mc1" if faulted.
	Proxies []inject.Proxy
	// Probe is the address the probe dials. If empty, the listen address
	// of the first proxy (an unspecified host becomes 127.0.0.1).
	Probe string
}

// ServersOf groups proxies by the server they lead to: server maps a
// proxy's name to its server's ("mc1.head.1" and "mc1" to "mc1"); a proxy
// it does not name is left out. Servers and their proxies are sorted by
// name.
func ServersOf(proxies map[string]inject.Proxy, server map[string]string) []Server {
	by := map[string][]inject.Proxy{}
	for _, name := range slices.Sorted(maps.Keys(proxies)) {
		srv, ok := server[name]
		if !ok {
			continue
		}
		p := proxies[name]
		p.Name = name
		by[srv] = append(by[srv], p)
	}
	var out []Server
	for _, name := range slices.Sorted(maps.Keys(by)) {
		out = append(out, Server{Name: name, Proxies: by[name]})
	}
	return out
}

// LossPorts returns the port → loss percent map that a loss injector
// (inject.Netfilter.SetLoss, inject.Netem.SetLoss) needs for faults: every
// proxy port of a server that a counted packet-loss fault targets gets its
// loss, and every other proxy port 0, counted but never dropped, so that
// "0 % elsewhere" is measured rather than assumed. Without a counted loss
// fault it is empty (no rules at all).
func LossPorts(servers []Server, faults []manifest.Fault) (map[int]float64, error) {
	loss := map[string]float64{}
	for _, f := range faults {
		if counted(f) {
			for _, t := range f.Targets {
				loss[t] = lossPct(f)
			}
		}
	}
	out := map[int]float64{}
	if len(loss) == 0 {
		return out, nil
	}
	for _, s := range servers {
		for _, p := range s.Proxies {
			port, err := inject.ListenPort(p.Listen)
			if err != nil {
				return nil, fmt.Errorf("efficacy: proxy %s: %w", p.Name, err)
			}
			out[port] = loss[s.Name]
		}
	}
	return out, nil
}

// Counters reads a loss injector's packet counters: *inject.Netfilter and
// *inject.Netem are Counters.
type Counters interface {
	Counters(ctx context.Context) ([]inject.Counter, error)
}

// Tolerance is the policy of Judge. Zero fields take the defaults.
type Tolerance struct {
	// LossPoints is how far, in percentage points, the loss measured over
	// the testing phase may be from the requested one (or 4 standard
	// errors of the measurement, if more). If zero, DefaultLossPoints.
	LossPoints float64
	// MinPackets is the fewest packets a port needs over the phase to be
	// judged on its own ("drops nothing"). If zero, DefaultMinPackets.
	MinPackets int64
	// MaxGap is the longest a fault may be found absent. If zero, DefaultMaxGap.
	MaxGap time.Duration
	// LatencySlack: a probe of a latency fault whose added latency is
	// below latency − jitter − LatencySlack did not see the fault. If
	// zero, DefaultLatencySlack.
	LatencySlack time.Duration
	// LeakLatency is the added latency above which the probe of a server
	// no fault targets counts as harmed. If zero, DefaultLeakLatency.
	LeakLatency time.Duration
	// Share is the share of checks with an ineffective, harmed or unknown
	// sign above which the verdict is invalid (and at least MinSigns such
	// checks). If zero, DefaultShare.
	Share float64
	// MinSigns is the fewest checks with a sign that can invalidate. If
	// zero, DefaultMinSigns.
	MinSigns int
	// StallLag is how late a 20 ms timer of the oracle itself may fire
	// before a check counts as made on a stalled machine, whose harmed
	// probes are then signs of the machine (ProblemStalled), not of the
	// fault. If zero, DefaultStallLag.
	StallLag time.Duration
}

func (t Tolerance) withDefaults() Tolerance {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.LossPoints, DefaultLossPoints)
	def(&t.Share, DefaultShare)
	defDur(&t.MaxGap, DefaultMaxGap)
	defDur(&t.LatencySlack, DefaultLatencySlack)
	defDur(&t.LeakLatency, DefaultLeakLatency)
	defDur(&t.StallLag, DefaultStallLag)
	if t.MinSigns == 0 {
		t.MinSigns = DefaultMinSigns
	}
	if t.MinPackets == 0 {
		t.MinPackets = DefaultMinPackets
	}
	return t
}

// Config says what the oracle checks and how.
type Config struct {
	// Servers are every server with every proxy (see ServersOf). Required.
	Servers []Server
	// Toxiproxy is the API holding the proxies. Required. The oracle uses
	// a copy with one attempt per call, of at most DefaultCheckCallTimeout.
	Toxiproxy *inject.Toxiproxy
	// Loss reads the loss injector's counters; nil when packet loss is
	// not counted (toxiproxy's per-connection emulation).
	Loss Counters
	// Tolerance is the policy of the verdict.
	Tolerance Tolerance
	// Interval is the time between checks while the faults are on. If
	// zero, DefaultInterval.
	Interval time.Duration
	// FastInterval is the time between checks while a fault is found
	// absent, until it is back or MaxGap has passed. If zero, DefaultFastInterval.
	FastInterval time.Duration
	// ProbeTimeout bounds a probe, on top of the latency the faults add.
	// If zero, DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Oracle checks faults. Create it with New; Baseline in a quiet phase,
// then per scenario Start, Watch.Stop and Finish. One Watch at a time;
// Baseline and Finish must not run during a Watch.
type Oracle struct {
	cfg      Config
	tol      Tolerance
	baseline map[string]time.Duration // normal round trip per server
	prev     map[string]inject.Counter
	ports    map[string][]int // proxy ports per server
}

// New checks cfg and returns an Oracle.
func New(cfg Config) (*Oracle, error) {
	if len(cfg.Servers) == 0 || cfg.Toxiproxy == nil {
		return nil, errors.New("efficacy: no servers or no toxiproxy")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FastInterval <= 0 {
		cfg.FastInterval = DefaultFastInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	// One short attempt per check: a check must fit in its second, and a
	// toxiproxy that does not answer is itself what the check reports.
	tp := *cfg.Toxiproxy
	tp.Attempts = 1
	if tp.CallTimeout <= 0 || tp.CallTimeout > DefaultCheckCallTimeout {
		tp.CallTimeout = DefaultCheckCallTimeout
	}
	cfg.Toxiproxy = &tp
	o := &Oracle{cfg: cfg, tol: cfg.Tolerance.withDefaults(), baseline: map[string]time.Duration{}, prev: map[string]inject.Counter{}, ports: map[string][]int{}}
	apiHost := cfg.Toxiproxy.Host()
	for i, s := range cfg.Servers {
		if len(s.Proxies) == 0 {
			return nil, fmt.Errorf("efficacy: server %s has no proxies", s.Name)
		}
		for _, p := range s.Proxies {
			port, err := inject.ListenPort(p.Listen)
			if err != nil {
				return nil, fmt.Errorf("efficacy: proxy %s: %w", p.Name, err)
			}
			o.ports[s.Name] = append(o.ports[s.Name], port)
		}
		if s.Probe == "" {
			o.cfg.Servers[i].Probe = DialAddr(s.Proxies[0].Listen, apiHost)
		}
	}
	return o, nil
}

// DialAddr turns a proxy's listen address into one to dial: an
// unspecified host (toxiproxy in a container listening on 0.0.0.0) becomes
// fallback (the toxiproxy API's host), else 127.0.0.1.
func DialAddr(listen, fallback string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if fallback != "" {
			host = fallback
		}
	}
	return net.JoinHostPort(host, port)
}

// Baseline measures every server's normal round trip, the median of n
// successful probes out of at most 2n, from which probes compute the
// added latency. Call it while no fault is on. A server with no
// successful probe is an error (its baseline stays 0).
func (o *Oracle) Baseline(ctx context.Context, n int) error {
	var errs []error
	for _, s := range o.cfg.Servers {
		var rtts []float64
		var last Probe
		for i := 0; i < 2*n && len(rtts) < n; i++ {
			if last = probe(ctx, s.Probe, DefaultBaselineTimeout, 0); last.Outcome == OutcomeOK {
				rtts = append(rtts, last.RTTMs)
			}
		}
		if len(rtts) == 0 {
			errs = append(errs, fmt.Errorf("efficacy: baseline probe of %s at %s: %s %s", s.Name, s.Probe, last.Outcome, last.Error))
		}
		o.baseline[s.Name] = time.Duration(median(rtts) * float64(time.Millisecond))
	}
	return errors.Join(errs...)
}

// Watch checks the faults of one testing phase until Stop.
type Watch struct {
	cancel context.CancelFunc
	done   chan struct{}
	rec    *Record
}

// Start checks faults now and then every Interval until the Watch is
// stopped. When a check finds a fault absent it calls repair (if not nil)
// and checks again every FastInterval until the fault is back or MaxGap
// has passed. Call it right after the faults are applied.
func (o *Oracle) Start(ctx context.Context, faults []manifest.Fault, repair func(context.Context) error) *Watch {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	w := &Watch{cancel: cancel, done: make(chan struct{}), rec: o.record()}
	o.resetCounters(ctx)
	totals := map[string]inject.Counter{}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(o.cfg.Interval)
		defer tick.Stop()
		for {
			// The first check runs to its end even if Stop comes first
			// (a phase shorter than a check): a record has a check.
			cctx := ctx
			if len(w.rec.Samples) == 0 {
				cctx = parent
			}
			s, ok := o.check(cctx, faults, totals)
			if !ok {
				break
			}
			w.rec.Samples = append(w.rec.Samples, s)
			if has(s, ProblemAbsent) {
				o.regain(ctx, w.rec, faults, totals, repair)
			}
			if !wait(ctx, tick.C) {
				break
			}
		}
		for _, k := range slices.Sorted(maps.Keys(totals)) {
			w.rec.Ports = append(w.rec.Ports, PortCount(totals[k]))
		}
	}()
	return w
}

// record returns an empty record.
func (o *Oracle) record() *Record {
	return &Record{Samples: []Sample{}, ServerPorts: o.ports}
}

// regain calls repair and checks every FastInterval until the last sample
// has no absent fault or MaxGap has passed since the first absent one.
func (o *Oracle) regain(ctx context.Context, rec *Record, faults []manifest.Fault, totals map[string]inject.Counter, repair func(context.Context) error) {
	first := rec.Samples[len(rec.Samples)-1].Time
	for has(rec.Samples[len(rec.Samples)-1], ProblemAbsent) && time.Since(first) <= o.tol.MaxGap {
		if repair != nil {
			rctx, cancel := context.WithTimeout(ctx, o.tol.MaxGap)
			_ = repair(rctx) // the next check says whether it worked
			cancel()
		}
		if !wait(ctx, time.After(o.cfg.FastInterval)) {
			return
		}
		s, ok := o.check(ctx, faults, totals)
		if !ok {
			return
		}
		rec.Samples = append(rec.Samples, s)
	}
}

// Stop ends the watch and returns its record (without verdict: see
// Finish). It waits for the first check if none has ended yet, else it
// cuts the current one short.
func (w *Watch) Stop() *Record {
	end := time.Now()
	w.cancel()
	<-w.done
	if w.rec.End.IsZero() {
		w.rec.End = end
	}
	return w.rec
}

// Finish checks, after the faults were removed, that they are gone
// (checking again every FastInterval for up to MaxGap while they are not),
// and judges rec. rec may be nil when no Watch ran (the scenario failed
// before); then a Record of faults with no sample is judged.
func (o *Oracle) Finish(ctx context.Context, rec *Record, faults []manifest.Fault) *Record {
	if rec == nil {
		rec = o.record()
	}
	start := time.Now()
	for {
		s, ok := o.check(ctx, nil, nil)
		if !ok {
			break
		}
		rec.Recovery = &s
		if !has(s, "") || time.Since(start) > o.tol.MaxGap || !wait(ctx, time.After(o.cfg.FastInterval)) {
			break
		}
	}
	Judge(rec, faults, o.tol)
	return rec
}

// wait waits for c and reports false if ctx ended first.
func wait(ctx context.Context, c <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

// has reports whether s has a problem of kind (any kind if "").
func has(s Sample, kind string) bool {
	for _, ss := range s.Servers {
		for _, p := range ss.Problems {
			if kind == "" || p.Kind == kind {
				return true
			}
		}
	}
	return false
}

// resetCounters takes the loss counters as they are now as the zero of
// the next check.
func (o *Oracle) resetCounters(ctx context.Context) {
	clear(o.prev)
	if o.cfg.Loss == nil {
		return
	}
	cs, err := o.cfg.Loss.Counters(ctx)
	if err != nil {
		return // the first check reports it
	}
	for _, c := range cs {
		o.prev[portsKey(c.Ports)] = c
	}
}

func portsKey(ports []int) string { return fmt.Sprint(ports) }

// expectation is what the faults want of one server.
type expectation struct {
	faults   []manifest.Fault
	toxics   []inject.Toxic
	disabled bool
	counted  bool // a counted loss fault targets it
}

func expectations(faults []manifest.Fault) map[string]*expectation {
	ex := map[string]*expectation{}
	for _, f := range faults {
		for _, t := range f.Targets {
			e := ex[t]
			if e == nil {
				e = &expectation{}
				ex[t] = e
			}
			e.faults = append(e.faults, f)
			if x, ok := toxicOf(f); ok {
				e.toxics = append(e.toxics, x)
			}
			e.disabled = e.disabled || f.Kind == fault.KindServerDown
			e.counted = e.counted || counted(f)
		}
	}
	return ex
}

// check checks every server once against faults (none: the recovery
// check). totals, if not nil, accumulates the counters' deltas per port
// group. ok is false when ctx ended during the check (its sample is void).
func (o *Oracle) check(ctx context.Context, faults []manifest.Fault, totals map[string]inject.Counter) (s Sample, ok bool) {
	ex := expectations(faults)
	var (
		wg      sync.WaitGroup
		proxies map[string]inject.Proxy
		tpErr   error
		cs      []inject.Counter
		lossErr error
		probes  = make([]Probe, len(o.cfg.Servers))
	)
	s.Time = time.Now()
	wg.Go(func() { s.LagMs = ms(timerLag(ctx)) })
	wg.Go(func() { proxies, tpErr = o.cfg.Toxiproxy.Proxies(ctx) })
	for i, srv := range o.cfg.Servers {
		timeout := o.cfg.ProbeTimeout
		if e := ex[srv.Name]; e != nil {
			for _, f := range e.faults {
				if l, ok := f.Params.(*fault.Latency); ok {
					timeout += time.Duration((l.LatencyMS + l.JitterMS) * float64(time.Millisecond))
				}
			}
		}
		wg.Go(func() { probes[i] = probe(ctx, srv.Probe, timeout, o.baseline[srv.Name]) })
	}
	wg.Wait()
	// After the probes, so that their packets are in this check's counts.
	if o.cfg.Loss != nil {
		cs, lossErr = o.cfg.Loss.Counters(ctx)
	}
	if ctx.Err() != nil {
		return s, false
	}
	deltas := o.deltas(cs, totals)
	for i, srv := range o.cfg.Servers {
		e := ex[srv.Name]
		ss := ServerSample{Server: srv.Name, Targeted: e != nil, Proxies: len(srv.Proxies), Probe: probes[i]}
		stalled := s.LagMs > ms(o.tol.StallLag)
		problem := func(kind, format string, args ...any) {
			switch {
			case kind == ProblemHarmed && stalled:
				// This process was not scheduled either: the machine.
				kind = ProblemStalled
			case kind == ProblemHarmed && len(faults) == 0 && ss.Probe.Outcome != OutcomeOK && ss.Probe.Outcome != OutcomeTimeout:
				kind = ProblemLingering // refused, reset, closed: not slowness
			case len(faults) == 0 && (kind == ProblemAbsent || kind == ProblemLeak):
				kind = ProblemLingering
			}
			ss.Problems = append(ss.Problems, Problem{Kind: kind, Detail: fmt.Sprintf(format, args...)})
		}
		if e == nil {
			e = &expectation{}
		}
		o.checkProxies(&ss, srv, e, proxies, tpErr, problem)
		o.checkCounters(&ss, srv, e, cs, deltas, lossErr, problem)
		o.checkProbe(ss.Probe, srv, e, problem)
		s.Servers = append(s.Servers, ss)
	}
	return s, true
}

// timerLag returns how late a short timer fires: how long this process
// waits to be scheduled, a measure of a stalled machine.
func timerLag(ctx context.Context) time.Duration {
	const d = 20 * time.Millisecond
	start := time.Now()
	select {
	case <-ctx.Done():
		return 0
	case <-time.After(d):
	}
	return time.Since(start) - d
}

// checkProxies compares every proxy of srv with what e wants.
func (o *Oracle) checkProxies(ss *ServerSample, srv Server, e *expectation, proxies map[string]inject.Proxy, tpErr error, problem func(string, string, ...any)) {
	if tpErr != nil {
		kind := ProblemUnknown
		var ne net.Error
		slow := errors.Is(tpErr, context.DeadlineExceeded) || errors.As(tpErr, &ne) && ne.Timeout()
		if (len(e.toxics) > 0 || e.disabled) && !slow {
			// toxiproxy down: no toxic of it is in effect. A slow answer
			// only says the state could not be read in time.
			kind = ProblemAbsent
		}
		problem(kind, "toxiproxy: %v", tpErr)
		return
	}
	for _, want := range srv.Proxies {
		p, found := proxies[want.Name]
		var bad []string
		switch {
		case !found:
			bad = append(bad, "missing")
		case e.disabled && p.Enabled:
			bad = append(bad, "enabled")
		case !e.disabled && !p.Enabled:
			problem(ProblemLeak, "proxy %s disabled", want.Name)
		}
		for _, x := range e.toxics {
			if !slices.ContainsFunc(p.Toxics, func(y inject.Toxic) bool { return y.Name == x.Name && y.Type == x.Type }) {
				bad = append(bad, "no toxic "+x.Name)
			}
		}
		for _, y := range p.Toxics {
			if !slices.ContainsFunc(e.toxics, func(x inject.Toxic) bool { return y.Name == x.Name }) {
				problem(ProblemLeak, "proxy %s has toxic %s (%s)", want.Name, y.Name, y.Type)
			}
		}
		if len(bad) == 0 && found {
			ss.InState++
		} else if len(bad) > 0 {
			problem(ProblemAbsent, "proxy %s: %s", want.Name, strings.Join(bad, ", "))
		}
	}
}

// deltas returns each counter's packets since the previous check, keyed
// like o.prev, and adds them to totals. A counter that went down was
// reset (its rules replaced), so its value is the delta.
func (o *Oracle) deltas(cs []inject.Counter, totals map[string]inject.Counter) map[string]inject.Counter {
	d := map[string]inject.Counter{}
	for _, c := range cs {
		k := portsKey(c.Ports)
		p := o.prev[k]
		x := inject.Counter{Ports: c.Ports, Matched: c.Matched - p.Matched, Dropped: c.Dropped - p.Dropped}
		if x.Matched < 0 || x.Dropped < 0 {
			x = c
		}
		d[k] = x
		o.prev[k] = c
		if totals != nil {
			t := totals[k]
			t.Ports, t.Matched, t.Dropped = c.Ports, t.Matched+x.Matched, t.Dropped+x.Dropped
			totals[k] = t
		}
	}
	return d
}

// checkCounters sums the loss counters over srv's ports: a targeted port
// without a rule is absent, a drop elsewhere a leak.
func (o *Oracle) checkCounters(ss *ServerSample, srv Server, e *expectation, cs []inject.Counter, deltas map[string]inject.Counter, lossErr error, problem func(string, string, ...any)) {
	if o.cfg.Loss == nil {
		return
	}
	if lossErr != nil {
		problem(ProblemUnknown, "loss counters: %v", lossErr)
		return
	}
	ports := o.ports[srv.Name]
	covered := map[int]bool{}
	for _, c := range cs {
		if !slices.ContainsFunc(c.Ports, func(p int) bool { return slices.Contains(ports, p) }) {
			continue
		}
		for _, p := range c.Ports {
			covered[p] = true
		}
		d := deltas[portsKey(c.Ports)]
		ss.Counted = true
		ss.Matched += d.Matched
		ss.Dropped += d.Dropped
	}
	if e.counted {
		for _, p := range ports {
			if !covered[p] {
				problem(ProblemAbsent, "no loss rule on port %d", p)
			}
		}
	} else if ss.Dropped > 0 {
		problem(ProblemLeak, "%d of %d packets dropped on ports %v", ss.Dropped, ss.Matched, ports)
	}
}

// checkProbe judges the probe of srv by what the faults on it should do.
func (o *Oracle) checkProbe(p Probe, srv Server, e *expectation, problem func(string, string, ...any)) {
	if len(e.faults) == 0 {
		switch {
		case p.Outcome != OutcomeOK:
			problem(ProblemHarmed, "probe %s: %s", p.Outcome, p.Error)
		case p.AddedMs > ms(o.tol.LeakLatency):
			problem(ProblemHarmed, "probe %+.1f ms", p.AddedMs)
		}
		return
	}
	for _, f := range e.faults {
		var want []string // outcomes the fault allows; nil: any
		switch q := f.Params.(type) {
		case *fault.Latency:
			floor := q.LatencyMS - q.JitterMS - ms(o.tol.LatencySlack)
			if p.Outcome == OutcomeOK && p.AddedMs < floor {
				problem(ProblemIneffective, "probe %+.1f ms, want at least %+.0f ms", p.AddedMs, floor)
			}
			want = []string{OutcomeOK, OutcomeTimeout}
		case *fault.PacketLoss:
			want = []string{OutcomeOK, OutcomeTimeout}
			if q.LossPct >= 100 && counted(f) {
				want = []string{OutcomeTimeout}
			}
		case *fault.ServerDown:
			want = []string{OutcomeRefused}
		case *fault.Blackhole:
			want = []string{OutcomeTimeout}
		case *fault.ProcessKill:
			want = []string{OutcomeRefused, OutcomeReset, OutcomeClosed, OutcomeTimeout}
		case *fault.ConnectionReset:
			want = []string{OutcomeRefused, OutcomeReset, OutcomeClosed, OutcomeTimeout}
			if q.TimeoutMS > 0 {
				want = append(want, OutcomeOK)
			}
		}
		if want != nil && !slices.Contains(want, p.Outcome) {
			problem(ProblemIneffective, "%s: probe %s, want %s", f.Kind, p.Outcome, strings.Join(want, " or "))
		}
	}
}
