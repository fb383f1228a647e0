package memcache

import (
	"time"

	"github.com/sony/gobreaker/v2"
)

// ServerStats is a snapshot of one server's pool and breaker.
type ServerStats struct {
	Addr    string
	Pool    PoolStats
	Breaker BreakerStats
}

// PoolStats is a snapshot of one server's connection pool. Counts are
// cumulative since New unless said otherwise.
type PoolStats struct {
	Total        int32 // open connections now: Active + Idle + Constructing
	Active       int32 // connections in use now
	Idle         int32 // connections idle in the pool now
	Constructing int32 // connections being dialed now
	Max          int32 // PoolConfig.MaxSize

	Created       int64         // connections successfully dialed
	Destroyed     int64         // connections closed (errors, expiry, Close)
	DialErrors    int64         // dials that failed
	Acquires      int64         // successful acquires
	EmptyAcquires int64         // acquires that found no idle connection and waited
	AcquireWait   time.Duration // total time spent waiting in EmptyAcquires
	AcquireErrors int64         // acquires that failed: pool timeout, dial error, cancel
	Retries       int64         // reads retried after a pooled connection was found closed (Config.DisableGetRetry)
}

// BreakerStats is a snapshot of one server's circuit breaker.
type BreakerStats struct {
	Disabled bool            // Config.DisableBreaker: State is always closed
	State    gobreaker.State // evaluating it may move open → half-open
	// Counts are gobreaker's counts for the current generation: they are
	// cleared on every state change and at every Interval while closed.
	Counts         gobreaker.Counts
	Transitions    int64     // state changes since New
	LastTransition time.Time // zero if none
	Rejected       int64     // operations failed fast with ErrCircuitOpen
}
