package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcchaos/mcchaos/loadgen/driver"
	"github.com/mcchaos/mcchaos/loadgen/internal/defaults"
)

// Defaults of Config.
const (
	DefaultConcurrency  = 100
	DefaultDrainTimeout = 10 * time.Second
)

// Key prefixes: values live under data keys, counters (the targets of incr,
// which need a decimal value) under counter keys.
const (
	DataKeyPrefix    = "mcchaos:v:"
	CounterKeyPrefix = "mcchaos:c:"
)

// Config configures Run. The zero value of each field means the documented
// default; Driver is required.
type Config struct {
	Driver driver.Driver
	// Servers are the server names; their metrics exist from the start.
	Servers []string
	// Workload picks operation kinds. If nil, Workloads[DefaultWorkload].
	Workload Workload
	// WorkloadName names a workload of Workloads when Workload is nil, and
	// is the workload label of loadgen_info ("custom" if empty with Workload).
	WorkloadName string
	// Client describes the client for loadgen_info.
	Client driver.Info
	// Keys chooses keys; see Keyspace for its defaults.
	Keys Keyspace
	// Sizes is the value-size distribution. If nil, DefaultSizes.
	Sizes Sizes
	// Rate is the open-loop rate in operations per second. If zero,
	// closed loop.
	Rate float64
	// Concurrency is the closed-loop worker count, or the open-loop
	// in-flight cap. If zero, DefaultConcurrency.
	Concurrency int
	// Duration is how long load runs. If zero, until ctx is done.
	Duration time.Duration
	// NoPreload skips writing every data key once before the load starts.
	NoPreload bool
	// OnLoad, if not nil, is called once when the load starts (after the
	// preload).
	OnLoad func()
	// DrainTimeout bounds the wait for in-flight operations once the load
	// stops. If zero, DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Metrics receives every measurement. If nil, a private registry.
	Metrics *Metrics
	// Log receives one line per integrity violation (rate-limited) and
	// drain problems. If nil, nothing is logged.
	Log io.Writer
	// Run identifies this run's values (see Codec). If zero, random.
	Run uint64
}

// Summary counts what a Run did. The same counts are in Metrics.
type Summary struct {
	Offered    uint64        // operations due (open) or started (closed)
	Dropped    uint64        // open loop: due but over the in-flight cap
	Completed  uint64        // operations finished, any result
	Errors     uint64        // completed with an error class
	Violations uint64        // integrity violations
	Elapsed    time.Duration // from the first operation due to the stop (drain excluded)
}

// Mode returns "open" when rate is positive, else "closed": the mode label
// of loadgen_info.
func Mode(rate float64) string {
	if rate > 0 {
		return "open"
	}
	return "closed"
}

// Run applies load through cfg.Driver until cfg.Duration has passed or ctx
// is done, then waits (at most DrainTimeout) for operations in flight. The
// operations themselves are not cancelled by ctx: the client's own timeout
// bounds them, so stopping does not count spurious errors.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return Summary{}, err
	}
	return r.run(ctx), nil
}

func (r *runner) run(ctx context.Context) Summary {
	if !r.cfg.NoPreload {
		r.preload(ctx)
	}
	if ctx.Err() != nil {
		return r.summary(0)
	}
	if r.cfg.OnLoad != nil {
		r.cfg.OnLoad()
	}
	if r.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	var stopped time.Time
	if r.cfg.Rate > 0 {
		stopped = r.openLoop(ctx.Done(), start)
	} else {
		stopped = r.closedLoop(ctx.Done())
	}
	return r.summary(stopped.Sub(start))
}

type runner struct {
	cfg      Config
	codec    Codec
	opCtx    context.Context
	data     []string
	counters []string
	oracle   *Oracle
	rec      *recorder
	valueBuf int // initial capacity of a worker's value buffer

	wg                                      sync.WaitGroup
	offered, dropped, completed, errs, viol atomic.Uint64
}

func newRunner(cfg Config) (*runner, error) {
	if cfg.Driver == nil {
		return nil, errors.New("loadgen: no driver")
	}
	defaults.Set(&cfg.Concurrency, DefaultConcurrency)
	defaults.Set(&cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Workload != nil {
		defaults.Set(&cfg.WorkloadName, "custom")
	}
	defaults.Set(&cfg.WorkloadName, DefaultWorkload)
	if mix, ok := cfg.Workload.(Mix); ok && mix == (Mix{}) {
		return nil, errors.New("loadgen: workload with no operation")
	}
	if cfg.Workload == nil {
		cfg.Workload = Workloads[cfg.WorkloadName]
		if cfg.Workload == nil {
			return nil, fmt.Errorf("loadgen: unknown workload %q", cfg.WorkloadName)
		}
	}
	if _, ok := cfg.Driver.(driver.Multi); !ok && needsMulti(cfg.Workload) {
		return nil, fmt.Errorf("loadgen: workload %q needs get-multi, CAS and add, which the driver lacks", cfg.WorkloadName)
	}
	if cfg.Sizes == nil {
		cfg.Sizes, _ = ParseSizes(DefaultSizes)
	}
	cfg.Keys = cfg.Keys.withDefaults()
	if err := cfg.Keys.validate(); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if cfg.Rate < 0 || cfg.Concurrency < 0 {
		return nil, fmt.Errorf("loadgen: rate %g and concurrency %d must not be negative", cfg.Rate, cfg.Concurrency)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	for cfg.Run == 0 {
		cfg.Run = rand.Uint64()
	}
	r := &runner{
		cfg:      cfg,
		codec:    Codec{Run: cfg.Run},
		opCtx:    context.Background(),
		data:     make([]string, cfg.Keys.Size),
		counters: make([]string, cfg.Keys.Size),
		oracle:   NewOracle(Codec{Run: cfg.Run}, cfg.Keys.Size),
		rec:      newRecorder(cfg.Metrics, cfg.Servers),
		valueBuf: 1024,
	}
	for i := range r.data {
		r.data[i] = cfg.Keys.Prefix + DataKeyPrefix + strconv.Itoa(i)
		r.counters[i] = cfg.Keys.Prefix + CounterKeyPrefix + strconv.Itoa(i)
	}
	cfg.Metrics.Info.WithLabelValues(cfg.Client.Client, cfg.Client.Version, cfg.WorkloadName, Mode(cfg.Rate)).Set(1)
	return r, nil
}

func (r *runner) summary(elapsed time.Duration) Summary {
	return Summary{
		Offered: r.offered.Load(), Dropped: r.dropped.Load(), Completed: r.completed.Load(),
		Errors: r.errs.Load(), Violations: r.viol.Load(), Elapsed: elapsed,
	}
}

// worker is one goroutine's private state.
type worker struct {
	rng *rand.Rand
	buf []byte
}

func (r *runner) newWorker() *worker {
	return &worker{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), buf: make([]byte, 0, r.valueBuf)}
}

// preloadWriters bounds the concurrency of the preload.
const preloadWriters = 8

// preload writes every data key once and creates every counter, unrecorded,
// so that reads and increments hit from the start. Failures are ignored:
// the load itself will show them.
func (r *runner) preload(ctx context.Context) {
	var next atomic.Int64
	var wg sync.WaitGroup
	zero := []byte("0")
	// A few writers, not Concurrency: ten arms preloading with 200 writers
	// each put 2000 writes in flight through toxiproxy, timed out, and
	// opened breakers before the first scenario (seen with a 30 s breaker).
	for range min(r.cfg.Concurrency, preloadWriters) {
		wg.Go(func() {
			w := r.newWorker()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				switch {
				case i < len(r.data):
					r.set(w, i)
				case i < 2*len(r.data):
					r.cfg.Driver.Set(r.opCtx, r.counters[i-len(r.data)], zero)
				default:
					return
				}
			}
		})
	}
	wg.Wait()
}

// do performs one operation whose intended start was intended, and records
// it (exec, in oracle_ops.go, runs it and reports integrity violations).
func (r *runner) do(w *worker, intended time.Time) {
	d := r.cfg.Driver
	op := r.cfg.Workload.Next(w.rng)
	key, err := r.exec(w, op, r.cfg.Keys.Next(w.rng))
	res := Classify(err)
	server := d.ServerFor(key)
	r.record(op, server, res, time.Since(intended))
	if op == OpIncr && res == ResultMiss {
		// Create the counter; this is a set of its own.
		start := time.Now()
		err := d.Set(r.opCtx, key, []byte("0"))
		r.record(OpSet, server, Classify(err), time.Since(start))
	}
}

func (r *runner) record(op Op, server string, res Result, d time.Duration) {
	r.completed.Add(1)
	if res.IsError() {
		r.errs.Add(1)
	}
	r.rec.record(op, server, res, d)
}

// violationLogLimit is how many violations are logged one by one; after
// that, one in violationLogEvery.
const (
	violationLogLimit = 100
	violationLogEvery = 1000
)

func (r *runner) violation(op Op, server, key string, v *Violation) {
	n := r.viol.Add(1)
	r.rec.violation(op, server)
	if n <= violationLogLimit || n%violationLogEvery == 0 {
		fmt.Fprintf(r.cfg.Log, "loadgen: integrity violation #%d: op=%s key=%s server=%s run=%016x expected=%q got=%s: %s\n",
			n, op, key, server, r.codec.Run, v.Expected, v.Got, v.Reason)
	}
}

// closedLoop runs Concurrency workers, each starting its next operation as
// soon as the last one finished, until stop. It returns when stop came.
func (r *runner) closedLoop(stop <-chan struct{}) time.Time {
	var stopped atomic.Bool
	for range r.cfg.Concurrency {
		r.wg.Go(func() {
			w := r.newWorker()
			for !stopped.Load() {
				r.offered.Add(1)
				r.rec.offered.Inc()
				r.do(w, time.Now())
			}
		})
	}
	<-stop
	stopped.Store(true)
	at := time.Now()
	r.drain()
	return at
}

// openLoop starts operation i at start + i/Rate, whatever the latency of
// earlier ones (no coordinated omission: latency counts from that intended
// time). An operation due while Concurrency are in flight is dropped and
// counted, never queued. It returns when stop came.
func (r *runner) openLoop(stop <-chan struct{}, start time.Time) time.Time {
	capacity := int64(r.cfg.Concurrency)
	jobs := make(chan time.Time, capacity)
	var inflight atomic.Int64
	for range capacity {
		r.wg.Go(func() {
			w := r.newWorker()
			for t := range jobs {
				r.rec.lag.Observe(time.Since(t).Seconds())
				r.do(w, t)
				inflight.Add(-1)
			}
		})
	}
	// The pacer runs in a goroutine of its own, which may lock its thread
	// (see newPacer) and exits with it.
	done := make(chan time.Time)
	go func() {
		nsPerOp := 1e9 / r.cfg.Rate
		due := func(i uint64) time.Time { return start.Add(time.Duration(float64(i) * nsPerOp)) }
		p := newPacer()
		defer p.stop()
		var i uint64 // next operation to offer
		for {
			// Offer every operation due by now, 0..n-1.
			n := uint64(float64(time.Since(start))/nsPerOp) + 1
			for ; i < n; i++ {
				r.offered.Add(1)
				r.rec.offered.Inc()
				if inflight.Load() >= capacity {
					r.dropped.Add(1)
					r.rec.dropped.Inc()
					continue
				}
				inflight.Add(1)
				jobs <- due(i) // never blocks: at most capacity in flight
			}
			if !p.wait(due(i), stop) {
				done <- time.Now()
				return
			}
		}
	}()
	at := <-done
	close(jobs)
	r.drain()
	return at
}

// drain waits for the workers, at most DrainTimeout.
func (r *runner) drain() {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.DrainTimeout):
		fmt.Fprintf(r.cfg.Log, "loadgen: operations still in flight %s after the stop; not waiting for them\n", r.cfg.DrainTimeout)
	}
}

// recorder holds the metric children bound in advance, so that recording an
// operation does no label lookups for known servers.
type recorder struct {
	m       *Metrics
	index   map[string]int
	ops     [numOps][][numResults]prometheus.Counter // [op][server][result]
	errs    [numOps][][numResults]prometheus.Counter // [op][server][class]
	viol    [numOps][]prometheus.Counter             // [op][server]
	dur     [numOps]prometheus.Observer
	sdur    []prometheus.Observer
	offered prometheus.Counter
	dropped prometheus.Counter
	lag     prometheus.Observer
}

func newRecorder(m *Metrics, servers []string) *recorder {
	rc := &recorder{m: m, index: make(map[string]int), offered: m.Offered, dropped: m.Dropped, lag: m.ScheduleLag}
	for s, name := range servers {
		rc.index[name] = s
		rc.sdur = append(rc.sdur, m.ServerDuration.WithLabelValues(name))
	}
	for op := range numOps {
		o := op.String()
		rc.dur[op] = m.Duration.WithLabelValues(o)
		rc.ops[op] = make([][numResults]prometheus.Counter, len(servers))
		rc.errs[op] = make([][numResults]prometheus.Counter, len(servers))
		rc.viol[op] = make([]prometheus.Counter, len(servers))
		for s, name := range servers {
			for res := range numResults {
				rc.ops[op][s][res] = m.Operations.WithLabelValues(o, name, res.String())
				if res.IsError() {
					rc.errs[op][s][res] = m.Errors.WithLabelValues(o, name, res.String())
				}
			}
			rc.viol[op][s] = m.Violations.WithLabelValues(o, name)
		}
	}
	return rc
}

func (rc *recorder) record(op Op, server string, res Result, d time.Duration) {
	sec := d.Seconds()
	rc.dur[op].Observe(sec)
	s, ok := rc.index[server]
	if !ok { // a server not given in Config.Servers: slow path
		rc.m.Operations.WithLabelValues(op.String(), server, res.String()).Inc()
		if res.IsError() {
			rc.m.Errors.WithLabelValues(op.String(), server, res.String()).Inc()
		}
		rc.m.ServerDuration.WithLabelValues(server).Observe(sec)
		return
	}
	rc.ops[op][s][res].Inc()
	if res.IsError() {
		rc.errs[op][s][res].Inc()
	}
	rc.sdur[s].Observe(sec)
}

func (rc *recorder) violation(op Op, server string) {
	if s, ok := rc.index[server]; ok {
		rc.viol[op][s].Inc()
		return
	}
	rc.m.Violations.WithLabelValues(op.String(), server).Inc()
}
