package memcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sony/gobreaker/v2"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return &Error{Op: "get", Server: "127.0.0.1:1", Err: err} }
	netErr := func(op string, err error) error {
		return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: err}}
	}
	for _, tc := range []struct {
		err  error
		want string
		ok   bool // a success for the breaker
	}{
		{nil, ClassOK, true},
		{ErrCacheMiss, ClassMiss, true},
		{ErrNotStored, ClassNotStored, true},
		{ErrCASConflict, ClassCASConflict, true},
		{wrap(ErrMalformedKey), ClassMalformedKey, true},
		{wrap(fmt.Errorf("%w: out of memory", ErrServerError)), ClassServerError, true},
		{wrap(ErrCircuitOpen), ClassCircuitOpen, false},
		{wrap(ErrPoolTimeout), ClassPoolTimeout, false},                                    // before timeout
		{wrap(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), ClassTimeout, false}, // read deadline
		{wrap(&net.OpError{Op: "dial", Err: errTimeout{}}), ClassTimeout, false},           // dial timeout
		{wrap(netErr("connect", syscall.ECONNREFUSED)), ClassConnRefused, false},
		{wrap(netErr("read", syscall.ECONNRESET)), ClassConnReset, false},
		{wrap(netErr("write", syscall.EPIPE)), ClassConnReset, false},
		{wrap(io.ErrUnexpectedEOF), ClassConnReset, false}, // closed mid-response
		{wrap(io.EOF), ClassConnReset, false},              // closed before the response
		{wrap(fmt.Errorf("%w: bad opaque", ErrProtocol)), ClassProtocol, false},
		{wrap(fmt.Errorf("%w: bad data chunk", ErrClientError)), ClassClientError, true},
		{wrap(context.Canceled), ClassCanceled, false},
		{wrap(ErrClosed), ClassOther, false},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
		if got := DefaultIsSuccessful(tc.err); got != tc.ok {
			t.Errorf("DefaultIsSuccessful(%v) = %v, want %v", tc.err, got, tc.ok)
		}
	}
	if !DefaultIsExcluded(wrap(context.Canceled)) || DefaultIsExcluded(wrap(ErrPoolTimeout)) ||
		!DefaultIsExcluded(wrap(callerDeadline{ErrPoolTimeout})) || Classify(wrap(callerDeadline{ErrPoolTimeout})) != ClassPoolTimeout {
		t.Error("DefaultIsExcluded must exclude exactly cancellations and the caller's deadline")
	}
}

type errTimeout struct{}

func (errTimeout) Error() string { return "i/o timeout" }
func (errTimeout) Timeout() bool { return true }

func TestErrorIsNetError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		timeout bool
	}{
		{&Error{Op: "get", Server: "s", Err: &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}}, true},
		{&Error{Op: "get", Server: "s", Err: ErrPoolTimeout}, true},
		{&Error{Op: "get", Server: "s", Err: ErrCircuitOpen}, false},
	} {
		var ne net.Error
		if !errors.As(tc.err, &ne) || ne.Timeout() != tc.timeout {
			t.Errorf("%v: net.Error with Timeout() %v expected", tc.err, tc.timeout)
		}
	}
	err := &Error{Op: "set", Server: "127.0.0.1:11211", Err: ErrCircuitOpen}
	if want := "memcache: set 127.0.0.1:11211: memcache: circuit breaker open"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestDefaultReadyToTrip(t *testing.T) {
	for _, tc := range []struct {
		c    gobreaker.Counts
		want bool
	}{
		{gobreaker.Counts{Requests: 4, ConsecutiveFailures: 4, TotalFailures: 4}, false},
		{gobreaker.Counts{Requests: 5, ConsecutiveFailures: 5, TotalFailures: 5}, true},    // 5 in a row
		{gobreaker.Counts{Requests: 19, ConsecutiveFailures: 1, TotalFailures: 15}, false}, // too few requests for the ratio
		{gobreaker.Counts{Requests: 20, ConsecutiveFailures: 1, TotalFailures: 10}, true},  // half of 20
		{gobreaker.Counts{Requests: 100, ConsecutiveFailures: 4, TotalFailures: 49}, false},
	} {
		if got := DefaultReadyToTrip(tc.c); got != tc.want {
			t.Errorf("DefaultReadyToTrip(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestBreakerSettingsDefaults(t *testing.T) {
	var hooked, user int
	s := breakerSettings(gobreaker.Settings{Timeout: time.Second, Interval: -1,
		OnStateChange: func(string, gobreaker.State, gobreaker.State) { user++ }},
		"a:1", func(string, gobreaker.State, gobreaker.State) { hooked++ })
	if s.Name != "a:1" || s.Timeout != time.Second || s.MaxRequests != DefaultBreakerMaxRequests ||
		s.Interval != 0 || s.BucketPeriod != 0 || s.ReadyToTrip == nil || s.IsSuccessful == nil || s.IsExcluded == nil {
		t.Fatalf("settings %+v", s)
	}
	s.OnStateChange("a:1", gobreaker.StateClosed, gobreaker.StateOpen)
	if hooked != 1 || user != 1 {
		t.Fatalf("hooks called %d and %d times, want both once", hooked, user)
	}
	d := breakerSettings(gobreaker.Settings{}, "b:1", func(string, gobreaker.State, gobreaker.State) {})
	if d.Interval != DefaultBreakerInterval || d.BucketPeriod != DefaultBreakerBucketPeriod || d.Timeout != DefaultBreakerTimeout {
		t.Fatalf("zero settings got %+v", d)
	}
}

func TestJumpHash(t *testing.T) {
	const keys = 30000
	for _, n := range []int{1, 2, 3, 5, 10} {
		counts := make([]int, n)
		for i := 0; i < keys; i++ {
			k := fmt.Sprintf("key-%d", i)
			s := JumpHash.Select(k, n)
			if s < 0 || s >= n {
				t.Fatalf("Select(%q, %d) = %d", k, n, s)
			}
			counts[s]++
			// Consistency: growing to n+1 servers moves a key only to the new one.
			if s2 := JumpHash.Select(k, n+1); s2 != s && s2 != n {
				t.Fatalf("key %q moved from %d to %d when adding server %d", k, s, s2, n)
			}
		}
		for i, c := range counts {
			if exp := keys / n; c < exp*8/10 || c > exp*12/10 {
				t.Errorf("n=%d: server %d has %d keys, want about %d", n, i, c, exp)
			}
		}
	}
	// The reference implementation's results (published test vectors):
	// where data lives must not change between versions.
	for _, tc := range []struct {
		key  uint64
		n    int
		want int32
	}{
		{0, 60, 0},
		{1, 60, 55},
		{2, 60, 46},
		{256, 1024, 520},
		{42, 57, 43},
		{0xDEAD10CC, 666, 361},
		{0xDEAD10CC, 1, 0},
	} {
		if got := jump(tc.key, tc.n); got != tc.want {
			t.Errorf("jump(%d, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
	// FNV-1a 64 test vectors.
	if fnv1a("") != 0xcbf29ce484222325 || fnv1a("a") != 0xaf63dc4c8601ec8c {
		t.Errorf("fnv1a vectors: %x %x", fnv1a(""), fnv1a("a"))
	}
}

// TestCRC32ModuloMatchesGomemcache compares CRC32Modulo with gomemcache's own
// ServerList for 1 to 5 servers: every key must land on the same server.
func TestCRC32ModuloMatchesGomemcache(t *testing.T) {
	for n := 1; n <= 5; n++ {
		var addrs []string
		for i := range n {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", 20000+i))
		}
		var sl gomemcache.ServerList
		if err := sl.SetServers(addrs...); err != nil {
			t.Fatal(err)
		}
		for i := range 5000 {
			key := fmt.Sprintf("mcchaos:v:%d", i)
			if i%7 == 0 {
				key = strings.Repeat("k", 1+i%250) // up to the longest legal key
			}
			a, err := sl.PickServer(key)
			if err != nil {
				t.Fatal(err)
			}
			if got := addrs[CRC32Modulo.Select(key, n)]; got != a.String() {
				t.Fatalf("n=%d key %q: CRC32Modulo picks %s, gomemcache %s", n, key, got, a)
			}
		}
	}
}

func TestLegalKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"a", true},
		{"user:42/profile", true},
		{"ünïcode", true}, // bytes above 0x7f are allowed by memcached
		{"", false},
		{"with space", false},
		{"new\nline", false},
		{"\x00", false},
		{"\x7f", false},
	} {
		if got := legalKey(tc.key); got != tc.want {
			t.Errorf("legalKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}
