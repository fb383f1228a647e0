package loadgen

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// TestOracle judges scripted histories of one key. Steps run in order on
// the real clock; tick makes sure the next step starts strictly later.
func TestOracle(t *testing.T) {
	const key = DataKeyPrefix + "0"
	codec := Codec{Run: 7}
	type script struct {
		o    *Oracle
		vers map[string]uint64
	}
	tick := func(o *Oracle) {
		for t0 := o.Now(); o.Now() == t0; {
		}
	}
	begin := func(s *script, name string, del bool) { tick(s.o); s.vers[name] = s.o.Begin(0, del) }
	end := func(s *script, name string, out Outcome) { tick(s.o); s.o.End(0, s.vers[name], out) }
	write := func(s *script, name string, out Outcome) { begin(s, name, false); end(s, name, out) }
	for _, tc := range []struct {
		name string
		run  func(s *script)
		read string // the write whose value the read returns
		want string // "" accepted, else a part of the violation's reason
	}{
		// The last acknowledged write.
		{"latest", func(s *script) { write(s, "a", Acked); write(s, "b", Acked) }, "b", ""},
		// (a) The previous version after a newer acknowledged write.
		{"stale", func(s *script) { write(s, "a", Acked); write(s, "b", Acked) }, "a", "stale value"},
		// A write in flight may or may not have been applied.
		{"in flight", func(s *script) { write(s, "a", Acked); begin(s, "b", false) }, "b", ""},
		{"older while newer in flight", func(s *script) { write(s, "a", Acked); begin(s, "b", false) }, "a", ""},
		// Overlapping writes may be applied in either order.
		{"overlapping writes", func(s *script) {
			begin(s, "a", false)
			begin(s, "b", false)
			end(s, "b", Acked)
			end(s, "a", Acked)
		}, "b", ""},
		// A failed write may land at any time, even after newer ones.
		{"failed write", func(s *script) { write(s, "a", Failed); write(s, "b", Acked) }, "a", ""},
		// (b) A value after an acknowledged delete.
		{"resurrected", func(s *script) {
			write(s, "a", Acked)
			begin(s, "d", true)
			end(s, "d", Acked)
		}, "a", "after an acknowledged delete"},
		// A delete in flight, or one that failed, may not have happened.
		{"delete in flight", func(s *script) { write(s, "a", Acked); begin(s, "d", true) }, "a", ""},
		{"delete failed", func(s *script) { write(s, "a", Acked); begin(s, "d", true); end(s, "d", Failed) }, "a", ""},
		// A write refused by the server (add of a present key) was never stored.
		{"refused", func(s *script) { write(s, "a", Acked); write(s, "b", Refused) }, "b", "refused"},
		// A refused write supersedes nothing.
		{"refused supersedes nothing", func(s *script) { write(s, "a", Acked); write(s, "b", Refused) }, "a", ""},
		// (c) A lost write: acknowledged, then older values come back,
		// long after (the old version is folded out of the history).
		{"lost write, folded", func(s *script) {
			write(s, "a", Acked)
			for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
				write(s, n, Acked)
			}
		}, "a", "stale value"},
		// Folded failed writes stay legal.
		{"failed write, folded", func(s *script) {
			write(s, "a", Failed)
			for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
				write(s, n, Acked)
			}
		}, "a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{o: NewOracle(codec, 1), vers: map[string]uint64{}}
			tc.run(s)
			tick(s.o)
			start := s.o.Now()
			bad := s.o.Check(0, key, codec.AppendValue(nil, key, s.vers[tc.read], 100), start)
			switch {
			case tc.want == "" && bad != nil:
				t.Fatalf("violation %v, want none", bad)
			case tc.want != "" && bad == nil:
				t.Fatalf("accepted, want %q", tc.want)
			case tc.want != "" && !strings.Contains(bad.Error(), tc.want):
				t.Fatalf("violation %v, want %q", bad, tc.want)
			}
		})
	}
	t.Run("never written", func(t *testing.T) {
		o := NewOracle(codec, 1)
		o.End(0, o.Begin(0, false), Acked)
		if bad := o.Check(0, key, codec.AppendValue(nil, key, 2, 100), o.Now()); bad == nil || !strings.Contains(bad.Reason, "never written") {
			t.Fatalf("version 2 of 1: %v", bad)
		}
	})
}

// store is an in-memory driver.Driver and driver.Multi, correct unless
// broken says how to misbehave. delay, if set, is slept before and after
// applying each operation, so that concurrent operations overlap.
type store struct {
	mu     sync.Mutex
	vals   map[string][]byte
	cas    map[string]uint64
	prev   map[string][]byte // the value before the last set or delete
	nextID uint64
	delay  time.Duration

	broken string // "stale", "resurrect" or "lost"
	every  int    // misbehave on every every-th get (set for "lost")
	n, bad int    // operations seen, wrong answers given
}

func newStore() *store {
	return &store{vals: map[string][]byte{}, cas: map[string]uint64{}, prev: map[string][]byte{}}
}

func (s *store) lock() {
	if s.delay > 0 {
		time.Sleep(time.Duration(rand.Int64N(int64(s.delay))))
	}
	s.mu.Lock()
}

func (s *store) unlock() {
	s.mu.Unlock()
	if s.delay > 0 {
		time.Sleep(time.Duration(rand.Int64N(int64(s.delay))))
	}
}

// get returns key's value, or the wrong one broken calls for.
// WARNING: s.mu must be held.
func (s *store) get(key string) ([]byte, bool) {
	v, ok := s.vals[key]
	s.n++
	if s.every > 0 && s.n%s.every == 0 && s.prev[key] != nil &&
		(s.broken == "stale" && ok || s.broken == "resurrect" && !ok) {
		s.bad++
		return s.prev[key], true
	}
	return v, ok
}

func (s *store) set(key string, v []byte) {
	if s.broken == "lost" {
		if s.n++; s.n%s.every == 0 {
			s.bad++
			return
		}
	}
	s.prev[key] = s.vals[key]
	s.vals[key] = append([]byte(nil), v...)
	s.nextID++
	s.cas[key] = s.nextID
}

func (s *store) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.Gets(ctx, key)
	return v, err
}

func (s *store) Gets(_ context.Context, key string) ([]byte, uint64, error) {
	s.lock()
	defer s.unlock()
	v, ok := s.get(key)
	if !ok {
		return nil, 0, driver.ErrCacheMiss
	}
	return append([]byte(nil), v...), s.cas[key], nil
}

func (s *store) GetMulti(_ context.Context, keys []string) (map[string][]byte, error) {
	s.lock()
	defer s.unlock()
	out := map[string][]byte{}
	for _, k := range keys {
		if v, ok := s.get(k); ok {
			out[k] = append([]byte(nil), v...)
		}
	}
	return out, nil
}

func (s *store) Set(_ context.Context, key string, v []byte) error {
	s.lock()
	defer s.unlock()
	s.set(key, v)
	return nil
}

func (s *store) Add(_ context.Context, key string, v []byte) error {
	s.lock()
	defer s.unlock()
	if _, ok := s.vals[key]; ok {
		return driver.ErrNotStored
	}
	s.set(key, v)
	return nil
}

func (s *store) CompareAndSwap(_ context.Context, key string, v []byte, cas uint64) error {
	s.lock()
	defer s.unlock()
	if _, ok := s.vals[key]; !ok {
		return driver.ErrCacheMiss
	}
	if s.cas[key] != cas {
		return driver.ErrNotStored
	}
	s.set(key, v)
	return nil
}

func (s *store) Delete(_ context.Context, key string) error {
	s.lock()
	defer s.unlock()
	v, ok := s.vals[key]
	if !ok {
		return driver.ErrCacheMiss
	}
	s.prev[key] = v
	delete(s.vals, key)
	return nil
}

func (s *store) Increment(context.Context, string, uint64) (uint64, error) { return 1, nil }

func (s *store) ServerFor(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return memServers[h.Sum32()%3]
}

func (s *store) Close() error { return nil }

// TestOracleCatchesBrokenDriver: a driver that returns (a) the previous
// version of a key after a newer acknowledged write, (b) a value after an
// acknowledged delete, or (c) loses an acknowledged write. One worker, so
// that every wrong answer is provably wrong: each is caught, and logged
// with both versions and their times.
func TestOracleCatchesBrokenDriver(t *testing.T) {
	for _, tc := range []struct {
		broken, workload, inLog string
		exact                   bool // every wrong answer is one violation
	}{
		{"stale", "mixed", "stale value", true},
		{"stale", "multi", "stale value", true},
		{"resurrect", "mixed", "after an acknowledged delete", true},
		{"resurrect", "multi", "after an acknowledged delete", true},
		// A lost write shows as the older value it left, read by later gets
		// (or by none, if a delete or write comes first).
		{"lost", "mixed", "stale value", false},
	} {
		t.Run(tc.broken+"/"+tc.workload, func(t *testing.T) {
			s := newStore()
			s.broken, s.every = tc.broken, 5
			m := NewMetrics(prometheus.NewRegistry())
			var log syncBuffer
			sum, err := Run(context.Background(), Config{
				Driver: s, Servers: memServers, Metrics: m, Log: &log, WorkloadName: tc.workload,
				Keys:        Keyspace{Size: 20, HotKeys: 2, HotRatio: 0.5},
				Concurrency: 1, Duration: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			bad := s.bad
			s.mu.Unlock()
			got := sumVec(t, m.Violations)
			switch {
			case bad == 0:
				t.Fatal("the driver gave no wrong answer")
			case uint64(got) != sum.Violations:
				t.Fatalf("metric says %g violations, summary %d", got, sum.Violations)
			case tc.exact && int(got) != bad:
				t.Fatalf("%g violations for %d wrong answers; log:\n%s", got, bad, log.String())
			case got == 0:
				t.Fatalf("%d lost writes, no violation", bad)
			}
			first, _, _ := strings.Cut(log.String(), "\n")
			for _, want := range []string{"integrity violation", "key=", "server=mc", "expected=", "got=", "read began", tc.inLog} {
				if !strings.Contains(first, want) {
					t.Errorf("log line %q lacks %q", first, want)
				}
			}
			if strings.Count(first, "version") < 2 || strings.Count(first, "s to ") < 2 {
				t.Errorf("log line %q lacks both versions and their times", first)
			}
			t.Logf("%d wrong answers, %g violations; first: %s", bad, got, first)
		})
	}
}

// TestOracleNoFalsePositives: a correct driver under many concurrent
// writers per hot key, operations overlapping by up to 400 µs, gives no
// violation in either workload.
func TestOracleNoFalsePositives(t *testing.T) {
	for _, workload := range []string{"mixed", "multi"} {
		t.Run(workload, func(t *testing.T) {
			s := newStore()
			s.delay = 200 * time.Microsecond
			m := NewMetrics(prometheus.NewRegistry())
			var log syncBuffer
			sum, err := Run(context.Background(), Config{
				Driver: s, Servers: memServers, Metrics: m, Log: &log, WorkloadName: workload,
				Keys:        Keyspace{Size: 30, HotKeys: 3, HotRatio: 0.8},
				Concurrency: 32, Duration: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Violations != 0 {
				t.Fatalf("%d violations with a correct driver; log:\n%s", sum.Violations, log.String())
			}
			if sum.Completed < 1000 {
				t.Fatalf("only %d operations", sum.Completed)
			}
		})
	}
}

// BenchmarkOracle is the oracle's cost per operation, each goroutine on a
// key of its own: "history" is a write (Begin, End) and the check of a
// read of its value (parse with CRC-32C of 576 bytes, then the history);
// "parse" is the form check alone, all that the old per-key counter added
// to it was two atomic operations.
func BenchmarkOracle(b *testing.B) {
	codec := Codec{Run: 1}
	const keys = 64
	for _, history := range []bool{true, false} {
		name := map[bool]string{true: "history", false: "parse"}[history]
		b.Run(name, func(b *testing.B) {
			o := NewOracle(codec, keys)
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)-1) % keys
				key := DataKeyPrefix + strconv.Itoa(i)
				v := o.Begin(i, false)
				o.End(i, v, Acked)
				value := codec.AppendValue(nil, key, v, 576)
				for pb.Next() {
					if !history {
						if _, _, bad := codec.Parse(value, key); bad != nil {
							b.Fatal(bad)
						}
						continue
					}
					o.End(i, o.Begin(i, true), Failed) // a delete that failed: history grows, nothing changes
					if bad := o.Check(i, key, value, o.Now()); bad != nil {
						b.Fatal(bad)
					}
				}
			})
		})
	}
}
