package memcache

import (
	"bytes"
	"fmt"

	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/sony/gobreaker/v2"
)

// stressDurationEnv sizes TestStress (a Go duration); short by default.
const stressDurationEnv = "MCCHAOS_STRESS_DURATION"

// TestStress runs many goroutines through slicer and latency toxics on all
// three servers, with an operation timeout that the latency often exceeds,
// and checks every value read against its key: zero wrong values. Run it
// under the race detector:
//
//	MCCHAOS_STRESS_DURATION=30s go test -race -run TestStress ./memcache
func TestStress(t *testing.T) {
	d := 2 * time.Second
	if s := os.Getenv(stressDurationEnv); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("%s=%q: %v", stressDurationEnv, s, err)
		}
	}
	env := newEnv(t)
	c := newClient(t, Config{
		Servers: env.proxied(),
		Timeout: 25 * time.Millisecond,
		// A small pool (32 workers over 3 servers) so acquires wait, and a
		// frequent health check racing with them.
		Pool: PoolConfig{MaxSize: 8, HealthCheckInterval: 50 * time.Millisecond, MinIdle: 2},
		// Breakers that trip and recover within the run.
		Breaker: gobreaker.Settings{Timeout: 100 * time.Millisecond, MaxRequests: 3},
	})
	ctx := ctxT(t)
	// Downstream only: requests reach memcached at once, responses are late
	// and arrive in pieces, so writes apply in the order they were sent.
	// Every connection gets 0-6 ms; one in five (drawn per connection) gets
	// 40 ms more, beyond the timeout: its operation times out, the
	// connection is destroyed and a new one is drawn.
	for i := range env.Servers {
		env.toxic(t, i, "latency", "downstream", toxiproxy.Attributes{"latency": 3, "jitter": 3})
		env.toxicSome(t, i, "latency", "downstream", 0.2, toxiproxy.Attributes{"latency": 40})
		env.toxic(t, i, "slicer", "downstream", toxiproxy.Attributes{"average_size": 16, "size_variation": 15, "delay": 50})
	}

	const (
		workers = 32
		keysPer = 8
	)
	key := func(w, i int) string { return "stress-" + strconv.Itoa(w) + "-" + strconv.Itoa(i) }
	value := func(k string, v int) []byte {
		return bytes.Repeat([]byte(k+"#"+strconv.Itoa(v)+";"), 1+v%13)
	}
	// parse returns the version a value claims for key k, or -2 if the
	// value is not a well-formed value of k.
	parse := func(k string, b []byte) int {
		prefix := []byte(k + "#")
		if !bytes.HasPrefix(b, prefix) {
			return -2
		}
		end := bytes.IndexByte(b, ';')
		v, err := strconv.Atoi(string(b[len(prefix):end]))
		if err != nil || !bytes.Equal(b, value(k, v)) {
			return -2
		}
		return v
	}

	var wrong, oks, errs atomic.Int64
	classes := sync.Map{}
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			// possible[i]: versions key(w,i) may hold: the last confirmed
			// write and every unconfirmed one (-1: absent).
			possible := make([]map[int]bool, keysPer)
			for i := range possible {
				possible[i] = map[int]bool{-1: true}
			}
			fail := func(err error) {
				errs.Add(1)
				cl := Classify(err)
				n, _ := classes.LoadOrStore(cl, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				switch cl {
				case ClassCircuitOpen:
					time.Sleep(5 * time.Millisecond) // pace: do not spin on fast failures
				case ClassTimeout, ClassPoolTimeout, ClassConnReset:
				default:
					t.Errorf("unexpected error class %s: %v", cl, err)
				}
			}
			check := func(k string, i int, it *Item) {
				v := -1
				if it != nil {
					v = parse(k, it.Value)
				}
				if v == -2 || (i >= 0 && !possible[i][v]) {
					wrong.Add(1)
					t.Errorf("WRONG VALUE for %s: %q (possible versions %v)", k, it.Value, possible[i])
				}
			}
			for n := 1; time.Now().Before(stop); n++ {
				i := rng.IntN(keysPer)
				k := key(w, i)
				switch op := rng.IntN(10); {
				case op < 4: // set own key
					err := c.Set(ctx, &Item{Key: k, Value: value(k, n)})
					if err != nil {
						fail(err)
						possible[i][n] = true
						continue
					}
					oks.Add(1)
					possible[i] = map[int]bool{n: true}
				case op < 5: // delete own key
					err := c.Delete(ctx, k)
					if err != nil && err != ErrCacheMiss {
						fail(err)
						possible[i][-1] = true
						continue
					}
					oks.Add(1)
					possible[i] = map[int]bool{-1: true}
				case op < 8: // get own key
					it, err := c.Get(ctx, k)
					if err != nil && err != ErrCacheMiss {
						fail(err)
						continue
					}
					oks.Add(1)
					check(k, i, it)
				case op < 9: // get someone's key: must be well formed for it
					k := key(rng.IntN(workers), rng.IntN(keysPer))
					it, err := c.Get(ctx, k)
					if err != nil && err != ErrCacheMiss {
						fail(err)
						continue
					}
					oks.Add(1)
					check(k, -1, it)
				default: // get multi over own keys and a few others
					ks := []string{k, key(w, (i+1)%keysPer), key(rng.IntN(workers), 0)}
					items, err := c.GetMulti(ctx, ks)
					if err != nil {
						fail(err)
					} else {
						oks.Add(1)
					}
					for _, it := range items {
						j := -1
						if it.Key == ks[0] {
							j = i
						} else if it.Key == ks[1] {
							j = (i + 1) % keysPer
						}
						check(it.Key, j, it)
					}
				}
			}
		}()
	}
	wg.Wait()
	var seen []string
	classes.Range(func(k, n any) bool {
		seen = append(seen, fmt.Sprintf("%s:%d", k, n.(*atomic.Int64).Load()))
		return true
	})
	var created, destroyed int64
	for _, s := range c.Stats() {
		created += s.Pool.Created
		destroyed += s.Pool.Destroyed
	}
	t.Logf("%v: %d ok, %d errors %v, %d connections created, %d destroyed, %d wrong values",
		d, oks.Load(), errs.Load(), seen, created, destroyed, wrong.Load())
	if wrong.Load() != 0 {
		t.Fatalf("%d wrong values", wrong.Load())
	}
	timeouts, _ := classes.Load(ClassTimeout)
	if oks.Load() < 100 || timeouts == nil {
		t.Fatalf("want successes and timeouts under the toxics, got %d ok and errors %v", oks.Load(), seen)
	}
}
