package memcache

import (
	"context"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults used when the matching Config field is zero.
const (
	// DefaultDialTimeout bounds establishing one TCP connection.
	DefaultDialTimeout = 1 * time.Second
	// DefaultTimeout bounds one operation end to end: waiting for a pooled
	// connection, writing the request and reading the whole response.
	DefaultTimeout = 500 * time.Millisecond

	// DefaultMaxValueSize is the largest value read: memcached's default
	// item size limit (-I 1m).
	DefaultMaxValueSize = 1 << 20

	// DefaultPoolMaxSize is the most connections open to one server.
	DefaultPoolMaxSize int32 = 64
	// DefaultPoolMaxLifetime is how long a connection may live before the
	// health check closes it (when idle).
	DefaultPoolMaxLifetime = 30 * time.Minute
	// DefaultPoolMaxIdleTime is how long a connection may stay idle before
	// the health check closes it.
	DefaultPoolMaxIdleTime = 5 * time.Minute
	// DefaultPoolHealthCheckInterval is the period of the per-server pool
	// maintenance: lifetime and idle-time expiry, a zero-cost liveness check
	// of idle connections, and topping up to MinIdle.
	DefaultPoolHealthCheckInterval = 5 * time.Second

	// DefaultBreakerMaxRequests is the number of probe requests allowed
	// through a half-open breaker; that many consecutive successes close it.
	DefaultBreakerMaxRequests uint32 = 1
	// DefaultBreakerInterval is the rolling window over which a closed
	// breaker counts requests and failures.
	DefaultBreakerInterval = 10 * time.Second
	// DefaultBreakerBucketPeriod is the bucket of the rolling window.
	DefaultBreakerBucketPeriod = 1 * time.Second
	// DefaultBreakerTimeout is how long a breaker stays open before letting
	// probe requests through (half-open).
	DefaultBreakerTimeout = 5 * time.Second
)

// Config configures a Client. The zero value of every field except Servers
// means the documented default; New never modifies the caller's Config.
type Config struct {
	// Servers lists the memcached servers as "host:port". Required.
	// A key's server is chosen among them by Selector; the order matters.
	Servers []string

	// DialTimeout bounds establishing one connection.
	// If zero, DefaultDialTimeout is used.
	DialTimeout time.Duration

	// Timeout bounds each operation: pool wait, write and read. A context
	// deadline that is earlier wins. If zero, DefaultTimeout is used.
	Timeout time.Duration

	// MaxValueSize is the largest value a response may announce: a larger
	// one is a protocol error (the connection is destroyed) found before
	// anything is allocated, so a corrupt or hostile size never makes the
	// client allocate it. Raise it with memcached's -I.
	// If zero, DefaultMaxValueSize is used.
	MaxValueSize int

	// DisableGetRetry turns off the one retry of a read (Get, GetMulti)
	// that failed because the server had closed a connection that served
	// before: end of stream, reset or broken pipe. By default such a read
	// is retried once, within the same deadline, on a connection checked
	// alive first or newly dialed: after a memcached restart or an idle
	// close every pooled connection is dead, and without the retry each
	// would fail one read (and count against the breaker) until the next
	// health check. The cost: on a server that resets every connection a
	// read is sent twice (it counts once for the breaker) and may take up
	// to the whole Timeout. Writes are never retried, since the server may
	// have applied them. Either way, after such a failure idle connections
	// are checked alive (one non-blocking recv) before use until the next
	// health check.
	DisableGetRetry bool

	// CloseOnServerError closes a connection after a SERVER_ERROR reply
	// (out of memory, object too large). By default it is kept: memcached
	// sends SERVER_ERROR once it has consumed the whole request, so the
	// stream is in a known state, and closing would make every refused
	// write a redial. The cost: SERVER_ERROR carries no opaque token, so
	// the reply is matched to the request by position alone (one request
	// is in flight per connection), and after a few SERVER_ERRORs memcached
	// closes the connection itself, which the next operation on it finds
	// (a read is then retried). A SERVER_ERROR within a GetMulti pipeline
	// always closes the connection.
	CloseOnServerError bool

	// Pool configures each server's connection pool.
	Pool PoolConfig

	// Breaker configures each server's circuit breaker. Name is set to the
	// server address. Zero fields take these defaults:
	// MaxRequests DefaultBreakerMaxRequests, Interval DefaultBreakerInterval
	// (negative: counts are never cleared while closed), BucketPeriod
	// DefaultBreakerBucketPeriod (negative: fixed window), Timeout
	// DefaultBreakerTimeout, ReadyToTrip DefaultReadyToTrip, IsSuccessful
	// DefaultIsSuccessful (a cache miss, not-stored, CAS conflict, a
	// malformed key and SERVER_ERROR, CLIENT_ERROR or ERROR replies are
	// successes: the server answered), IsExcluded DefaultIsExcluded (the
	// caller's context was canceled, or its deadline, earlier than
	// Timeout, passed). Breaker.OnStateChange, if set, is called as well as
	// Config.OnStateChange.
	Breaker gobreaker.Settings

	// DisableBreaker turns the circuit breakers off: every operation is
	// attempted whatever the server's recent failures.
	DisableBreaker bool

	// Selector maps a key to a server index. If nil, JumpHash is used.
	Selector Selector

	// Failover, when true, sends an operation whose server's breaker is open
	// or to which no connection could be made (dial failed, pool wait timed
	// out) to the next server in Servers instead. It is off by default:
	// it keeps reads and writes available while a server is out, but the
	// fallback server then holds writes the home server never sees, so after
	// the home server comes back reads may return stale values, and deletes
	// and CAS made during the outage are not seen there. Operations that
	// reached the server and then failed (timeout, reset) are never retried
	// elsewhere, since the write may have happened.
	Failover bool

	// OnStateChange, if set, is called on every breaker transition with the
	// server address and the exact wall time of the transition. It runs
	// while the breaker's lock is held: it must be quick and must not call
	// into the Client. The open→half-open transition is observed lazily, by
	// the first request or Stats call after Breaker.Timeout has elapsed.
	OnStateChange func(server string, from, to gobreaker.State, at time.Time)

	// OnAcquire, if set, is called after every pool acquire with the server
	// address and the time spent waiting for a connection (including a dial
	// when one was needed), successful or not. Loadgen observes it into the
	// pool_acquire_duration histogram. Zero cost when nil.
	OnAcquire func(server string, wait time.Duration, err error)

	// OnRequest, if set, is called each time a request is about to be
	// written to a connection, with the server address and the operation
	// ("get" for Get and GetMulti, "set", "add", "cas", "delete", "incr"...):
	// once per attempt, so a retried read (DisableGetRetry) counts twice
	// and an operation refused by the breaker or failing to get a
	// connection not at all. Loadgen counts it as
	// memcache_client_wire_requests_total. It must be quick. Zero cost when nil.
	OnRequest func(server, op string)
}

// PoolConfig configures one server's connection pool (jackc/puddle/v2).
// The zero value of each field means the documented default.
type PoolConfig struct {
	// MaxSize is the most connections open to one server.
	// If zero, DefaultPoolMaxSize is used.
	MaxSize int32
	// MinIdle is the number of connections the health check keeps open
	// even when unused. If zero, none are kept.
	MinIdle int32
	// MaxLifetime closes a connection (when idle) older than this.
	// If zero, DefaultPoolMaxLifetime is used; negative means no limit.
	MaxLifetime time.Duration
	// MaxIdleTime closes a connection idle longer than this.
	// If zero, DefaultPoolMaxIdleTime is used; negative means no limit.
	MaxIdleTime time.Duration
	// HealthCheckInterval is the period of pool maintenance.
	// If zero, DefaultPoolHealthCheckInterval is used; negative disables it.
	HealthCheckInterval time.Duration
}

// withDefaults returns p with zero fields replaced by defaults.
func (p PoolConfig) withDefaults() PoolConfig {
	if p.MaxSize == 0 {
		p.MaxSize = DefaultPoolMaxSize
	}
	if p.MaxLifetime == 0 {
		p.MaxLifetime = DefaultPoolMaxLifetime
	}
	if p.MaxIdleTime == 0 {
		p.MaxIdleTime = DefaultPoolMaxIdleTime
	}
	if p.HealthCheckInterval == 0 {
		p.HealthCheckInterval = DefaultPoolHealthCheckInterval
	}
	return p
}

// DefaultReadyToTrip opens a breaker after 5 consecutive failures, or when
// at least half of 20 or more requests in the window failed.
func DefaultReadyToTrip(c gobreaker.Counts) bool {
	return c.ConsecutiveFailures >= 5 || (c.Requests >= 20 && c.TotalFailures*2 >= c.Requests)
}

// DefaultIsSuccessful counts an error as a success for the breaker when the
// server answered: nil, a cache miss, not stored, a CAS conflict, a
// malformed key (never sent), a SERVER_ERROR reply, or a CLIENT_ERROR or
// ERROR reply (the request was bad, not the server: five increments of a
// non-numeric value must not open it). Timeouts, connection errors,
// unexpected responses and pool timeouts are failures.
func DefaultIsSuccessful(err error) bool {
	switch Classify(err) {
	case ClassOK, ClassMiss, ClassNotStored, ClassCASConflict, ClassMalformedKey, ClassServerError, ClassClientError:
		return true
	}
	return false
}

// DefaultIsExcluded leaves out of the breaker's counts operations that ended
// because of the caller's context: canceled, or its deadline (earlier than
// Config.Timeout) passed. Such an operation says nothing of the server.
func DefaultIsExcluded(err error) bool {
	return Classify(err) == ClassCanceled || errors.Is(err, context.DeadlineExceeded)
}

// breakerSettings returns s with zero fields replaced by defaults, named
// addr, reporting transitions to hook.
func breakerSettings(s gobreaker.Settings, addr string, hook func(string, gobreaker.State, gobreaker.State)) gobreaker.Settings {
	s.Name = addr
	if s.MaxRequests == 0 {
		s.MaxRequests = DefaultBreakerMaxRequests
	}
	switch {
	case s.Interval == 0:
		s.Interval = DefaultBreakerInterval
	case s.Interval < 0:
		s.Interval = 0
	}
	switch {
	case s.BucketPeriod == 0:
		s.BucketPeriod = DefaultBreakerBucketPeriod
	case s.BucketPeriod < 0:
		s.BucketPeriod = 0
	}
	if s.Interval == 0 {
		s.BucketPeriod = 0
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultBreakerTimeout
	}
	if s.ReadyToTrip == nil {
		s.ReadyToTrip = DefaultReadyToTrip
	}
	if s.IsSuccessful == nil {
		s.IsSuccessful = DefaultIsSuccessful
	}
	if s.IsExcluded == nil {
		s.IsExcluded = DefaultIsExcluded
	}
	user := s.OnStateChange
	s.OnStateChange = func(name string, from, to gobreaker.State) {
		hook(name, from, to)
		if user != nil {
			user(name, from, to)
		}
	}
	return s
}
