package memcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// TestCommands runs every command against real memcached servers.
func TestCommands(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()})
	ctx := ctxT(t)

	// mustErr checks err against want (nil for success).
	mustErr := func(t *testing.T, what string, err, want error) {
		t.Helper()
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: err = %v, want %v", what, err, want)
		}
	}

	t.Run("set get flags cas", func(t *testing.T) {
		want := &Item{Key: "a", Value: []byte("line1\r\nline2 \x00end"), Flags: 0xdeadbeef}
		mustErr(t, "set", c.Set(ctx, want), nil)
		got, err := c.Get(ctx, "a")
		mustErr(t, "get", err, nil)
		if got.Key != "a" || !bytes.Equal(got.Value, want.Value) || got.Flags != want.Flags || got.CasID == 0 {
			t.Fatalf("get = %+v, want %+v with a CAS id", got, want)
		}
	})
	t.Run("empty and large values", func(t *testing.T) {
		for _, n := range []int{0, 1, writeBufSize - 1, writeBufSize + 1, readBufSize - 1, readBufSize + 1, 900 << 10} {
			v := bytes.Repeat([]byte{'x'}, n)
			mustErr(t, "set", c.Set(ctx, &Item{Key: "big", Value: v}), nil)
			got, err := c.Get(ctx, "big")
			mustErr(t, "get", err, nil)
			if !bytes.Equal(got.Value, v) {
				t.Fatalf("value of %d bytes came back as %d bytes", n, len(got.Value))
			}
		}
	})
	t.Run("value too large is a server error, not a wrong value", func(t *testing.T) {
		err := c.Set(ctx, &Item{Key: "huge", Value: make([]byte, 2<<20)})
		mustErr(t, "set 2 MiB", err, ErrServerError)
		mustErr(t, "set after", c.Set(ctx, &Item{Key: "huge", Value: []byte("ok")}), nil)
	})
	t.Run("miss", func(t *testing.T) {
		_, err := c.Get(ctx, "never-set")
		mustErr(t, "get", err, ErrCacheMiss)
		if err != ErrCacheMiss {
			t.Fatalf("a miss should be the bare sentinel, got %#v", err)
		}
	})
	t.Run("add", func(t *testing.T) {
		c.Delete(ctx, "add")
		mustErr(t, "add new", c.Add(ctx, &Item{Key: "add", Value: []byte("1")}), nil)
		mustErr(t, "add existing", c.Add(ctx, &Item{Key: "add", Value: []byte("2")}), ErrNotStored)
		got, _ := c.Get(ctx, "add")
		if string(got.Value) != "1" {
			t.Fatalf("add overwrote: %q", got.Value)
		}
	})
	t.Run("replace", func(t *testing.T) {
		c.Delete(ctx, "rep")
		mustErr(t, "replace missing", c.Replace(ctx, &Item{Key: "rep", Value: []byte("1")}), ErrNotStored)
		c.Set(ctx, &Item{Key: "rep", Value: []byte("1")})
		mustErr(t, "replace existing", c.Replace(ctx, &Item{Key: "rep", Value: []byte("2")}), nil)
		got, _ := c.Get(ctx, "rep")
		if string(got.Value) != "2" {
			t.Fatalf("replace did not store: %q", got.Value)
		}
	})
	t.Run("compare and swap", func(t *testing.T) {
		c.Set(ctx, &Item{Key: "cas", Value: []byte("v1")})
		it, _ := c.Get(ctx, "cas")
		stale := *it
		it.Value = []byte("v2")
		mustErr(t, "cas current", c.CompareAndSwap(ctx, it), nil)
		stale.Value = []byte("v3")
		mustErr(t, "cas stale", c.CompareAndSwap(ctx, &stale), ErrCASConflict)
		c.Delete(ctx, "cas")
		mustErr(t, "cas deleted", c.CompareAndSwap(ctx, it), ErrCacheMiss)
	})
	t.Run("delete", func(t *testing.T) {
		c.Set(ctx, &Item{Key: "del", Value: []byte("x")})
		mustErr(t, "delete", c.Delete(ctx, "del"), nil)
		mustErr(t, "delete again", c.Delete(ctx, "del"), ErrCacheMiss)
		_, err := c.Get(ctx, "del")
		mustErr(t, "get deleted", err, ErrCacheMiss)
	})
	t.Run("increment decrement", func(t *testing.T) {
		c.Set(ctx, &Item{Key: "n", Value: []byte("10")})
		for _, step := range []struct {
			decr  bool
			delta uint64
			want  uint64
		}{
			{false, 5, 15},
			{true, 3, 12},
			{true, 100, 0}, // decrement stops at zero
			{false, 1<<64 - 1, 1<<64 - 1},
			{false, 1, 0}, // increment wraps at 2^64
		} {
			var n uint64
			var err error
			if step.decr {
				n, err = c.Decrement(ctx, "n", step.delta)
			} else {
				n, err = c.Increment(ctx, "n", step.delta)
			}
			mustErr(t, "arith", err, nil)
			if n != step.want {
				t.Fatalf("decr=%v %d: got %d, want %d", step.decr, step.delta, n, step.want)
			}
		}
		c.Delete(ctx, "n-missing")
		_, err := c.Increment(ctx, "n-missing", 1)
		mustErr(t, "incr missing", err, ErrCacheMiss)
		_, err = c.Decrement(ctx, "n-missing", 1)
		mustErr(t, "decr missing", err, ErrCacheMiss)
		c.Set(ctx, &Item{Key: "n-text", Value: []byte("abc")})
		_, err = c.Increment(ctx, "n-text", 1)
		mustErr(t, "incr text", err, ErrClientError)
	})
	t.Run("touch and expiration", func(t *testing.T) {
		c.Set(ctx, &Item{Key: "ttl", Value: []byte("x"), Expiration: 100})
		mustErr(t, "touch", c.Touch(ctx, "ttl", 1000), nil)
		mustErr(t, "touch missing", c.Touch(ctx, "ttl-missing", 10), ErrCacheMiss)
		mustErr(t, "touch expire", c.Touch(ctx, "ttl", -1), nil)
		_, err := c.Get(ctx, "ttl")
		mustErr(t, "get expired by touch", err, ErrCacheMiss)
		c.Set(ctx, &Item{Key: "ttl2", Value: []byte("x"), Expiration: -1})
		_, err = c.Get(ctx, "ttl2")
		mustErr(t, "get set already expired", err, ErrCacheMiss)
	})
	t.Run("get multi across servers", func(t *testing.T) {
		var keys []string
		want := map[string]string{}
		used := map[string]bool{}
		for i := 0; i < 60; i++ {
			k := fmt.Sprintf("multi-%d", i)
			keys = append(keys, k)
			used[c.ServerFor(k)] = true
			if i%3 == 0 {
				c.Delete(ctx, k)
				continue
			}
			want[k] = "v" + k
			c.Set(ctx, &Item{Key: k, Value: []byte(want[k]), Flags: uint32(i)})
		}
		if len(used) != 3 {
			t.Fatalf("keys cover %d servers, want 3", len(used))
		}
		got, err := c.GetMulti(ctx, keys)
		mustErr(t, "get multi", err, nil)
		if len(got) != len(want) {
			t.Fatalf("got %d items, want %d", len(got), len(want))
		}
		for k, v := range want {
			if it := got[k]; it == nil || string(it.Value) != v || it.Key != k || it.CasID == 0 {
				t.Fatalf("item %s = %+v, want value %s", k, it, v)
			}
		}
		// A batch far larger than one pipeline: 3000 keys of 200 bytes,
		// values of 4 KiB.
		var big []string
		for i := 0; i < 3000; i++ {
			k := fmt.Sprintf("%0200d", i)
			big = append(big, k)
			if i%2 == 0 {
				c.Set(ctx, &Item{Key: k, Value: bytes.Repeat([]byte(k[195:]), 4<<10/5)})
			}
		}
		got, err = c.GetMulti(ctx, big)
		mustErr(t, "get multi big", err, nil)
		if len(got) != 1500 {
			t.Fatalf("big batch: %d items, want 1500", len(got))
		}
		for k, it := range got {
			if !bytes.Equal(it.Value, bytes.Repeat([]byte(k[195:]), 4<<10/5)) {
				t.Fatalf("big batch: wrong value for %s", k[195:])
			}
		}
		empty, err := c.GetMulti(ctx, nil)
		if err != nil || len(empty) != 0 {
			t.Fatalf("GetMulti(nil) = %v, %v", empty, err)
		}
	})
	t.Run("malformed keys are not sent", func(t *testing.T) {
		for _, k := range []string{"", "a b", "a\r\nb", "tab\t", strings.Repeat("k", 251), "del\x7f"} {
			_, err := c.Get(ctx, k)
			mustErr(t, fmt.Sprintf("get %q", k), err, ErrMalformedKey)
			mustErr(t, "set", c.Set(ctx, &Item{Key: k}), ErrMalformedKey)
			_, err = c.GetMulti(ctx, []string{"ok", k})
			mustErr(t, "get multi", err, ErrMalformedKey)
		}
		mustErr(t, "250-byte key", c.Set(ctx, &Item{Key: strings.Repeat("k", 250), Value: []byte("x")}), nil)
	})
	t.Run("connections reused, none destroyed", func(t *testing.T) {
		var created, destroyed int64
		for _, s := range c.Stats() {
			created += s.Pool.Created
			destroyed += s.Pool.Destroyed
		}
		// The 2 MiB set got SERVER_ERROR: that connection is kept; incr on
		// text got CLIENT_ERROR: destroyed.
		if destroyed != 1 {
			t.Errorf("destroyed %d connections, want 1 (CLIENT_ERROR)", destroyed)
		}
		if created > 12 {
			t.Errorf("created %d connections for a sequential test", created)
		}
	})
}

// TestClosedClient checks operations after Close.
func TestClosedClient(t *testing.T) {
	c, err := New(Config{Servers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Get(ctxT(t), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestConnRefused checks that a refused dial keeps its errno for classification.
func TestConnRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, Config{Servers: []string{addr}, DisableBreaker: true})
	_, err = c.Get(ctxT(t), "k")
	var me *Error
	if Classify(err) != ClassConnRefused || !errors.As(err, &me) || me.Server != addr {
		t.Fatalf("Get from a closed port = %v (class %s), want conn_refused naming %s", err, Classify(err), addr)
	}
	st := c.Stats()[0].Pool
	if st.DialErrors == 0 || st.AcquireErrors != 1 || st.Total != 0 {
		t.Fatalf("pool stats after refused dial: %+v", st)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},                                      // no servers
		{Servers: []string{"x:1"}, Timeout: -1}, // negative timeout
		{Servers: []string{"x:1"}, Pool: PoolConfig{MaxSize: 2, MinIdle: 3}}, // MinIdle above MaxSize
	} {
		if c, err := New(cfg); err == nil {
			c.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestAllocs guards the hot path's allocations with a warm pool (the
// package doc promises them). Skipped under the race detector, which
// allocates on its own.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()})
	ctx := context.Background()
	it := &Item{Key: "alloc", Value: []byte("12")}
	big := &Item{Key: "alloc-big", Value: bytes.Repeat([]byte("v"), 100<<10)}
	if err := c.Set(ctx, it); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  float64
		op   func() error
	}{
		{"get", 2, func() error { _, err := c.Get(ctx, "alloc"); return err }},
		{"get miss", 0, func() error {
			if _, err := c.Get(ctx, "alloc-missing"); err != ErrCacheMiss {
				return err
			}
			return nil
		}},
		{"set", 0, func() error { return c.Set(ctx, it) }},
		{"set 100 KiB (writev)", 0, func() error { return c.Set(ctx, big) }},
		{"increment", 0, func() error { _, err := c.Increment(ctx, "alloc", 1); return err }},
		{"touch", 0, func() error { return c.Touch(ctx, "alloc", 100) }},
		{"delete miss", 0, func() error {
			if err := c.Delete(ctx, "alloc-missing"); err != ErrCacheMiss {
				return err
			}
			return nil
		}},
	} {
		var err error
		n := testing.AllocsPerRun(200, func() {
			if e := tc.op(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n > tc.max {
			t.Errorf("%s: %.1f allocations per call, want at most %.0f", tc.name, n, tc.max)
		}
	}
}

// TestGetMultiOneRequest: a get-multi of 100 keys on one server is two
// requests (the token's mg, then one gets), so memcached never yields the
// connection at its limit of 20 requests per event (-R). A pipeline of one
// quiet mg per key made it yield every 20 keys (stat conn_yields), each time
// a separate write of the answers and a wake-up of the client.
func TestGetMultiOneRequest(t *testing.T) {
	env := newEnv(t)
	addr := env.direct()[0]
	c := newClient(t, Config{Servers: []string{addr}})
	ctx := context.Background()
	var keys []string
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("one-request-%d", i)
		keys = append(keys, k)
		if err := c.Set(ctx, &Item{Key: k, Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	before := serverStat(t, addr, "conn_yields")
	got, err := c.GetMulti(ctx, keys)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("GetMulti: %d items, %v", len(got), err)
	}
	if n := serverStat(t, addr, "conn_yields") - before; n != 0 {
		t.Errorf("memcached yielded the connection %d times during one GetMulti of %d keys, want 0", n, len(keys))
	}
}

// TestIdleConnectionsHoldNoBuffers: the read and write buffers (20 KiB) are
// lent to a connection for one operation, so a pool of idle connections
// costs only their sockets. Every path that keeps a connection gives them
// back: hits, misses, stores, get-multi.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	env := newEnv(t)
	c := newClient(t, Config{Servers: env.direct()})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				k := fmt.Sprintf("idle-bufs-%d-%d", g, i)
				if err := c.Set(ctx, &Item{Key: k, Value: bytes.Repeat([]byte("x"), 20<<10)}); err != nil {
					t.Error(err)
				}
				if _, err := c.Get(ctx, k); err != nil {
					t.Error(err)
				}
				if _, err := c.Get(ctx, k+"-missing"); err != ErrCacheMiss {
					t.Error(err)
				}
				if _, err := c.GetMulti(ctx, []string{k, k + "-missing"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	idle := 0
	for _, s := range c.servers {
		all := s.pool.AcquireAllIdle()
		for _, res := range all {
			idle++
			if cn := res.Value(); cn.br != nil || cn.bw != nil {
				t.Errorf("server %s: an idle connection holds a buffer (read %t, write %t)", s.addr, cn.br != nil, cn.bw != nil)
			}
			res.ReleaseUnused()
		}
	}
	if idle < 3 {
		t.Fatalf("%d idle connections after the load, want at least one per server", idle)
	}
}
