package memcache

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/puddle/v2"
	"github.com/sony/gobreaker/v2"
)

// server is one memcached server: its pool, its breaker and their counters.
type server struct {
	addr   string
	cfg    *Config // defaults applied
	pool   *puddle.Pool[*conn]
	cb     *gobreaker.CircuitBreaker[struct{}] // nil when disabled
	bg     context.Context                     // canceled by Close
	dialer net.Dialer

	created, destroyed, dialErrors   atomic.Int64
	acquires, emptyAcquires, acqErrs atomic.Int64
	acquireWait                      atomic.Int64 // ns
	// idle approximates the number of pooled (idle) connections, so that
	// the allocation-free TryAcquire is tried only when it can succeed:
	// TryAcquire on an empty pool would start a background dial on top of
	// the one Acquire then makes. See conn.pooled.
	idle atomic.Int32
	// noDial is canceled: dials with it fail at once (see acquireOne).
	noDial context.Context
	// checking is set while the health check holds the idle connections.
	checking atomic.Pointer[chan struct{}]
	// suspect is set when a pooled connection was found closed by the
	// server: until the next health check, idle connections are checked
	// alive before use.
	suspect               atomic.Bool
	retries               atomic.Int64
	transitions, rejected atomic.Int64
	lastTransition        atomic.Int64 // unix ns, 0 if none
	healthDone            chan struct{}
}

func newServer(bg context.Context, addr string, cfg *Config) (*server, error) {
	noDial, cancel := context.WithCancel(bg)
	cancel()
	s := &server{addr: addr, cfg: cfg, bg: bg, noDial: noDial, dialer: net.Dialer{Timeout: cfg.DialTimeout}, healthDone: make(chan struct{})}
	pool, err := puddle.NewPool(&puddle.Config[*conn]{
		Constructor: s.dial,
		Destructor: func(cn *conn) {
			cn.nc.Close()
			s.destroyed.Add(1)
		},
		MaxSize: cfg.Pool.MaxSize,
	})
	if err != nil {
		return nil, err
	}
	s.pool = pool
	if !cfg.DisableBreaker {
		s.cb = gobreaker.NewCircuitBreaker[struct{}](breakerSettings(cfg.Breaker, addr, s.onStateChange))
	}
	return s, nil
}

// onStateChange runs under the breaker's lock, so now is the exact time.
func (s *server) onStateChange(_ string, from, to gobreaker.State) {
	now := time.Now()
	s.transitions.Add(1)
	s.lastTransition.Store(now.UnixNano())
	if s.cfg.OnStateChange != nil {
		s.cfg.OnStateChange(s.addr, from, to, now)
	}
}

func (s *server) dial(ctx context.Context) (*conn, error) {
	if ctx == s.noDial {
		return nil, errNoDial
	}
	nc, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		s.dialErrors.Add(1)
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	s.created.Add(1)
	cn := newConn(nc, s.cfg.MaxValueSize)
	if ctx.Value(minIdleKey{}) != nil { // CreateResource puts it straight into the idle stack
		cn.pooled = true
		s.idle.Add(1)
	}
	return cn, nil
}

// call describes one operation on one server.
type call struct {
	op       string    // names the operation in errors
	deadline time.Time // of the whole operation: pool wait, write and read
	byCtx    bool      // deadline is the context's (earlier than Config.Timeout)
	read     bool      // a read: retried once after a stale connection
}

// do runs fn on one of s's connections under s's breaker.
func (s *server) do(ctx context.Context, c call, fn func(*conn) error) error {
	if s.cb == nil {
		return s.run(ctx, c, fn)
	}
	_, err := s.cb.Execute(func() (struct{}, error) {
		return struct{}{}, s.run(ctx, c, fn)
	})
	if err == gobreaker.ErrOpenState || err == gobreaker.ErrTooManyRequests {
		s.rejected.Add(1)
		return &Error{Op: c.op, Server: s.addr, Err: ErrCircuitOpen}
	}
	return err
}

// run is exec, retried once for a read that failed on a stale pooled
// connection (Config.DisableGetRetry). After such a failure, idle
// connections are checked alive before use until the next health check.
func (s *server) run(ctx context.Context, c call, fn func(*conn) error) error {
	reused, err := s.exec(ctx, c, fn, false)
	if err == nil || !reused || Classify(err) != ClassConnReset {
		return err
	}
	s.suspect.Store(true)
	if !c.read || s.cfg.DisableGetRetry {
		return err
	}
	s.retries.Add(1)
	_, err = s.exec(ctx, c, fn, true)
	return err
}

// minWireTime is the least time left after the pool wait for which a
// connection is used: with less, the request would time out on the wire
// and the connection be destroyed for nothing. The operation fails with
// ErrPoolTimeout instead and the connection goes back to the pool.
const minWireTime = time.Millisecond

// exec acquires a connection (checked alive first when verify), runs fn on
// it with the deadline set, and gives it back to the pool only if fn left
// it in a known state. reused reports that the connection had served
// before. A timeout under the context's deadline wraps
// context.DeadlineExceeded, which DefaultIsExcluded leaves out of the
// breaker's counts.
func (s *server) exec(ctx context.Context, c call, fn func(*conn) error, verify bool) (reused bool, err error) {
	defer func() {
		if err != nil && !isAnswer(err) { // answers stay bare: no allocation
			if c.byCtx && (errors.Is(err, ErrPoolTimeout) || Classify(err) == ClassTimeout) {
				err = callerDeadline{err}
			}
			err = &Error{Op: c.op, Server: s.addr, Err: err}
		}
	}()
	res, reused, err := s.acquire(ctx, c.deadline, verify)
	if err != nil {
		return false, err
	}
	if time.Until(c.deadline) < minWireTime {
		s.release(res, true)
		return reused, ErrPoolTimeout
	}
	cn := res.Value()
	cn.attach()
	keep := false
	// Deferred, so that a panic (recovered by the application) destroys the
	// connection instead of leaking its pool slot, which would block Close.
	defer func() {
		cn.detach()
		if keep {
			s.release(res, false)
			return
		}
		// WARNING: after a timeout, reset or unexpected response the
		// stream's position is unknown: the connection must never serve
		// another request. Close it now; puddle's Destroy runs the
		// destructor asynchronously.
		cn.nc.Close()
		res.Destroy()
	}()
	if err := cn.nc.SetDeadline(c.deadline); err != nil {
		return reused, err
	}
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(s.addr, c.op)
	}
	err = fn(cn)
	// Bytes past the last response answer no request: the stream's
	// position is unknown, and a request on it would read them first.
	keep = (err == nil || isAnswer(err) || s.keepAfter(err, cn)) && cn.br.Buffered() == 0
	return reused, err
}

// keepAfter reports whether cn stays usable after the failure err: after a
// SERVER_ERROR memcached has consumed the whole request (Config.CloseOnServerError).
func (s *server) keepAfter(err error, cn *conn) bool {
	return !s.cfg.CloseOnServerError && !cn.broken && errors.Is(err, ErrServerError)
}

// callerDeadline is a timeout under the caller's context deadline. It
// matches context.DeadlineExceeded as well as the timeout itself.
type callerDeadline struct{ err error }

func (e callerDeadline) Error() string   { return e.err.Error() + " (the context's deadline)" }
func (e callerDeadline) Unwrap() []error { return []error{e.err, context.DeadlineExceeded} }

// isAnswer reports whether err is a server's answer after which the
// connection is in a known state.
func isAnswer(err error) bool {
	return err == ErrCacheMiss || err == ErrNotStored || err == ErrCASConflict
}

// acquire gets a connection and reports whether it had served before. The
// fast path (an idle connection) does not allocate; otherwise it waits
// until deadline, dialing if the pool has room. When verify, or while s is
// suspect (a pooled connection was found closed by the server), idle
// connections are checked alive first and dead ones destroyed.
func (s *server) acquire(ctx context.Context, deadline time.Time, verify bool) (*puddle.Resource[*conn], bool, error) {
	verify = verify || s.suspect.Load()
	for {
		res, err := s.acquireOne(ctx, deadline)
		if err != nil {
			return nil, false, err
		}
		reused := s.took(res)
		if !verify || !reused || res.Value().idleAlive() {
			return res, reused, nil
		}
		res.Value().nc.Close()
		res.Destroy()
	}
}

func (s *server) acquireOne(ctx context.Context, deadline time.Time) (*puddle.Resource[*conn], error) {
	if s.idle.Load() > 0 {
		// s.noDial: on an empty stack (s.idle is only an estimate)
		// TryAcquire starts a background dial, which must fail at once.
		if res, err := s.tryAcquire(); res != nil || err != nil {
			return res, err
		}
	}
	start := time.Now()
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if ch := s.checking.Load(); ch != nil {
		// The health check holds every idle connection for a moment: wait
		// for it rather than dial a connection the pool does not need.
		select {
		case <-*ch:
		case <-wctx.Done():
		}
		if res, err := s.tryAcquire(); res != nil || err != nil {
			return res, err
		}
	}
	res, err := s.pool.Acquire(wctx)
	wait := time.Since(start)
	if err == nil {
		s.acquires.Add(1)
		s.emptyAcquires.Add(1)
		s.acquireWait.Add(int64(wait))
	} else {
		s.acqErrs.Add(1)
		switch {
		case errors.Is(err, puddle.ErrClosedPool):
			err = ErrClosed
		case ctx.Err() == context.Canceled:
			err = context.Canceled
		case wctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
			err = ErrPoolTimeout
		}
	}
	if s.cfg.OnAcquire != nil {
		s.cfg.OnAcquire(s.addr, wait, err)
	}
	return res, err
}

// tryAcquire takes an idle connection if there is one: nil, nil if not.
func (s *server) tryAcquire() (*puddle.Resource[*conn], error) {
	res, err := s.pool.TryAcquire(s.noDial)
	switch err {
	case nil:
		s.acquires.Add(1)
		if s.cfg.OnAcquire != nil {
			s.cfg.OnAcquire(s.addr, 0, nil)
		}
		return res, nil
	case puddle.ErrNotAvailable:
		return nil, nil
	}
	s.acqErrs.Add(1)
	return nil, ErrClosed
}

// took accounts for res leaving the idle stack, and reports whether it came
// from there (it had served before, or was made by the health check).
func (s *server) took(res *puddle.Resource[*conn]) bool {
	cn := res.Value()
	if !cn.pooled {
		return false
	}
	cn.pooled = false
	s.idle.Add(-1)
	return true
}

// release returns a healthy connection to the idle stack (unused: as if it
// had not been acquired, for its idle time). s.idle counts it only once it
// is there, so that s.idle does not run ahead of the stack.
func (s *server) release(res *puddle.Resource[*conn], unused bool) {
	res.Value().pooled = true
	if unused {
		res.ReleaseUnused()
	} else {
		res.Release()
	}
	s.idle.Add(1)
}

// errNoDial fails the background dial of a TryAcquire on an empty stack.
var errNoDial = errors.New("memcache: no dial on the fast path")

// minIdleKey marks the context of CreateResource dials.
type minIdleKey struct{}

// health runs pool maintenance every interval until bg is canceled.
func (s *server) health(interval time.Duration) {
	defer close(s.healthDone)
	if interval < 0 {
		return
	}
	s.checkPool()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
			s.checkPool()
		}
	}
}

// checkPool closes idle connections that are too old, idle too long or
// dead (closed by the server), then tops the pool up to MinIdle. Acquires
// that find no idle connection meanwhile wait for it (s.checking) instead
// of dialing.
func (s *server) checkPool() {
	pc := s.cfg.Pool
	now := time.Now()
	ch := make(chan struct{})
	s.checking.Store(&ch)
	s.suspect.Store(false) // every idle connection is checked below
	var drop []*puddle.Resource[*conn]
	for _, res := range s.pool.AcquireAllIdle() {
		s.took(res)
		switch {
		case pc.MaxLifetime > 0 && now.Sub(res.CreationTime()) > pc.MaxLifetime,
			pc.MaxIdleTime > 0 && res.IdleDuration() > pc.MaxIdleTime,
			!res.Value().idleAlive():
			drop = append(drop, res)
		default:
			s.release(res, true)
		}
	}
	s.checking.Store(nil)
	close(ch)
	for _, res := range drop {
		res.Destroy()
	}
	var wg sync.WaitGroup
	for n := s.pool.Stat().TotalResources(); n < pc.MinIdle; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.pool.CreateResource(context.WithValue(s.bg, minIdleKey{}, true))
		}()
	}
	wg.Wait()
}

func (s *server) stats() ServerStats {
	ps := s.pool.Stat()
	st := ServerStats{
		Addr: s.addr,
		Pool: PoolStats{
			Total:         ps.TotalResources(),
			Active:        ps.AcquiredResources(),
			Idle:          ps.IdleResources(),
			Constructing:  ps.ConstructingResources(),
			Max:           ps.MaxResources(),
			Created:       s.created.Load(),
			Destroyed:     s.destroyed.Load(),
			DialErrors:    s.dialErrors.Load(),
			Acquires:      s.acquires.Load(),
			EmptyAcquires: s.emptyAcquires.Load(),
			AcquireWait:   time.Duration(s.acquireWait.Load()),
			AcquireErrors: s.acqErrs.Load(),
			Retries:       s.retries.Load(),
		},
		Breaker: BreakerStats{
			Disabled:    s.cb == nil,
			Transitions: s.transitions.Load(),
			Rejected:    s.rejected.Load(),
		},
	}
	if ns := s.lastTransition.Load(); ns != 0 {
		st.Breaker.LastTransition = time.Unix(0, ns)
	}
	if s.cb != nil {
		st.Breaker.State = s.cb.State()
		st.Breaker.Counts = s.cb.Counts()
	}
	return st
}
