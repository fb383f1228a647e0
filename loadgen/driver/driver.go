// Package driver is the seam between loadgen and a memcache client under
// test. A Driver adapts one client library to the four operations loadgen
// issues (get, set, delete, increment); errors are mapped onto this package's
// sentinels so that loadgen classifies every client's errors the same way.
//
// Adapters: "ours" (github.com/mcchaos/mcchaos/memcache, the default) and
// "gomemcache" (github.com/bradfitz/gomemcache). Adding a client is one file
// with a constructor registered in the kinds table.
package driver

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcchaos/mcchaos/memcache"
	"sort"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/loadgen/internal/defaults"
)

// Sentinel errors returned (possibly wrapped) by every Driver. Check them
// with errors.Is.
var (
	// ErrCacheMiss means the key was not found (get, delete, increment).
	ErrCacheMiss = errors.New("driver: cache miss")
	// ErrNotStored means the server did not store the value.
	ErrNotStored = errors.New("driver: not stored")
	// ErrCircuitOpen means the client's circuit breaker refused the request.
	ErrCircuitOpen = errors.New("driver: circuit breaker open")
	// ErrPoolTimeout means no pooled connection could be acquired in time.
	ErrPoolTimeout = errors.New("driver: pool acquire timeout")
	// ErrTimeout means the operation or the dial did not finish in time.
	ErrTimeout = errors.New("driver: timeout")
	// ErrProtocol means the server's response could not be parsed or did
	// not match the request, or the server rejected it (CLIENT_ERROR, ERROR).
	ErrProtocol = errors.New("driver: protocol error")
	// ErrServerError means the server answered SERVER_ERROR.
	ErrServerError = errors.New("driver: server error")
)

// Driver is what loadgen needs from a client under test. Implementations
// must be safe for concurrent use by multiple goroutines.
type Driver interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrCacheMiss when there is none. The returned slice may be retained
	// by the caller.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key. value must not be retained after Set
	// returns.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key, or returns an error wrapping ErrCacheMiss.
	Delete(ctx context.Context, key string) error
	// Increment adds delta to the decimal counter stored under key and
	// returns the new value, or an error wrapping ErrCacheMiss.
	Increment(ctx context.Context, key string, delta uint64) (uint64, error)
	// ServerFor returns the name of the server key maps to right now.
	ServerFor(key string) string
	// Close releases the client's connections.
	Close() error
}

// PoolStats is one server's connection pool, as reported by a client that
// has one. Counters are cumulative since the client was created.
type PoolStats struct {
	Server    string // server name, e.g. "mc1"
	Total     int    // open connections (active + idle + being created)
	Active    int    // connections in use
	Idle      int    // idle connections
	Created   uint64 // connections ever created
	Destroyed uint64 // connections ever destroyed
}

// StatsReporter is implemented by drivers whose client exposes pool
// statistics.
type StatsReporter interface {
	PoolStats() []PoolStats
}

// BreakerState is a circuit breaker state, numbered as the
// memcache_client_circuit_breaker_state metric reports it.
type BreakerState int

// The breaker states.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

// String returns "closed", "half-open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("unknown(%d)", int(s))
}

// Server is one memcached server as loadgen knows it.
type Server struct {
	Name string // e.g. "mc1": the toxiproxy proxy name and the metric label
	Addr string // host:port the client dials
}

// Defaults of Settings, also used as loadgen's flag defaults.
const (
	DefaultDialTimeout         = 500 * time.Millisecond
	DefaultTimeout             = 500 * time.Millisecond
	DefaultPoolSize            = 100
	DefaultPoolMaxLifetime     = time.Minute
	DefaultPoolMaxIdle         = 30 * time.Second
	DefaultHealthCheck         = time.Second
	DefaultBreakerMaxRequests  = 3
	DefaultBreakerInterval     = 30 * time.Second
	DefaultBreakerTimeout      = 5 * time.Second
	DefaultBreakerBucket       = 10 * time.Second
	DefaultBreakerConsecutive  = 100
	DefaultBreakerFailureRatio = 0.3
	DefaultBreakerMinRequests  = 10
)

// Breaker configures a per-server circuit breaker. The zero value of each
// field means its Default* constant.
type Breaker struct {
	MaxRequests  uint32        // requests let through when half-open
	Interval     time.Duration // closed-state counting window
	Timeout      time.Duration // open → half-open delay
	BucketPeriod time.Duration // rolling-window bucket
	// The breaker trips at ConsecutiveFailures consecutive failures, or when
	// at least MinRequests requests were counted and the failure ratio is at
	// least FailureRatio.
	ConsecutiveFailures uint32
	FailureRatio        float64
	MinRequests         uint32
}

// WithDefaults returns b with zero fields set to their defaults.
func (b Breaker) WithDefaults() Breaker {
	defaults.Set(&b.MaxRequests, DefaultBreakerMaxRequests)
	defaults.Set(&b.Interval, DefaultBreakerInterval)
	defaults.Set(&b.Timeout, DefaultBreakerTimeout)
	defaults.Set(&b.BucketPeriod, DefaultBreakerBucket)
	defaults.Set(&b.ConsecutiveFailures, DefaultBreakerConsecutive)
	defaults.Set(&b.FailureRatio, DefaultBreakerFailureRatio)
	defaults.Set(&b.MinRequests, DefaultBreakerMinRequests)
	return b
}

// ReadyToTrip reports whether a breaker with these settings trips after
// seeing the given request and failure counts.
func (b Breaker) ReadyToTrip(requests, totalFailures, consecutiveFailures uint32) bool {
	b = b.WithDefaults()
	if consecutiveFailures >= b.ConsecutiveFailures {
		return true
	}
	return requests >= b.MinRequests && float64(totalFailures) >= b.FailureRatio*float64(requests)
}

// Settings configures a client through its driver. The zero value of each
// field means its Default* constant; Servers must not be empty.
type Settings struct {
	Servers []Server
	// KeyPrefix is the arm's key prefix; Place ignores it, so every arm
	// (and every client) puts a key on the same server.
	KeyPrefix       string
	DialTimeout     time.Duration
	Timeout         time.Duration // per operation
	PoolSize        int           // max connections per server
	PoolMaxLifetime time.Duration
	PoolMaxIdle     time.Duration
	HealthCheck     time.Duration // idle-connection health check period
	Breaker         Breaker
	DisableBreaker  bool
	// Failover sends an operation whose server is out (breaker open, no
	// connection) to the next server, where the client supports it.
	Failover bool
	// OnBreakerChange, if not nil, is called on every breaker transition
	// with the server's name and the exact time of the transition.
	OnBreakerChange func(server string, from, to BreakerState, at time.Time)
	// OnAcquire, if not nil, is called after every pool acquire with the
	// server's name and the time spent waiting for a connection.
	OnAcquire func(server string, wait time.Duration)
	// OnRequest, if not nil, is called each time the client is about to
	// write a request to server (by name), with the client's name of the
	// request ("get" also for a get-multi's batch and a CAS's gets): once
	// per attempt, so retries count. Only clients that can count them call
	// it (ours; not gomemcache).
	OnRequest func(server, op string)
}

// Place maps a key to the index of its server among n, the same way for
// every client and every arm: jump consistent hash of the key without the
// arm's prefix. Drivers use it instead of their client's own selector, so
// a fault on one server exposes every client to the same share of the
// operations (with their native selectors ours sent about 35 % of the
// operations to mc1 and gomemcache 29.5 %).
func (s Settings) Place(key string, n int) int {
	return memcache.JumpHash.Select(strings.TrimPrefix(key, s.KeyPrefix), n)
}

// WithDefaults returns s with zero fields set to their defaults.
func (s Settings) WithDefaults() Settings {
	defaults.Set(&s.DialTimeout, DefaultDialTimeout)
	defaults.Set(&s.Timeout, DefaultTimeout)
	defaults.Set(&s.PoolSize, DefaultPoolSize)
	defaults.Set(&s.PoolMaxLifetime, DefaultPoolMaxLifetime)
	defaults.Set(&s.PoolMaxIdle, DefaultPoolMaxIdle)
	defaults.Set(&s.HealthCheck, DefaultHealthCheck)
	s.Breaker = s.Breaker.WithDefaults()
	return s
}

// NameOf returns the name of the server whose name or address is s, or s
// itself when no server matches.
func (s Settings) NameOf(nameOrAddr string) string {
	for _, sv := range s.Servers {
		if sv.Name == nameOrAddr || sv.Addr == nameOrAddr {
			return sv.Name
		}
	}
	return nameOrAddr
}

// Info describes the client behind a driver, for loadgen_info.
type Info struct {
	Client   string // driver kind, e.g. "ours"
	Version  string // client module version, or VCS revision, or "unknown"
	Breakers bool   // the client has circuit breakers (and reports transitions)
}

type kind struct {
	open func(Settings) (Driver, error)
	info func() Info
}

// kinds is the table of known clients; the first is the default.
var kinds = map[string]kind{
	"ours":       {open: openOurs, info: oursInfo},
	"gomemcache": {open: openGomemcache, info: gomemcacheInfo},
}

// Default is the driver kind used when none is given.
const Default = "ours"

// Kinds returns the known driver kinds, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open creates the named client with settings s.
func Open(name string, s Settings) (Driver, Info, error) {
	k, ok := kinds[name]
	if !ok {
		return nil, Info{}, fmt.Errorf("unknown client %q (known: %s)", name, strings.Join(Kinds(), ", "))
	}
	if len(s.Servers) == 0 {
		return nil, Info{}, errors.New("no servers given")
	}
	d, err := k.open(s.WithDefaults())
	if err != nil {
		return nil, Info{}, fmt.Errorf("open %s client: %w", name, err)
	}
	return d, k.info(), nil
}

// wrapped is an error that matches both a driver sentinel and the client's
// original error with errors.Is / errors.As.
type wrapped struct {
	sentinel, err error
}

func (w *wrapped) Error() string   { return w.sentinel.Error() + ": " + w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.sentinel, w.err} }

func wrap(sentinel, err error) error { return &wrapped{sentinel, err} }
