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
	idle                  atomic.Int32
	transitions, rejected atomic.Int64
	lastTransition        atomic.Int64 // unix ns, 0 if none
	healthDone            chan struct{}
}

func newServer(bg context.Context, addr string, cfg *Config) (*server, error) {
	s := &server{addr: addr, cfg: cfg, bg: bg, dialer: net.Dialer{Timeout: cfg.DialTimeout}, healthDone: make(chan struct{})}
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

// do runs fn on one of s's connections under s's breaker. op names the
// operation in errors.
func (s *server) do(ctx context.Context, op string, deadline time.Time, fn func(*conn) error) error {
	if s.cb == nil {
		return s.exec(ctx, op, deadline, fn)
	}
	_, err := s.cb.Execute(func() (struct{}, error) {
		return struct{}{}, s.exec(ctx, op, deadline, fn)
	})
	if err == gobreaker.ErrOpenState || err == gobreaker.ErrTooManyRequests {
		s.rejected.Add(1)
		return &Error{Op: op, Server: s.addr, Err: ErrCircuitOpen}
	}
	return err
}

// exec acquires a connection, runs fn on it with the deadline set, and
// gives it back to the pool only if fn left it in a known state.
func (s *server) exec(ctx context.Context, op string, deadline time.Time, fn func(*conn) error) error {
	res, err := s.acquire(ctx, deadline)
	if err != nil {
		return &Error{Op: op, Server: s.addr, Err: err}
	}
	cn := res.Value()
	if err := cn.nc.SetDeadline(deadline); err != nil {
		res.Destroy()
		return &Error{Op: op, Server: s.addr, Err: err}
	}
	err = fn(cn)
	if err == nil || isAnswer(err) {
		s.release(res)
		return err
	}
	// WARNING: after a timeout, reset or unexpected response the stream's
	// position is unknown: the connection must never serve another request.
	// Close it now; the pool's Destroy runs the destructor asynchronously.
	cn.nc.Close()
	res.Destroy()
	return &Error{Op: op, Server: s.addr, Err: err}
}

// isAnswer reports whether err is a server's answer after which the
// connection is in a known state.
func isAnswer(err error) bool {
	return err == ErrCacheMiss || err == ErrNotStored || err == ErrCASConflict
}

// acquire gets a connection. The fast path (an idle connection) does not
// allocate; otherwise it waits until deadline, dialing if the pool has room.
func (s *server) acquire(ctx context.Context, deadline time.Time) (*puddle.Resource[*conn], error) {
	if s.idle.Load() > 0 {
		res, err := s.pool.TryAcquire(s.bg)
		if err == nil {
			s.took(res)
			s.acquires.Add(1)
			if s.cfg.OnAcquire != nil {
				s.cfg.OnAcquire(s.addr, 0, nil)
			}
			return res, nil
		}
		if err != puddle.ErrNotAvailable {
			s.acqErrs.Add(1)
			return nil, ErrClosed
		}
	}
	start := time.Now()
	wctx, cancel := context.WithDeadline(ctx, deadline)
	res, err := s.pool.Acquire(wctx)
	cancel()
	wait := time.Since(start)
	if err == nil {
		s.took(res)
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

// took accounts for res leaving the idle stack.
func (s *server) took(res *puddle.Resource[*conn]) {
	if cn := res.Value(); cn.pooled {
		cn.pooled = false
		s.idle.Add(-1)
	}
}

// release returns a healthy connection to the idle stack.
func (s *server) release(res *puddle.Resource[*conn]) {
	res.Value().pooled = true
	s.idle.Add(1)
	res.Release()
}

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
// dead (closed by the server), then tops the pool up to MinIdle.
func (s *server) checkPool() {
	pc := s.cfg.Pool
	now := time.Now()
	for _, res := range s.pool.AcquireAllIdle() {
		s.took(res)
		switch {
		case pc.MaxLifetime > 0 && now.Sub(res.CreationTime()) > pc.MaxLifetime,
			pc.MaxIdleTime > 0 && res.IdleDuration() > pc.MaxIdleTime,
			!res.Value().idleAlive():
			res.Destroy()
		default:
			res.Value().pooled = true
			s.idle.Add(1)
			res.ReleaseUnused()
		}
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
