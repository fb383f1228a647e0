package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcchaos/mcchaos/internal/mcprobe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcchaos/mcchaos/loadgen/driver"
	"github.com/mcchaos/mcchaos/loadgen/internal/defaults"
)

// Defaults of ServeConfig, also the flag defaults of cmd/loadgen.
const (
	DefaultListen         = "127.0.0.1:9090"
	DefaultServers        = "mc1=127.0.0.1:21211,mc2=127.0.0.1:21212,mc3=127.0.0.1:21213"
	DefaultStartupTimeout = 10 * time.Second
	DefaultLinger         = 3 * time.Second
	DefaultMaxProcs       = 4
)

// ServeConfig configures Serve. The zero value of each field means the
// documented default.
type ServeConfig struct {
	// Listen is where /metrics is served. If empty, DefaultListen.
	Listen string
	// Client is the driver kind. If empty, driver.Default.
	Client string
	// Settings configure the client; Settings.Servers is required. The
	// breaker and acquire hooks are set by Serve.
	Settings driver.Settings
	// Load configures the load; Driver, Servers, Metrics and Client are set
	// by Serve.
	Load Config
	// StartupTimeout bounds the wait for the servers to answer before the
	// load starts. If zero, DefaultStartupTimeout.
	StartupTimeout time.Duration
	// Linger is how long /metrics stays up after the load stopped, so that
	// the last counts are scraped. If zero, DefaultLinger; negative: none.
	Linger time.Duration
	// Abort, when closed, cuts the linger short (a second signal).
	Abort <-chan struct{}
	// MaxProcs sets GOMAXPROCS. If zero, DefaultMaxProcs; negative: leave it.
	MaxProcs int
	// FailOnViolation makes Serve return an error wrapping
	// ErrIntegrityViolation when any read failed its integrity check.
	FailOnViolation bool
	// Stderr receives the start-up line, warnings and violation logs.
	// If nil, io.Discard.
	Stderr io.Writer
}

// ErrIntegrityViolation is returned (wrapped) by Serve with FailOnViolation
// when a read returned a value not written for its key.
var ErrIntegrityViolation = errors.New("integrity violations")

// SetupError is an error that prevented the load from starting: bad input,
// a port in use, no server answering. cmd/loadgen exits 2 on it.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Serve serves /metrics, opens the client, waits for the servers, applies
// load until ctx is done or Load.Duration has passed, then keeps /metrics
// up for Linger before returning.
func Serve(ctx context.Context, cfg ServeConfig) error {
	defaults.Set(&cfg.Listen, DefaultListen)
	defaults.Set(&cfg.Client, driver.Default)
	defaults.Set(&cfg.StartupTimeout, DefaultStartupTimeout)
	defaults.Set(&cfg.Linger, DefaultLinger)
	defaults.Set(&cfg.MaxProcs, DefaultMaxProcs)
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.MaxProcs > 0 {
		runtime.GOMAXPROCS(cfg.MaxProcs)
	}
	if len(cfg.Settings.Servers) == 0 {
		return &SetupError{errors.New("no servers given: pass -servers mc1=host:port,...")}
	}

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &SetupError{fmt.Errorf("cannot serve metrics on %s: %w; stop what listens there or pass another -listen", cfg.Listen, err)}
	}
	var loading atomic.Bool
	srv := &http.Server{Handler: metricsHandler(reg, &loading, m), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	names := make([]string, len(cfg.Settings.Servers))
	for i, s := range cfg.Settings.Servers {
		names[i] = s.Name
	}
	cfg.Settings.OnBreakerChange = m.BreakerChanged
	cfg.Settings.OnAcquire = m.Acquired
	cfg.Settings.OnRequest = m.Requested
	d, info, err := driver.Open(cfg.Client, cfg.Settings)
	if err != nil {
		return &SetupError{err}
	}
	defer d.Close()
	if sr, ok := d.(driver.StatsReporter); ok {
		m.SetPoolSource(sr.PoolStats)
	}
	if info.Breakers && !cfg.Settings.DisableBreaker {
		m.InitBreakers(names)
	}

	load := cfg.Load
	load.Driver, load.Servers, load.Metrics, load.Client = d, names, m, info
	if load.Log == nil {
		load.Log = cfg.Stderr
	}
	load.OnLoad = func() { loading.Store(true) }
	r, err := newRunner(load)
	if err != nil {
		return &SetupError{err}
	}
	fmt.Fprintf(cfg.Stderr, "loadgen: client %s %s, workload %s, %s, servers %s, metrics on http://%s/metrics\n",
		info.Client, info.Version, r.cfg.WorkloadName, describeLoad(r.cfg), describeServers(cfg.Settings.Servers), ln.Addr())

	if err := waitServers(ctx, cfg.Settings.Servers, cfg.StartupTimeout, cfg.Stderr); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the load started
		}
		return &SetupError{err}
	}
	sum := r.run(ctx)
	if cfg.Linger > 0 {
		select {
		case <-time.After(cfg.Linger):
		case <-cfg.Abort:
		}
	}
	if cfg.FailOnViolation && sum.Violations > 0 {
		return fmt.Errorf("%w: %d reads returned a value not written for their key (see the log)", ErrIntegrityViolation, sum.Violations)
	}
	return nil
}

// metricsHandler serves /metrics, and /ready: 200 once the load runs (the
// servers answered and the keyspace is preloaded) and every breaker is
// closed, 503 before. bench starts a stage's first scenario only when
// every arm is ready, so that breakers tripped by a start-up surge (ten
// fresh processes preloading on a busy machine) are not counted as the
// stabilization's errors.
func metricsHandler(reg *prometheus.Registry, loading *atomic.Bool, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !loading.Load() {
			http.Error(w, "not loading yet (waiting for the servers, or preloading the keyspace)", http.StatusServiceUnavailable)
			return
		}
		if open := m.NotClosed(); len(open) > 0 {
			http.Error(w, "loading, but a circuit breaker is not closed: "+strings.Join(open, ", "), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "loading\n")
	})
	return mux
}

func describeLoad(c Config) string {
	s := fmt.Sprintf("closed loop with %d workers", c.Concurrency)
	if c.Rate > 0 {
		s = fmt.Sprintf("open loop at %g ops/s (in-flight cap %d)", c.Rate, c.Concurrency)
	}
	if c.Duration > 0 {
		s += " for " + c.Duration.String()
	}
	return s
}

func describeServers(servers []driver.Server) string {
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = s.Name + "=" + s.Addr
	}
	return strings.Join(parts, ",")
}

// ParseServers parses -servers: "name=host:port,..." or a bare
// "host:port,..." list, whose servers are then named mc1..mcN.
func ParseServers(s string) ([]driver.Server, error) {
	var out []driver.Server
	named := strings.Contains(s, "=")
	seen := make(map[string]bool)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, addr, ok := strings.Cut(part, "=")
		if !named {
			name, addr, ok = fmt.Sprintf("mc%d", i+1), part, true
		}
		if !ok || name == "" {
			return nil, fmt.Errorf("servers %q: %q is not name=host:port (use names for all or none)", s, part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("servers %q: %q: %w", s, addr, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("servers %q: name %q given twice", s, name)
		}
		seen[name] = true
		out = append(out, driver.Server{Name: name, Addr: addr})
	}
	return out, nil
}

// waitServers polls every server with memcached's version command until all
// answer or timeout passes. If none answered by then it returns an error
// naming each server and why; if some did, it warns and returns nil.
func waitServers(ctx context.Context, servers []driver.Server, timeout time.Duration, log io.Writer) error {
	deadline := time.Now().Add(timeout)
	errs := make([]error, len(servers))
	for i := range errs {
		errs[i] = errors.New("not probed")
	}
	for {
		up := 0
		for i, s := range servers {
			if errs[i] != nil {
				errs[i] = mcprobe.Version(s.Addr, min(time.Second, max(time.Until(deadline), 10*time.Millisecond)))
			}
			if errs[i] == nil {
				up++
			}
		}
		if up == len(servers) {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			var down []string
			for i, s := range servers {
				if errs[i] != nil {
					down = append(down, fmt.Sprintf("%s=%s (%v)", s.Name, s.Addr, errs[i]))
				}
			}
			if up == 0 {
				return fmt.Errorf("no memcached server answered within %s: %s; start the stack (make bench does) or fix -servers", timeout, strings.Join(down, ", "))
			}
			fmt.Fprintf(log, "loadgen: WARNING: starting with %d of %d servers down: %s\n", len(down), len(servers), strings.Join(down, ", "))
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
