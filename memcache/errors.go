package memcache

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Sentinel errors, tested with errors.Is. ErrCacheMiss, ErrNotStored and
// ErrCASConflict are answers rather than failures: they are returned bare
// (no allocation) and count as successes for the breaker. All other errors
// from a Client are *Error values naming the operation and server.
var (
	// ErrCacheMiss means the key was not found (get, delete, incr, decr,
	// touch, and CAS of a missing key).
	ErrCacheMiss = errors.New("memcache: cache miss")
	// ErrNotStored means a conditional write (add, replace) was not stored.
	ErrNotStored = errors.New("memcache: item not stored")
	// ErrCASConflict means CompareAndSwap lost: the item changed since it was read.
	ErrCASConflict = errors.New("memcache: compare-and-swap conflict")
	// ErrCircuitOpen means the server's breaker is open (or half-open with
	// its probe requests already in flight): the operation was not attempted.
	ErrCircuitOpen = errors.New("memcache: circuit breaker open")
	// ErrPoolTimeout means no connection to the server became free before
	// the operation's deadline, or one did with too little time left to use
	// it (under 1 ms). It satisfies net.Error with Timeout() true.
	ErrPoolTimeout error = poolTimeoutError{}
	// ErrMalformedKey means the key is empty, longer than 250 bytes, or holds
	// spaces or control characters; nothing was sent.
	ErrMalformedKey = errors.New("memcache: malformed key")
	// ErrServerError means the server replied SERVER_ERROR (out of memory,
	// object too large, ...).
	ErrServerError = errors.New("memcache: server error")
	// ErrClientError means the server rejected the request: CLIENT_ERROR or
	// ERROR (e.g. incr of a non-numeric value).
	ErrClientError = errors.New("memcache: client error")
	// ErrProtocol means the response could not be parsed or did not match the
	// request (wrong opaque token, bad size, missing terminator). The
	// connection is destroyed.
	ErrProtocol = errors.New("memcache: protocol error")
	// ErrClosed means the Client was closed.
	ErrClosed = errors.New("memcache: client closed")
)

type poolTimeoutError struct{}

func (poolTimeoutError) Error() string   { return "memcache: timed out waiting for a pooled connection" }
func (poolTimeoutError) Timeout() bool   { return true }
func (poolTimeoutError) Temporary() bool { return true }

// Error is a failed operation on one server. Err is the cause: a sentinel
// above, a *net.OpError (timeouts have Timeout() true; refused and reset
// connections keep their syscall.Errno reachable by errors.Is), or a
// message wrapping ErrProtocol, ErrServerError or ErrClientError.
type Error struct {
	Op     string // "get", "set", "gets", ... as the command's name
	Server string // "host:port"
	Err    error
}

func (e *Error) Error() string { return "memcache: " + e.Op + " " + e.Server + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the operation ran out of time (on the wire or
// waiting for a pooled connection); *Error satisfies net.Error.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary is part of net.Error; it is the same as Timeout.
func (e *Error) Temporary() bool { return e.Timeout() }

var _ net.Error = (*Error)(nil)

// Error classes returned by Classify, used as metric label values.
const (
	ClassOK           = "ok"
	ClassMiss         = "miss"
	ClassNotStored    = "not_stored"
	ClassCASConflict  = "cas_conflict"
	ClassTimeout      = "timeout"
	ClassCircuitOpen  = "circuit_open"
	ClassConnRefused  = "conn_refused"
	ClassConnReset    = "conn_reset" // reset, broken pipe, or closed by the server mid-response
	ClassPoolTimeout  = "pool_timeout"
	ClassProtocol     = "protocol"     // unparsable or mismatched response
	ClassClientError  = "client_error" // CLIENT_ERROR or ERROR: the server refused the request
	ClassServerError  = "server_error"
	ClassMalformedKey = "malformed_key"
	ClassCanceled     = "canceled" // the caller's context was canceled
	ClassOther        = "other"
)

// Classify maps an error returned by a Client to one of the Class*
// constants: ClassOK for nil, ClassMiss, ClassNotStored and ClassCASConflict
// for answers, otherwise the failure's class. Checks run from most to least
// specific, so a pool timeout is ClassPoolTimeout even though it also
// satisfies net.Error with Timeout() true.
func Classify(err error) string {
	switch {
	case err == nil:
		return ClassOK
	case err == ErrCacheMiss: // fast path for the common answers
		return ClassMiss
	case errors.Is(err, ErrCacheMiss):
		return ClassMiss
	case errors.Is(err, ErrNotStored):
		return ClassNotStored
	case errors.Is(err, ErrCASConflict):
		return ClassCASConflict
	case errors.Is(err, ErrCircuitOpen):
		return ClassCircuitOpen
	case errors.Is(err, ErrPoolTimeout):
		return ClassPoolTimeout
	case errors.Is(err, ErrMalformedKey):
		return ClassMalformedKey
	case errors.Is(err, ErrServerError):
		return ClassServerError
	case errors.Is(err, ErrClientError):
		return ClassClientError
	case errors.Is(err, ErrProtocol):
		return ClassProtocol
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		return ClassConnReset
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	}
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return ClassTimeout
	}
	return ClassOther
}
