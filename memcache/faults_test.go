package memcache

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/sony/gobreaker/v2"
)

// TestLatencyBeyondTimeout: a response later than the operation timeout is
// a timeout error, and the connection that saw it is destroyed.
func TestLatencyBeyondTimeout(t *testing.T) {
	env := newEnv(t)
	const timeout = 100 * time.Millisecond
	c := newClient(t, Config{Servers: env.proxied()[:1], Timeout: timeout, DisableBreaker: true})
	ctx := ctxT(t)
	if err := c.Set(ctx, &Item{Key: "k", Value: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()[0].Pool
	if before.Total != 1 || before.Idle != 1 || before.Created != 1 {
		t.Fatalf("before the fault: %+v, want one idle connection", before)
	}

	remove := env.toxic(t, 0, "latency", "downstream", toxiproxy.Attributes{"latency": 3 * timeout.Milliseconds()})
	start := time.Now()
	_, err := c.Get(ctx, "k")
	took := time.Since(start)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || Classify(err) != ClassTimeout {
		t.Fatalf("Get under latency = %v (class %s), want a net.Error timeout", err, Classify(err))
	}
	if took < timeout || took > timeout+250*time.Millisecond {
		t.Fatalf("timed out after %v, want about %v", took, timeout)
	}
	var me *Error
	if !errors.As(err, &me) || me.Server != env.proxied()[0] || me.Op != "get" {
		t.Fatalf("error %v does not name op and server", err)
	}
	// puddle destroys asynchronously: poll the counters.
	var after PoolStats
	eventually(t, time.Second, "the timed-out connection is destroyed", func() bool {
		after = c.Stats()[0].Pool
		return after.Destroyed == before.Destroyed+1 && after.Total == 0
	})
	if after.Idle != 0 || after.Created != before.Created {
		t.Fatalf("after the timeout: %+v, want no connection left", after)
	}

	remove()
	it, err := c.Get(ctx, "k")
	if err != nil || string(it.Value) != "v1" {
		t.Fatalf("Get after the fault = %v, %v", it, err)
	}
	if st := c.Stats()[0].Pool; st.Created != before.Created+1 || st.Total != 1 {
		t.Fatalf("after recovery: %+v, want one new connection", st)
	}
}

// TestBreakerOnTotalLoss: 100 % loss on one of three servers opens that
// server's breaker after exactly the configured consecutive failures, fails
// fast while open, the other two servers keep serving, and the breaker
// closes once the fault is gone.
func TestBreakerOnTotalLoss(t *testing.T) {
	env := newEnv(t)
	const (
		trip        = 3
		opTimeout   = 200 * time.Millisecond
		openTimeout = 300 * time.Millisecond
	)
	type transition struct {
		server   string
		from, to gobreaker.State
		at       time.Time
	}
	var (
		mu   sync.Mutex
		seen []transition
	)
	c := newClient(t, Config{
		Servers: env.proxied(),
		Timeout: opTimeout,
		Breaker: gobreaker.Settings{
			Timeout:     openTimeout,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= trip },
		},
		OnStateChange: func(s string, from, to gobreaker.State, at time.Time) {
			mu.Lock()
			seen = append(seen, transition{s, from, to, at})
			mu.Unlock()
		},
	})
	ctx := ctxT(t)
	const bad = 1
	keys := []string{keyFor(t, c, 0, "loss"), keyFor(t, c, 1, "loss"), keyFor(t, c, 2, "loss")}
	for _, k := range keys {
		if err := c.Set(ctx, &Item{Key: k, Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}

	remove := env.toxic(t, bad, "timeout", "both", toxiproxy.Attributes{"timeout": 0}) // blackhole
	faultAt := time.Now()
	for i := 0; i < trip; i++ {
		_, err := c.Get(ctx, keys[bad])
		if Classify(err) != ClassTimeout {
			t.Fatalf("request %d to the blackholed server: %v (class %s), want timeout", i+1, err, Classify(err))
		}
		if st := c.Stats()[bad].Breaker.State; (i < trip-1) != (st == gobreaker.StateClosed) {
			t.Fatalf("after %d failures the breaker is %v (trips at %d)", i+1, st, trip)
		}
	}
	if st := c.Stats()[bad].Breaker; st.State != gobreaker.StateOpen {
		t.Fatalf("breaker after %d timeouts: %+v, want open", trip, st)
	}
	detect := time.Since(faultAt)
	if max := trip*opTimeout + 200*time.Millisecond; detect > max {
		t.Fatalf("breaker opened after %v, want within %v", detect, max)
	}

	// Open: fail fast, wrapped with the server's address; others serve.
	start := time.Now()
	_, err := c.Get(ctx, keys[bad])
	var me *Error
	if !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &me) || me.Server != env.proxied()[bad] {
		t.Fatalf("Get while open = %v, want ErrCircuitOpen naming %s", err, env.proxied()[bad])
	}
	if took := time.Since(start); took > 20*time.Millisecond {
		t.Fatalf("open breaker took %v to fail", took)
	}
	for round := 0; round < 20; round++ {
		for i, k := range keys {
			if i == bad {
				continue
			}
			if it, err := c.Get(ctx, k); err != nil || string(it.Value) != k {
				t.Fatalf("healthy server %d during the fault: %v, %v", i, it, err)
			}
		}
	}

	// Recovery: after the fault is removed the half-open probe succeeds.
	remove()
	eventually(t, 5*time.Second, "breaker closes after the fault is removed", func() bool {
		it, err := c.Get(ctx, keys[bad])
		if err == nil && string(it.Value) != keys[bad] {
			t.Fatalf("wrong value %q for %s", it.Value, keys[bad])
		}
		return err == nil && c.Stats()[bad].Breaker.State == gobreaker.StateClosed
	})

	mu.Lock()
	defer mu.Unlock()
	var path []string
	for _, tr := range seen {
		if tr.server != env.proxied()[bad] {
			t.Errorf("transition on healthy server %s: %v→%v", tr.server, tr.from, tr.to)
			continue
		}
		path = append(path, tr.to.String())
	}
	// Probes that still time out reopen it: open (half-open open)* half-open closed.
	if len(path) < 3 || path[0] != "open" || path[len(path)-2] != "half-open" || path[len(path)-1] != "closed" {
		t.Fatalf("transitions %v, want open … half-open closed", path)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].at.Before(seen[i-1].at) {
			t.Fatalf("transition times not ordered: %v", seen)
		}
	}
	if st := c.Stats()[bad].Breaker; st.Transitions != int64(len(seen)) || !st.LastTransition.Equal(seen[len(seen)-1].at) {
		t.Fatalf("breaker stats %+v disagree with %d hooked transitions", st, len(seen))
	}
}

// TestNoWrongValues: under reset_peer, slicer and truncated streams,
// every value read is one written for that key. Rounds alternate between
// the fault on every connection and no fault; errors are allowed only
// while the fault is on, and must be classified as connection errors.
func TestNoWrongValues(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		name     string
		toxics   []toxicSpec
		errsOK   bool   // the fault may fail operations
		errClass string // and then only with this class
	}{
		// Responses cut into 1..3-byte pieces, 20 µs apart: slow, never wrong.
		{"slicer", []toxicSpec{{"slicer", toxiproxy.Attributes{"average_size": 2, "size_variation": 1, "delay": 20}}}, false, ""},
		// Connection reset 5 ms after the first response byte (swallowed).
		{"reset_peer after 5ms", []toxicSpec{{"reset_peer", toxiproxy.Attributes{"timeout": 5}}}, true, ClassConnReset},
		// Connection reset at once.
		{"reset_peer now", []toxicSpec{{"reset_peer", toxiproxy.Attributes{"timeout": 0}}}, true, ClassConnReset},
		// Streams cut after 40 bytes, sliced: responses end mid-line or
		// mid-value. limit_data comes first in the chain: a slicer in front
		// of it blocks forever sending to the closed limit_data, and
		// toxiproxy 2.5.0 then hangs removing the toxic (HTTP 503 after
		// 25 s; Shopify/toxiproxy#558).
		{"truncated", []toxicSpec{
			{"limit_data", toxiproxy.Attributes{"bytes": 40}},
			{"slicer", toxiproxy.Attributes{"average_size": 7, "size_variation": 6, "delay": 10}},
		}, true, ClassConnReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, Config{Servers: env.proxied(), Timeout: time.Second, DisableBreaker: true})
			ctx := ctxT(t)
			value := func(k string, n int) []byte {
				return bytes.Repeat([]byte(fmt.Sprintf("%s#%d;", k, n)), 1+n%5*7)
			}
			var keys []string
			for i := 0; i < 30; i++ {
				keys = append(keys, fmt.Sprintf("%s-%d", tc.toxics[0].kind, i))
			}
			version := map[string]int{} // last confirmed write
			for _, k := range keys {
				if err := c.Set(ctx, &Item{Key: k, Value: value(k, 0)}); err != nil {
					t.Fatal(err)
				}
			}
			var ok, failed int
			for round := 1; round <= 4; round++ {
				faulty := round%2 == 1
				var removes []func()
				if faulty {
					for i := range env.Servers {
						for _, tx := range tc.toxics {
							removes = append(removes, env.toxic(t, i, tx.kind, "downstream", tx.attrs))
						}
					}
				}
				check := func(what string, err error) bool {
					t.Helper()
					if err == nil {
						return true
					}
					if !faulty || !tc.errsOK || Classify(err) != tc.errClass {
						t.Fatalf("%s in round %d (fault %v): %v classified %s", what, round, faulty, err, Classify(err))
					}
					failed++
					return false
				}
				for _, k := range keys {
					err := c.Set(ctx, &Item{Key: k, Value: value(k, round)})
					if check("set "+k, err) {
						version[k] = round
					}
					it, err := c.Get(ctx, k)
					if !check("get "+k, err) {
						continue
					}
					ok++
					// A failed set may still have landed: round's value is valid too.
					if !bytes.Equal(it.Value, value(k, version[k])) && !bytes.Equal(it.Value, value(k, round)) {
						t.Fatalf("WRONG VALUE for %s in round %d: %q", k, round, it.Value)
					}
				}
				got, err := c.GetMulti(ctx, keys)
				check("get multi", err)
				for k, it := range got {
					if !bytes.Equal(it.Value, value(k, version[k])) && !bytes.Equal(it.Value, value(k, round)) {
						t.Fatalf("WRONG VALUE from get multi for %s in round %d: %q", k, round, it.Value)
					}
				}
				for _, r := range removes {
					r()
				}
			}
			t.Logf("%d reads ok, %d operations failed", ok, failed)
			if tc.errsOK && failed == 0 {
				t.Fatalf("the fault caused no errors: the toxic did not apply")
			}
		})
	}
}

type toxicSpec struct {
	kind  string
	attrs toxiproxy.Attributes
}
