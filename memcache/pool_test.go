package memcache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/sony/gobreaker/v2"
)

// TestPoolMaintenance: the health check keeps MinIdle connections, closes
// connections idle too long, and finds idle connections the server closed
// without waiting for an operation to trip on them.
func TestPoolMaintenance(t *testing.T) {
	env := newEnv(t)
	t.Run("min idle", func(t *testing.T) {
		c := newClient(t, Config{Servers: env.direct()[:1], Pool: PoolConfig{MinIdle: 3, HealthCheckInterval: 10 * time.Millisecond}})
		eventually(t, 2*time.Second, "3 idle connections", func() bool {
			st := c.Stats()[0].Pool
			return st.Idle == 3 && st.Total == 3
		})
		// Those connections serve without waiting or dialing.
		if _, err := c.Get(ctxT(t), "k"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		if st := c.Stats()[0].Pool; st.Created != 3 || st.EmptyAcquires != 0 {
			t.Fatalf("stats %+v: want the first get served by a warm connection", st)
		}
	})
	t.Run("max idle time", func(t *testing.T) {
		c := newClient(t, Config{Servers: env.direct()[:1], Pool: PoolConfig{MaxIdleTime: 30 * time.Millisecond, HealthCheckInterval: 10 * time.Millisecond}})
		if _, err := c.Get(ctxT(t), "k"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "the idle connection closed", func() bool {
			st := c.Stats()[0].Pool
			return st.Total == 0 && st.Destroyed == 1
		})
	})
	t.Run("max lifetime", func(t *testing.T) {
		c := newClient(t, Config{Servers: env.direct()[:1], Pool: PoolConfig{MaxLifetime: 30 * time.Millisecond, HealthCheckInterval: 10 * time.Millisecond}})
		if _, err := c.Get(ctxT(t), "k"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "the old connection closed", func() bool {
			return c.Stats()[0].Pool.Destroyed == 1
		})
	})
	t.Run("live idle connection kept after its deadline", func(t *testing.T) {
		// The health check runs only when called here; the operation's
		// deadline (Timeout after it started) passes before it does.
		const timeout = 20 * time.Millisecond
		c := newClient(t, Config{Servers: env.direct()[:1], Timeout: timeout, Pool: PoolConfig{HealthCheckInterval: time.Hour}})
		start := time.Now()
		if _, err := c.Get(ctxT(t), "k"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		eventually(t, time.Second, "the operation's deadline passed", func() bool { return time.Since(start) > 2*timeout })
		c.servers[0].checkPool()
		if st := c.Stats()[0].Pool; st.Destroyed != 0 || st.Idle != 1 {
			t.Fatalf("stats %+v: the health check destroyed a live idle connection", st)
		}
	})
	t.Run("closed by the server", func(t *testing.T) {
		c := newClient(t, Config{Servers: env.proxied()[:1], Pool: PoolConfig{HealthCheckInterval: 10 * time.Millisecond}})
		ctx := ctxT(t)
		if _, err := c.Get(ctx, "k"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		p, err := env.toxi.Proxy(env.Servers[0].Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Disable(); err != nil { // closes every connection through the proxy
			t.Fatal(err)
		}
		if err := p.Enable(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "the dead idle connection closed by the health check", func() bool {
			st := c.Stats()[0].Pool
			return st.Destroyed == 1 && st.Total == 0
		})
		if _, err := c.Get(ctx, "k"); err != ErrCacheMiss {
			t.Fatalf("first get after the server closed the connection: %v", err)
		}
	})
}

// TestPoolTimeout: when every connection is busy past the deadline, the
// operation fails with ErrPoolTimeout and OnAcquire sees the wait.
func TestPoolTimeout(t *testing.T) {
	env := newEnv(t)
	var waits, fails atomic.Int64
	c := newClient(t, Config{
		Servers: env.proxied()[:1], Timeout: 400 * time.Millisecond, DisableBreaker: true,
		Pool: PoolConfig{MaxSize: 1},
		OnAcquire: func(server string, wait time.Duration, err error) {
			if wait > 0 {
				waits.Add(1)
			}
			if err != nil {
				fails.Add(1)
			}
		},
	})
	ctx := ctxT(t)
	if _, err := c.Get(ctx, "k"); err != ErrCacheMiss {
		t.Fatal(err)
	}
	env.toxic(t, 0, "latency", "downstream", toxiproxy.Attributes{"latency": 200})
	slow := make(chan error)
	go func() { _, err := c.Get(ctx, "k"); slow <- err }() // holds the only connection ~200 ms
	eventually(t, time.Second, "the slow get holds the connection", func() bool { return c.Stats()[0].Pool.Active == 1 })
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond) // an earlier context deadline wins
	defer cancel()
	_, err := c.Get(short, "k")
	if Classify(err) != ClassPoolTimeout || !errors.Is(err, ErrPoolTimeout) {
		t.Fatalf("Get with the pool exhausted = %v (class %s), want pool timeout", err, Classify(err))
	}
	if err := <-slow; err != ErrCacheMiss {
		t.Fatalf("slow get: %v", err)
	}
	st := c.Stats()[0].Pool
	if st.AcquireErrors != 1 || fails.Load() != 1 || waits.Load() < 1 {
		t.Fatalf("stats %+v, OnAcquire waits %d fails %d", st, waits.Load(), fails.Load())
	}
}

// TestCanceledContext: a canceled context fails at once and does not count
// against the breaker.
func TestCanceledContext(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Get(ctx, "k")
	if Classify(err) != ClassCanceled {
		t.Fatalf("Get with a canceled context = %v (class %s)", err, Classify(err))
	}
	for _, s := range c.Stats() {
		if s.Breaker.Counts.Requests != 0 {
			t.Fatalf("breaker counted a canceled request: %+v", s.Breaker)
		}
	}
}

// TestFailover: with Failover, an operation whose server's breaker is open
// goes to the next server; without it, it fails fast. GetMulti returns the
// healthy servers' items and an error naming the broken one.
func TestFailover(t *testing.T) {
	env := newEnv(t)
	for _, failover := range []bool{false, true} {
		c := newClient(t, Config{
			Servers: env.proxied(), Timeout: 200 * time.Millisecond, Failover: failover,
			Breaker: gobreaker.Settings{Timeout: time.Minute, ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 }},
		})
		ctx := ctxT(t)
		k0, k1 := keyFor(t, c, 0, "fo"), keyFor(t, c, 1, "fo")
		for _, k := range []string{k0, k1} {
			if err := c.Set(ctx, &Item{Key: k, Value: []byte(k)}); err != nil {
				t.Fatal(err)
			}
		}
		remove := env.toxic(t, 0, "timeout", "both", toxiproxy.Attributes{"timeout": 0})
		if _, err := c.Get(ctx, k0); Classify(err) != ClassTimeout { // trips the breaker
			t.Fatalf("failover=%v: first get on the blackholed server: %v", failover, err)
		}
		err := c.Set(ctx, &Item{Key: k0, Value: []byte("during")})
		if failover != (err == nil) {
			t.Fatalf("failover=%v: set while open = %v", failover, err)
		}
		if failover {
			it, err := c.Get(ctx, k0)
			if err != nil || string(it.Value) != "during" {
				t.Fatalf("get from the fallback server: %v, %v", it, err)
			}
		}
		items, err := c.GetMulti(ctx, []string{k0, k1})
		if !errors.Is(err, ErrCircuitOpen) || !strings.Contains(err.Error(), env.proxied()[0]) {
			t.Fatalf("failover=%v: GetMulti error %v, want circuit open naming %s", failover, err, env.proxied()[0])
		}
		if len(items) != 1 || items[k1] == nil || string(items[k1].Value) != k1 {
			t.Fatalf("failover=%v: GetMulti items %v, want only %s", failover, items, k1)
		}
		remove()
	}
}
