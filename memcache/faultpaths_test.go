package memcache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/sony/gobreaker/v2"
)

// Tests of the fault paths of issue 13: each failed before its fix.

// TestTokenCheckedBeforeValue: a response whose opaque token is not the
// request's is refused from its status line, without reading (or waiting
// for) the value it announces. The server is scripted: memcached never
// sends another request's response; a connection wrongly reused after a
// timeout does.
func TestTokenCheckedBeforeValue(t *testing.T) {
	// A stale response: another token, a large value that never comes.
	addr := scriptedServer(t, func(string) string { return "VA 500000 O4242\r\n" })
	const timeout = 500 * time.Millisecond
	c := newClient(t, Config{Servers: []string{addr}, Timeout: timeout, DisableBreaker: true})
	start := time.Now()
	_, err := c.Get(ctxT(t), "k")
	if took := time.Since(start); Classify(err) != ClassProtocol || took > timeout/2 {
		t.Fatalf("Get of a mismatched response = %v (class %s) after %v, want a protocol error at once", err, Classify(err), took)
	}
	start = time.Now()
	items, err := c.GetMulti(ctxT(t), []string{"k", "l"})
	if took := time.Since(start); Classify(err) != ClassProtocol || took > timeout/2 || len(items) != 0 {
		t.Fatalf("GetMulti of a mismatched response = %v, %v (class %s) after %v, want a protocol error at once", items, err, Classify(err), took)
	}
}

// TestStrayBytesDestroyConnection: a connection whose stream holds bytes
// past a complete response (here a second, unasked-for answer in the same
// write) is destroyed, not pooled: the next request must not read them.
// The server is scripted: memcached sends nothing unasked.
func TestStrayBytesDestroyConnection(t *testing.T) {
	var first atomic.Bool
	first.Store(true)
	addr := scriptedServer(t, func(line string) string {
		tok := line[strings.LastIndex(line, " O")+2:]
		reply := "EN O" + strings.TrimSpace(tok) + "\r\n"
		if first.Swap(false) {
			reply += "EN O4242\r\n"
		}
		return reply
	})
	c := newClient(t, Config{Servers: []string{addr}, DisableBreaker: true})
	for i := range 2 {
		if _, err := c.Get(ctxT(t), "k"); err != ErrCacheMiss {
			t.Fatalf("get %d = %v, want a miss", i, err)
		}
		if st := c.Stats()[0].Pool; i == 0 && st.Idle != 0 {
			t.Fatalf("after the stray answer: pool %+v, want its connection destroyed (no idle one)", st)
		}
	}
}

// TestGetMultiChecksKeys: GetMulti's gets answer must name the keys asked
// for, in order, after the token's answer. A scripted server echoes the
// token, then answers the gets with body.
func TestGetMultiChecksKeys(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // Classify of the error; ClassOK: item a found
	}{
		{"hit", "VALUE a 3 1 7\r\nx\r\nEND\r\n", ClassOK},
		{"another key", "VALUE z 3 1 7\r\nx\r\nEND\r\n", ClassProtocol},
		{"out of order", "VALUE b 3 1 7\r\nx\r\nVALUE a 3 1 7\r\nx\r\nEND\r\n", ClassProtocol},
		{"meta line in a gets answer", "HD O9\r\nEND\r\n", ClassProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptedServer(t, func(line string) string {
				if tok, ok := strings.CutPrefix(line, "mg a O"); ok {
					return "HD O" + strings.TrimSpace(tok) + "\r\n"
				}
				return tc.body
			})
			c := newClient(t, Config{Servers: []string{addr}, DisableBreaker: true})
			items, err := c.GetMulti(ctxT(t), []string{"a", "b"})
			if Classify(err) != tc.want {
				t.Fatalf("GetMulti = %v, %v (class %s), want class %s", items, err, Classify(err), tc.want)
			}
			if it := items["a"]; tc.want == ClassOK && (it == nil || string(it.Value) != "x" || it.Flags != 3 || it.CasID != 7 || len(items) != 1) {
				t.Fatalf("GetMulti items %v, want a = x (flags 3, CAS 7)", items)
			}
		})
	}
}

// scriptedServer answers every request line with reply(line) on a free
// loopback port until the test ends.
func scriptedServer(t *testing.T, reply func(line string) string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					nc.Write([]byte(reply(line)))
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestValueSizeCapped: a value larger than Config.MaxValueSize is refused
// before it is allocated, by Get and GetMulti; the connection is destroyed.
func TestValueSizeCapped(t *testing.T) {
	mc := startMemcached(t, "-I", "4m")
	ctx := ctxT(t)
	big := bytes.Repeat([]byte("x"), 3<<20)
	writer := newClient(t, Config{Servers: []string{mc.Addr}, MaxValueSize: 4 << 20})
	if err := writer.Set(ctx, &Item{Key: "big", Value: big}); err != nil {
		t.Fatal(err)
	}
	if it, err := writer.Get(ctx, "big"); err != nil || !bytes.Equal(it.Value, big) {
		t.Fatalf("Get under a 4 MiB limit: %v", err)
	}
	c := newClient(t, Config{Servers: []string{mc.Addr}}) // DefaultMaxValueSize, 1 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Get(ctx, "big")
	_, errMulti := c.GetMulti(ctx, []string{"big"})
	runtime.ReadMemStats(&after)
	for _, e := range []error{err, errMulti} {
		if !errors.Is(e, ErrProtocol) {
			t.Fatalf("reading a 3 MiB value with a 1 MiB limit = %v, want a protocol error", e)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing the value allocated %d bytes", alloc)
	}
	eventually(t, time.Second, "both connections destroyed", func() bool { return c.Stats()[0].Pool.Destroyed == 2 })
}

// TestFailoverDeadline: an operation that failed over after waiting out
// its deadline for a pooled connection gets a deadline of its own on the
// fallback server, which it serves without a failure on the fallback's
// breaker; and a connection acquired with too little time left is not
// used (and so not destroyed).
func TestFailoverDeadline(t *testing.T) {
	env := newEnv(t)
	t.Run("fallback after a pool timeout", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		c := newClient(t, Config{
			Servers: env.proxied(), Timeout: timeout, Failover: true, Pool: PoolConfig{MaxSize: 1},
			Breaker: gobreaker.Settings{Timeout: time.Minute, ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 }},
		})
		ctx := ctxT(t)
		k0, k1 := keyFor(t, c, 0, "fod"), keyFor(t, c, 1, "fod")
		for _, k := range []string{k0, k1} { // one idle connection on each server
			if err := c.Set(ctx, &Item{Key: k, Value: []byte(k)}); err != nil {
				t.Fatal(err)
			}
		}
		// A slow request holds mc1's only connection past the deadline.
		held, err := c.servers[0].pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.servers[0].took(held)
		defer held.Release()
		start := time.Now()
		_, err = c.Get(ctx, k0)
		if err != ErrCacheMiss || time.Since(start) > 2*timeout+50*time.Millisecond {
			t.Fatalf("Get failing over from an exhausted pool = %v after %v, want a miss from the fallback", err, time.Since(start))
		}
		if st := c.Stats()[1]; st.Breaker.Counts.TotalFailures != 0 || st.Pool.Destroyed != 0 || st.Breaker.State != gobreaker.StateClosed {
			t.Fatalf("fallback server after the failover: breaker %+v, pool %+v; want no failure, nothing destroyed", st.Breaker, st.Pool)
		}
	})
	t.Run("blackhole on the home server, pool of one", func(t *testing.T) {
		// The first get holds mc1's only connection until its deadline; the
		// others wait for it until theirs (pool timeout, or a connection
		// with no time left) and fail over, all at the same moment.
		const timeout, gets = 300 * time.Millisecond, 8
		c := newClient(t, Config{
			Servers: env.proxied(), Timeout: timeout, Failover: true, Pool: PoolConfig{MaxSize: 1},
			Breaker: gobreaker.Settings{Timeout: time.Minute, ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 }},
		})
		ctx := ctxT(t)
		k0, k1 := keyFor(t, c, 0, "bh"), keyFor(t, c, 1, "bh")
		for _, k := range []string{k0, k1} {
			if err := c.Set(ctx, &Item{Key: k, Value: []byte(k)}); err != nil {
				t.Fatal(err)
			}
		}
		env.toxic(t, 0, "timeout", "both", toxiproxy.Attributes{"timeout": 0})
		errs := make(chan error, gets)
		for range gets {
			go func() { _, err := c.Get(ctx, k0); errs <- err }()
		}
		var failed []error
		for range gets {
			if err := <-errs; err != nil && err != ErrCacheMiss {
				failed = append(failed, err)
			}
		}
		// The get that held the connection timed out on mc1; every other
		// one was served by mc2.
		if len(failed) > 1 || len(failed) == 1 && Classify(failed[0]) != ClassTimeout {
			t.Errorf("%d of %d gets failed: %v", len(failed), gets, failed)
		}
		if st := c.Stats()[1]; st.Breaker.Counts.TotalFailures != 0 || st.Breaker.State != gobreaker.StateClosed {
			t.Errorf("fallback server: breaker %+v; want no failure", st.Breaker)
		}
	})
	t.Run("no time left after the pool wait", func(t *testing.T) {
		c := newClient(t, Config{Servers: env.proxied()[:1], Timeout: time.Second, DisableBreaker: true})
		ctx := ctxT(t)
		if _, err := c.Get(ctx, "edge"); err != ErrCacheMiss {
			t.Fatal(err)
		}
		env.toxic(t, 0, "latency", "downstream", toxiproxy.Attributes{"latency": 50})
		short, cancel := context.WithTimeout(ctx, minWireTime/2)
		defer cancel()
		if _, err := c.Get(short, "edge"); err == nil {
			t.Fatal("Get with 0.5 ms left succeeded under 50 ms latency")
		}
		if st := c.Stats()[0].Pool; st.Destroyed != 0 || st.Idle != 1 {
			t.Fatalf("pool %+v: the idle connection was used with no time left and destroyed", st)
		}
	})
}

// TestClientErrorsAreAnswers: CLIENT_ERROR (five increments of a
// non-numeric value) is the request's fault: the server's breaker stays
// closed.
func TestClientErrorsAreAnswers(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()[:1]}) // DefaultReadyToTrip: 5 consecutive failures
	ctx := ctxT(t)
	if err := c.Set(ctx, &Item{Key: "text", Value: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := c.Increment(ctx, "text", 1); !errors.Is(err, ErrClientError) || Classify(err) != ClassClientError {
			t.Fatalf("incr of text = %v (class %s), want a client error", err, Classify(err))
		}
	}
	if st := c.Stats()[0].Breaker; st.State != gobreaker.StateClosed || st.Counts.TotalFailures != 0 {
		t.Fatalf("breaker after 10 CLIENT_ERRORs: %+v, want closed without failures", st)
	}
	if _, err := c.Get(ctx, "text"); err != nil {
		t.Fatalf("Get after CLIENT_ERRORs: %v", err)
	}
}

// TestServerErrorKeepsConnection: SERVER_ERROR (object too large) leaves
// the stream in a known state: the connection is reused, not redialed.
func TestServerErrorKeepsConnection(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()[:1]})
	ctx := ctxT(t)
	big := make([]byte, 2<<20) // over memcached's 1 MiB item limit
	for i := 0; i < 5; i++ {
		if err := c.Set(ctx, &Item{Key: "huge", Value: big}); Classify(err) != ClassServerError {
			t.Fatalf("set of 2 MiB = %v, want SERVER_ERROR", err)
		}
	}
	if err := c.Set(ctx, &Item{Key: "huge", Value: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if it, err := c.Get(ctx, "huge"); err != nil || string(it.Value) != "ok" {
		t.Fatalf("Get after SERVER_ERRORs = %v, %v", it, err)
	}
	if st := c.Stats()[0].Pool; st.Created != 1 || st.Destroyed != 0 {
		t.Fatalf("pool %+v: want one connection for all, none destroyed", st)
	}
}

// TestDeadIdleConnections: after memcached restarts, or the path closes
// every connection (toxiproxy disabled and enabled again), every pooled
// connection is dead. Reads are retried once on a live connection, writes
// find live ones, and the breaker stays closed, without waiting for the
// health check.
func TestDeadIdleConnections(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		name  string
		addr  func() string
		fault func()
	}{
		// SIGKILL and start again on the same port: the kernel closes its
		// connections, as after a crash.
		{"memcached restart", nil, nil},
		// The proxy closes every client connection, as an idle timeout would.
		{"connections closed by the path", func() string { return env.proxied()[0] }, func() {
			p, err := env.toxi.Proxy(env.Servers[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Disable(); err != nil {
				t.Fatal(err)
			}
			if err := p.Enable(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault == nil {
				mc := startMemcached(t)
				tc.addr, tc.fault = func() string { return mc.Addr }, mc.restart
			}
			const idle = 4
			var gets, sets atomic.Int64 // requests written, as OnRequest counts them
			c := newClient(t, Config{
				Servers: []string{tc.addr()}, Timeout: time.Second,
				OnRequest: func(_, op string) {
					switch op {
					case "get":
						gets.Add(1)
					case "set":
						sets.Add(1)
					}
				},
				Pool:    PoolConfig{MinIdle: idle, HealthCheckInterval: time.Hour}, // no health check after the first
				Breaker: gobreaker.Settings{Timeout: time.Minute, ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 }},
			})
			ctx := ctxT(t)
			eventually(t, 2*time.Second, "idle connections", func() bool { return c.Stats()[0].Pool.Idle == idle })
			tc.fault()
			// Each connection has seen the server's FIN (the kernel has it at once).
			eventually(t, 2*time.Second, "the server's close reaches the client", func() bool {
				dead := true
				for _, res := range c.servers[0].pool.AcquireAllIdle() {
					dead = dead && !res.Value().idleAlive()
					res.ReleaseUnused()
				}
				return dead
			})
			for i := 0; i < 2*idle; i++ {
				if _, err := c.Get(ctx, "k"); err != nil && err != ErrCacheMiss {
					t.Fatalf("get %d after the fault: %v", i, err)
				}
				if err := c.Set(ctx, &Item{Key: "k", Value: []byte("v")}); err != nil {
					t.Fatalf("set %d after the fault: %v", i, err)
				}
			}
			st := c.Stats()[0]
			if st.Breaker.State != gobreaker.StateClosed || st.Pool.Retries != 1 {
				t.Fatalf("after the fault: breaker %+v, pool %+v; want closed, one retry", st.Breaker, st.Pool)
			}
			// The retried get was written twice; writes are never retried.
			if gets.Load() != 2*idle+1 || sets.Load() != 2*idle {
				t.Fatalf("OnRequest saw %d gets and %d sets, want %d and %d", gets.Load(), sets.Load(), 2*idle+1, 2*idle)
			}
		})
	}
}

// TestCallerDeadlineNotCounted: timeouts under the caller's context
// deadline, earlier than Config.Timeout, say nothing of the server: they do
// not count against its breaker.
func TestCallerDeadlineNotCounted(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{
		Servers: env.proxied()[:1], Timeout: time.Second,
		Breaker: gobreaker.Settings{Timeout: time.Minute, ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 }},
	})
	ctx := ctxT(t)
	if err := c.Set(ctx, &Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	env.toxic(t, 0, "latency", "downstream", toxiproxy.Attributes{"latency": 100})
	for i := 0; i < 4; i++ {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := c.Get(short, "k")
		cancel()
		if Classify(err) != ClassTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get under a 20 ms context = %v (class %s), want a timeout matching context.DeadlineExceeded", err, Classify(err))
		}
	}
	if st := c.Stats()[0].Breaker; st.State != gobreaker.StateClosed || st.Counts.TotalFailures != 0 {
		t.Fatalf("breaker after timeouts under the caller's deadline: %+v, want closed, no failures", st)
	}
	if it, err := c.Get(ctx, "k"); err != nil || string(it.Value) != "v" {
		t.Fatalf("Get within Timeout = %v, %v", it, err)
	}
}

// TestNoSpuriousDials: with as many idle connections as goroutines, no
// operation needs a new connection, while the health check runs every
// millisecond (holding the idle connections for a moment each time).
func TestNoSpuriousDials(t *testing.T) {
	env := newEnv(t)
	const conns = 4
	c := newClient(t, Config{Servers: env.direct()[:1], Pool: PoolConfig{MinIdle: conns, HealthCheckInterval: time.Millisecond}})
	ctx := ctxT(t)
	eventually(t, 2*time.Second, "idle connections", func() bool { return c.Stats()[0].Pool.Idle == conns })
	var wg sync.WaitGroup
	stop := time.Now().Add(time.Second)
	for range conns {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := c.Get(ctx, "k"); err != ErrCacheMiss {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats()[0].Pool; st.Created != conns || st.Destroyed != 0 {
		t.Fatalf("pool %+v: want the %d warm connections only", st, conns)
	}
}

// TestPanicReleasesConnection: a panic while a connection is in use (here
// raised by the operation itself; an application may recover it) destroys
// the connection instead of leaking its pool slot: the pool keeps serving
// and Close returns.
func TestPanicReleasesConnection(t *testing.T) {
	env := newEnv(t)
	c, err := New(Config{Servers: env.direct()[:1], Pool: PoolConfig{MaxSize: 1}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		c.servers[0].do(ctx, call{op: "get", deadline: time.Now().Add(time.Second)}, func(*conn) error { panic("boom") })
	}()
	if _, err := c.Get(ctx, "k"); err != ErrCacheMiss {
		t.Fatalf("Get after a recovered panic: %v", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked: the panic leaked a pool slot")
	}
}
