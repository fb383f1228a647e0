package memcache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Benchmarks as users run the client: three local memcached servers (no
// proxy), beside github.com/bradfitz/gomemcache in the same run, with the
// same timeout, the same key placement (CRC32Modulo is gomemcache's) and
// enough idle connections for the goroutines. `make bench-client` runs
// them in interleaved rounds (MCCHAOS_BENCH_REVERSE=1 puts gomemcache
// first); compare with
//
//	benchstat -col /client bench.txt
//
// Rows: op={Get,Set,GetMulti,Miss}/size={100,4096,102400}/client={mcchaos,gomemcache}/goroutines={1,16}.
// GetMulti reads 100 keys spread over the three servers; Miss gets absent keys.
//
// Buffers: mcchaos lends a 16 KiB read and a 4 KiB write buffer to each
// operation in progress (readBufSize, writeBufSize; an idle connection has
// none), gomemcache keeps bufio's default 4 KiB each on every connection.

// benchClient is the part of a client the benchmarks call.
type benchClient interface {
	get(key string) ([]byte, error)
	getMulti(keys []string) (int, error)
	set(key string, value []byte) error
}

type ours struct{ c *Client }

func (o ours) get(key string) ([]byte, error) {
	it, err := o.c.Get(context.Background(), key)
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

func (o ours) getMulti(keys []string) (int, error) {
	m, err := o.c.GetMulti(context.Background(), keys)
	return len(m), err
}

func (o ours) set(key string, value []byte) error {
	return o.c.Set(context.Background(), &Item{Key: key, Value: value})
}

type theirs struct{ c *memcache.Client }

func (o theirs) get(key string) ([]byte, error) {
	it, err := o.c.Get(key)
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

func (o theirs) getMulti(keys []string) (int, error) {
	m, err := o.c.GetMulti(keys)
	return len(m), err
}

func (o theirs) set(key string, value []byte) error {
	return o.c.Set(&memcache.Item{Key: key, Value: value})
}

// isMiss reports whether err is either client's cache miss.
func isMiss(err error) bool { return err == ErrCacheMiss || err == memcache.ErrCacheMiss }

func BenchmarkClients(b *testing.B) {
	env := newEnv(b)
	addrs := env.direct()
	// Generous: on a shared machine a stall of the servers is a slow
	// sample, not a failed benchmark.
	const timeout = 5 * time.Second
	clients := []struct {
		name string
		new  func() (benchClient, func())
	}{
		{"mcchaos", func() (benchClient, func()) {
			c, err := New(Config{Servers: addrs, Timeout: timeout, Selector: CRC32Modulo})
			if err != nil {
				b.Fatal(err)
			}
			return ours{c}, func() { c.Close() }
		}},
		{"gomemcache", func() (benchClient, func()) {
			c := memcache.New(addrs...)
			c.Timeout = timeout
			c.MaxIdleConns = 32
			return theirs{c}, func() { c.Close() }
		}},
	}
	if os.Getenv("MCCHAOS_BENCH_REVERSE") == "1" {
		slices.Reverse(clients)
	}
	type row struct {
		op   string
		size int
	}
	var rows []row
	for _, op := range []string{"Get", "Set"} {
		for _, size := range []int{100, 4 << 10, 100 << 10} {
			rows = append(rows, row{op, size})
		}
	}
	rows = append(rows, row{"GetMulti", 100}, row{"GetMulti", 4 << 10}, row{"Miss", 100})
	const nkeys, multi = 300, 100
	var keys, missing [nkeys]string
	for i := range keys {
		keys[i] = fmt.Sprintf("bench-%d", i)
		missing[i] = fmt.Sprintf("bench-missing-%d", i)
	}
	for _, rw := range rows {
		value := bytes.Repeat([]byte("v"), rw.size)
		for _, cl := range clients {
			for _, g := range []int{1, 16} {
				b.Run(fmt.Sprintf("op=%s/size=%d/client=%s/goroutines=%d", rw.op, rw.size, cl.name, g), func(b *testing.B) {
					c, closeFn := cl.new()
					defer closeFn()
					for i := range keys {
						if err := c.set(keys[i], value); err != nil {
							b.Fatal(err)
						}
					}
					run := func(i int) {
						var err error
						switch rw.op {
						case "Get":
							var v []byte
							if v, err = c.get(keys[i%nkeys]); err == nil && len(v) != rw.size {
								b.Errorf("got %d bytes", len(v))
							}
						case "Miss":
							if _, err = c.get(missing[i%nkeys]); isMiss(err) {
								err = nil
							}
						case "GetMulti":
							start := i * multi % nkeys
							var n int
							if n, err = c.getMulti(keys[start : start+multi]); err == nil && n != multi {
								b.Errorf("got %d items", n)
							}
						case "Set":
							err = c.set(keys[i%nkeys], value)
						}
						if err != nil {
							b.Error(err)
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					cpu0 := cpuTime()
					if g == 1 {
						for i := 0; i < b.N; i++ {
							run(i)
						}
					} else {
						b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
						b.RunParallel(func(pb *testing.PB) {
							for i := 0; pb.Next(); i++ {
								run(i)
							}
						})
					}
					// The client's own CPU (user+sys of this process) per
					// operation: robust to the noise of a shared machine, where
					// ns/op is mostly the round trip to memcached.
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// cpuTime is the user+system CPU time this process has used, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
