package loadgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sumVec adds up every series of a counter vector.
func sumVec(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1024)
	go func() { c.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		sum += testutil.ToFloat64(m.(prometheus.Collector))
	}
	return sum
}

// TestIntegrityCatchesBrokenDriver runs the mixed workload through drivers
// that sometimes answer a get wrongly, and checks that every wrong answer is
// counted and logged, and that a correct driver under the same concurrent
// load (many writers per hot key) gives none.
func TestIntegrityCatchesBrokenDriver(t *testing.T) {
	otherKey := func(d driver.Driver, key string, _ []byte) []byte {
		// The value of another key (as a response mix-up would give).
		i, _ := strconv.Atoi(strings.TrimPrefix(key, DataKeyPrefix))
		for j := 1; j < 200; j++ {
			k := DataKeyPrefix + strconv.Itoa((i+j)%200)
			if v, err := d.Get(context.Background(), k); err == nil {
				return v
			}
		}
		return nil
	}
	tests := []struct {
		name  string
		brk   func(d driver.Driver, key string, v []byte) []byte
		inLog string
	}{
		{"correct", nil, ""},
		{"another key's value", otherKey, "value of key"},
		{"truncated", func(_ driver.Driver, _ string, v []byte) []byte { return v[:len(v)*2/3] }, "torn or truncated"},
		{"torn", func(_ driver.Driver, _ string, v []byte) []byte {
			w := append([]byte(nil), v...)
			w[len(w)/2] = '#'
			return w
		}, "checksum mismatch"},
		{"empty", func(_ driver.Driver, _ string, v []byte) []byte { return []byte{} }, "not a loadgen value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemDriver()
			d := &brokenDriver{Driver: mem, Every: 7, Break: tt.brk}
			var drv driver.Driver = d
			if tt.brk == nil {
				drv = mem
			}
			m := NewMetrics(prometheus.NewRegistry())
			var log syncBuffer
			sum, err := Run(context.Background(), Config{
				Driver: drv, Servers: memServers, Metrics: m, Log: &log,
				Keys:        Keyspace{Size: 200, HotKeys: 5, HotRatio: 0.5},
				Concurrency: 16, Duration: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := sumVec(t, m.Violations)
			if uint64(got) != sum.Violations {
				t.Errorf("metric says %g violations, summary %d", got, sum.Violations)
			}
			if want := d.bad.Load(); tt.brk != nil && (want == 0 || uint64(got) != want) {
				t.Errorf("violations = %g, want %d (every wrong answer)", got, want)
			}
			if tt.brk == nil && got != 0 {
				t.Errorf("violations = %g with a correct driver; log:\n%s", got, log.String())
			}
			if tt.inLog != "" {
				first, _, _ := strings.Cut(log.String(), "\n")
				for _, want := range []string{"integrity violation", "key=" + DataKeyPrefix, "server=mc", "expected=", tt.inLog} {
					if !strings.Contains(first, want) {
						t.Errorf("log line %q lacks %q", first, want)
					}
				}
			}
			if sum.Completed == 0 {
				t.Error("no operation completed")
			}
		})
	}
}

// TestOpenLoopDropsOverCap: with operations slower than the cap allows, the
// generator keeps offering at its rate and counts the excess as dropped.
func TestOpenLoopDropsOverCap(t *testing.T) {
	mem := newMemDriver()
	mem.delay = 50 * time.Millisecond // 4 in flight → at most 80 ops/s
	m := NewMetrics(prometheus.NewRegistry())
	sum, err := Run(context.Background(), Config{
		Driver: mem, Servers: memServers, Metrics: m, NoPreload: true,
		Rate: 400, Concurrency: 4, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	offered, dropped := testutil.ToFloat64(m.Offered), testutil.ToFloat64(m.Dropped)
	if want := 400 * sum.Elapsed.Seconds(); offered < want-2 || offered > want+2 {
		t.Errorf("offered %g in %s at 400/s, want %.0f", offered, sum.Elapsed, want)
	}
	if dropped < offered/2 {
		t.Errorf("dropped %g of %g, want most: 4 in flight of 50ms each", dropped, offered)
	}
	if sum.Completed+sum.Dropped < sum.Offered-4 || sum.Completed > 100 {
		t.Errorf("summary %+v: completed + dropped should account for offered", sum)
	}
}

// TestOpenLoopLatencyFromIntendedStart: when the driver stalls, latency is
// measured from when each operation was due, not from when it started.
func TestOpenLoopLatencyFromIntendedStart(t *testing.T) {
	mem := newMemDriver()
	mem.delay = 20 * time.Millisecond
	m := NewMetrics(prometheus.NewRegistry())
	// 1 worker, 100/s: every op waits behind the previous ones → queueing
	// would hide in a latency measured from the actual start.
	_, err := Run(context.Background(), Config{
		Driver: mem, Servers: memServers, Metrics: m, NoPreload: true,
		Rate: 100, Concurrency: 1, Duration: 500 * time.Millisecond,
		Workload: Mix{OpGet: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	// With cap 1, due ops arriving while one is in flight are dropped, so
	// the ones that run start within one interval of being due: latency
	// is at least the delay.
	h := histogramOf(t, m.Duration, "get")
	if h.count == 0 || h.sum/float64(h.count) < 0.020 {
		t.Errorf("mean latency %gs over %d ops, want >= 20ms", h.sum/float64(h.count), h.count)
	}
}

type histo struct {
	count uint64
	sum   float64
}

func histogramOf(t *testing.T, v *prometheus.HistogramVec, labels ...string) histo {
	t.Helper()
	pb := new(dto.Metric)
	if err := v.WithLabelValues(labels...).(prometheus.Metric).Write(pb); err != nil {
		t.Fatal(err)
	}
	return histo{pb.GetHistogram().GetSampleCount(), pb.GetHistogram().GetSampleSum()}
}

func TestClosedLoop(t *testing.T) {
	mem := newMemDriver()
	m := NewMetrics(prometheus.NewRegistry())
	sum, err := Run(context.Background(), Config{
		Driver: mem, Servers: memServers, Metrics: m,
		Concurrency: 4, Duration: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Offered == 0 || sum.Completed < sum.Offered {
		t.Errorf("summary %+v: every offered op completes (plus counter-creating sets)", sum)
	}
	if got := sumVec(t, m.Operations); uint64(got) != sum.Completed {
		t.Errorf("operations_total %g, completed %d", got, sum.Completed)
	}
	if sum.Dropped != 0 || testutil.ToFloat64(m.Dropped) != 0 {
		t.Errorf("closed loop dropped %d", sum.Dropped)
	}
}

func TestMixProportions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mix := Workloads["mixed"]
	var n [numOps]int
	const draws = 100000
	for range draws {
		n[mix.Next(r)]++
	}
	want := [numOps]float64{0.60, 0.30, 0.05, 0.05}
	for op := range numOps {
		if got := float64(n[op]) / draws; got < want[op]-0.01 || got > want[op]+0.01 {
			t.Errorf("%s: %.3f of draws, want %.2f", op, got, want[op])
		}
	}
}

func TestKeyspaceHotRatio(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	k := Keyspace{}.withDefaults()
	hot := 0
	const draws = 100000
	for range draws {
		i := k.Next(r)
		if i < 0 || i >= k.Size {
			t.Fatalf("index %d outside keyspace %d", i, k.Size)
		}
		if i < k.HotKeys {
			hot++
		}
	}
	if got := float64(hot) / draws; got < 0.29 || got > 0.31 {
		t.Errorf("hot share %.3f, want 0.30", got)
	}
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"100", "100"},
		{"128-1024", "128-1024"},
		{"100:9,10000:1", "100:9,10000:1"},
		{"0", ""},
		{"1024-128", ""},
		{"100:0", ""},
		{"2000000", ""},
		{"big", ""},
	}
	for _, tt := range tests {
		s, err := ParseSizes(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseSizes(%q) = %v, want an error", tt.in, s)
		case tt.want != "" && err != nil:
			t.Errorf("ParseSizes(%q): %v", tt.in, err)
		case tt.want != "" && s.String() != tt.want:
			t.Errorf("ParseSizes(%q) = %v, want %v", tt.in, s, tt.want)
		}
	}
}

func TestParseServers(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{DefaultServers, "mc1=127.0.0.1:21211 mc2=127.0.0.1:21212 mc3=127.0.0.1:21213"},
		{"127.0.0.1:1,127.0.0.1:2", "mc1=127.0.0.1:1 mc2=127.0.0.1:2"},
		{"a=127.0.0.1:1", "a=127.0.0.1:1"},
		{"a=127.0.0.1:1,127.0.0.1:2", ""}, // names for all or none
		{"a=127.0.0.1:1,a=127.0.0.1:2", ""},
		{"127.0.0.1", ""},
	}
	for _, tt := range tests {
		got, err := ParseServers(tt.in)
		var parts []string
		for _, s := range got {
			parts = append(parts, s.Name+"="+s.Addr)
		}
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseServers(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("ParseServers(%q): %v", tt.in, err)
		case tt.want != "" && strings.Join(parts, " ") != tt.want:
			t.Errorf("ParseServers(%q) = %v, want %v", tt.in, parts, tt.want)
		}
	}
}

func TestKeyspaceValidate(t *testing.T) {
	tests := []struct {
		k  Keyspace
		ok bool
	}{
		{Keyspace{}, true}, // defaults
		{Keyspace{Size: 10, HotKeys: 10, HotRatio: 1}, true},    // all hot
		{Keyspace{Size: 10, HotKeys: 10, HotRatio: 0.5}, false}, // no cold key to draw
		{Keyspace{Size: 10, HotKeys: 11, HotRatio: 1}, false},   // hot set beyond the keyspace
		{Keyspace{Size: 1, HotKeys: -1}, true},                  // no hot set
		{Keyspace{Size: 10, HotRatio: 1.5}, false},              // not a fraction
		{Keyspace{Size: MaxKeyspace + 1}, false},                // too big to track
	}
	for _, tt := range tests {
		if err := tt.k.withDefaults().validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: validate = %v, want ok %v", tt.k, err, tt.ok)
		}
	}
}
