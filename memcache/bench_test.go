package memcache

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Benchmarks against one local memcached (no proxy), beside
// github.com/bradfitz/gomemcache with the same timeout and enough idle
// connections for the goroutines. Run with:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./memcache
//
// Rows: op={Get,Set}/client={mcchaos,gomemcache}/goroutines={1,16};
// compare with benchstat -col /client.

const benchValueSize = 100

type benchClient interface {
	get(key string) ([]byte, error)
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

func (o theirs) set(key string, value []byte) error {
	return o.c.Set(&memcache.Item{Key: key, Value: value})
}

func BenchmarkClients(b *testing.B) {
	env := newEnv(b)
	addr := env.Servers[0].Addr
	const timeout = 500 * time.Millisecond
	clients := []struct {
		name string
		new  func() (benchClient, func())
	}{
		{"mcchaos", func() (benchClient, func()) {
			c, err := New(Config{Servers: []string{addr}, Timeout: timeout})
			if err != nil {
				b.Fatal(err)
			}
			return ours{c}, func() { c.Close() }
		}},
		{"gomemcache", func() (benchClient, func()) {
			c := memcache.New(addr)
			c.Timeout = timeout
			c.MaxIdleConns = 32
			return theirs{c}, func() { c.Close() }
		}},
	}
	value := bytes.Repeat([]byte("v"), benchValueSize)
	for _, op := range []string{"Get", "Set"} {
		for _, cl := range clients {
			for _, g := range []int{1, 16} {
				b.Run(fmt.Sprintf("op=%s/client=%s/goroutines=%d", op, cl.name, g), func(b *testing.B) {
					c, closeFn := cl.new()
					defer closeFn()
					const nkeys = 64
					var keys [nkeys]string
					for i := range keys {
						keys[i] = fmt.Sprintf("bench-%d", i)
						if err := c.set(keys[i], value); err != nil {
							b.Fatal(err)
						}
					}
					run := func(i int) {
						var err error
						if op == "Get" {
							var v []byte
							v, err = c.get(keys[i%nkeys])
							if err == nil && len(v) != benchValueSize {
								b.Errorf("got %d bytes", len(v))
							}
						} else {
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
