package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// Result is the outcome of one operation: ok, miss, or an error class. Its
// String is the `result` label of memcache_client_operations_total and, for
// errors, the `class` label of memcache_client_errors_total.
type Result uint8

// The results. Everything from ResultTimeout on is an error class.
const (
	ResultOK Result = iota
	ResultMiss
	ResultTimeout
	ResultCircuitOpen
	ResultConnRefused
	ResultConnReset
	ResultPoolTimeout
	ResultProtocol
	ResultNotStored
	ResultServerError
	ResultOther
	numResults
)

var resultNames = [numResults]string{
	"ok", "miss", "timeout", "circuit_open", "conn_refused", "conn_reset",
	"pool_timeout", "protocol", "not_stored", "server_error", "other",
}

// String returns the metric label of r.
func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "other"
}

// IsError reports whether r is an error class (not ok and not a miss).
func (r Result) IsError() bool { return r >= ResultTimeout }

// Classify maps an operation's error to its Result. A nil error is
// ResultOK; a cache miss is ResultMiss, not an error. The client's own
// sentinels (through the driver) are checked before the network errors they
// may wrap: a pool timeout caused by a context deadline is a pool_timeout.
func Classify(err error) Result {
	var ne net.Error
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, driver.ErrCacheMiss):
		return ResultMiss
	case errors.Is(err, driver.ErrCircuitOpen):
		return ResultCircuitOpen
	case errors.Is(err, driver.ErrPoolTimeout):
		return ResultPoolTimeout
	case errors.Is(err, driver.ErrNotStored):
		return ResultNotStored
	case errors.Is(err, driver.ErrProtocol):
		return ResultProtocol
	case errors.Is(err, driver.ErrServerError):
		return ResultServerError
	case errors.Is(err, syscall.ECONNREFUSED):
		return ResultConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		// The peer (or a proxy in between) closed the connection.
		return ResultConnReset
	case errors.Is(err, driver.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ResultTimeout
	}
	return ResultOther
}
