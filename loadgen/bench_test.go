package loadgen

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/loadgen/driver"
	"github.com/mcchaos/mcchaos/memcache"
)

// cpuTime returns the CPU time (user + system) this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureCPU runs f and reports its process CPU time per operation as
// cpu-ns/op, the figure the ≤ 10 % overhead target is about.
func measureCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime(b)
	b.ResetTimer()
	f()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// benchServers starts memcached servers for a benchmark; clients dial them
// directly, without toxiproxy, to keep the proxy's CPU out of the figures.
func benchServers(b *testing.B) []driver.Server {
	s := stacktest.Start(b, stacktest.Options{})
	var servers []driver.Server
	for _, sv := range s.Servers {
		servers = append(servers, driver.Server{Name: sv.Name, Addr: sv.Addr})
	}
	return servers
}

// direct is the mixed workload called on the client without loadgen: a
// random key, a fixed value, nothing checked or recorded. Its keys are not
// loadgen's, since its values carry no proof of integrity.
type direct struct {
	c     *memcache.Client
	keys  []string
	value []byte
}

func newDirect(b *testing.B, servers []driver.Server) *direct {
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addr)
	}
	c, err := memcache.New(memcache.Config{Servers: addrs, Pool: memcache.PoolConfig{MaxSize: driver.DefaultPoolSize}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	d := &direct{c: c, keys: make([]string, DefaultKeyspace), value: make([]byte, 576)} // 576: DefaultSizes' mean
	for i := range d.keys {
		d.keys[i] = "bench:" + strconv.Itoa(i)
	}
	return d
}

func (d *direct) op(r *rand.Rand) {
	ctx := context.Background()
	key := d.keys[r.IntN(len(d.keys))]
	switch n := r.IntN(100); {
	case n < 60:
		d.c.Get(ctx, key)
	case n < 90:
		d.c.Set(ctx, &memcache.Item{Key: key, Value: d.value})
	case n < 95:
		d.c.Delete(ctx, key)
	default:
		d.c.Increment(ctx, key, 1)
	}
}

// newBenchRunner returns a runner of the mixed workload through our client.
func newBenchRunner(b *testing.B, servers []driver.Server, rate float64) *runner {
	m := NewMetrics(prometheus.NewRegistry())
	d, _, err := driver.Open("ours", driver.Settings{Servers: servers, OnBreakerChange: m.BreakerChanged, OnAcquire: m.Acquired})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	r, err := newRunner(Config{Driver: d, Servers: []string{"mc1", "mc2", "mc3"}, Metrics: m, Rate: rate})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if v := r.viol.Load(); v != 0 {
			b.Errorf("%d integrity violations", v)
		}
	})
	return r
}

// closedLoop runs the closed-loop worker body b.N times over goroutines.
func (r *runner) benchClosed(b *testing.B) {
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	measureCPU(b, func() {
		b.RunParallel(func(pb *testing.PB) {
			w := r.newWorker()
			for pb.Next() {
				r.offered.Add(1)
				r.rec.offered.Inc()
				r.do(w, time.Now())
			}
		})
	})
}

// benchOpen runs the open loop until b.N operations were offered.
func (r *runner) benchOpen(b *testing.B) {
	stop := make(chan struct{})
	go func() {
		for r.offered.Load() < uint64(b.N) {
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
	}()
	measureCPU(b, func() { r.openLoop(stop, time.Now()) })
	b.ReportMetric(float64(r.dropped.Load())/float64(r.offered.Load()), "dropped/op")
}

// BenchmarkOverhead compares the CPU per operation of the mixed workload
// run by loadgen (closed loop: key choice, value encoding, integrity
// check, metrics) with the same operations called on the client directly,
// against real memcached servers.
func BenchmarkOverhead(b *testing.B) {
	servers := benchServers(b)
	b.Run("direct", func(b *testing.B) {
		d := newDirect(b, servers)
		b.SetParallelism(8)
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 1))
				for pb.Next() {
					d.op(r)
				}
			})
		})
	})
	b.Run("loadgen", func(b *testing.B) { newBenchRunner(b, servers, 0).benchClosed(b) })
}

// BenchmarkOpenLoop compares, at the bench profiles' rate, the CPU per
// operation of loadgen's open loop (pacer, in-flight cap, workers, value
// integrity, metrics) with a minimal open-loop caller: a pacer starting
// one goroutine per operation that calls the client directly.
func BenchmarkOpenLoop(b *testing.B) {
	const rate = 2000
	servers := benchServers(b)
	b.Run("direct", func(b *testing.B) {
		d := newDirect(b, servers)
		measureCPU(b, func() {
			// Timers here fire about every millisecond at best, so start
			// every operation due by now on each wake, as loadgen does.
			r := rand.New(rand.NewPCG(1, 2))
			done := make(chan struct{}, b.N)
			start := time.Now()
			for i := 0; i < b.N; {
				for due := min(b.N, int(time.Since(start).Seconds()*rate)+1); i < due; i++ {
					r := rand.New(rand.NewPCG(r.Uint64(), 0))
					go func() { d.op(r); done <- struct{}{} }()
				}
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
			}
			for range b.N {
				<-done
			}
		})
	})
	b.Run("loadgen", func(b *testing.B) { newBenchRunner(b, servers, rate).benchOpen(b) })
}

// nopDriver is a correct store of one value without I/O: loadgen's own
// work per operation is measured with it (a read copies the value, as a
// client reading it from a socket would).
type nopDriver struct {
	mu    sync.Mutex
	key   string
	value []byte // nil: absent
}

func (d *nopDriver) Get(_ context.Context, key string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if key != d.key || d.value == nil {
		return nil, driver.ErrCacheMiss
	}
	return append([]byte(nil), d.value...), nil
}

func (d *nopDriver) Set(_ context.Context, key string, v []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if key == d.key {
		d.value = append(d.value[:0], v...)
	}
	return nil
}

func (d *nopDriver) Delete(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.value = nil
	return nil
}

func (*nopDriver) Increment(context.Context, string, uint64) (uint64, error) { return 1, nil }
func (*nopDriver) ServerFor(string) string                                   { return "mc1" }
func (*nopDriver) Close() error                                              { return nil }

// BenchmarkLoadgenOnly is loadgen's own work per operation with a client
// that does nothing: the absolute overhead, closed loop and open loop (the
// pacer and the hand-off to a worker, at ten times the profiles' rate).
func BenchmarkLoadgenOnly(b *testing.B) {
	newR := func(b *testing.B, rate float64) *runner {
		r, err := newRunner(Config{
			Driver: &nopDriver{key: DataKeyPrefix + "0"}, Servers: []string{"mc1"}, Run: 1, Rate: rate,
			Keys: Keyspace{Size: 1, HotKeys: -1},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if v := r.viol.Load(); v != 0 {
				b.Errorf("%d integrity violations", v)
			}
		})
		return r
	}
	b.Run("closed", func(b *testing.B) { newR(b, 0).benchClosed(b) })
	b.Run("open", func(b *testing.B) { newR(b, 20_000).benchOpen(b) })
}
