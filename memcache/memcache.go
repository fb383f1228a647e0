// Package memcache is a memcached client built to stay correct and fast
// when the network goes bad. It is the client under test of mcchaos.
//
// # Protocol
//
// It speaks the meta protocol (memcached ≥ 1.6). Every request carries an
// opaque token (O flag) that the response must echo: a response is never
// matched to the wrong request, and a mismatch destroys the connection. The
// token is checked on the status line, before a value is read, and a value
// larger than Config.MaxValueSize is refused before it is allocated.
// GetMulti sends each server, per chunk of at most 8 KiB of keys, an mg
// carrying the token and one text protocol gets: memcached answers the gets
// as one request, where a pipeline of one mg per key is cut every 20
// requests (its -R). The token's answer comes first, and every VALUE line
// must name the next keys asked for, in order.
//
// # Servers, pools and breakers
//
// Keys map to servers by jump consistent hash (Config.Selector). Each
// server has its own connection pool (jackc/puddle/v2) and circuit breaker
// (sony/gobreaker/v2). Every operation has one deadline, Config.Timeout
// from its start (or the context's deadline if earlier), covering the pool
// wait, the write and the read. A context is checked when the operation
// starts and bounds the pool wait; a cancellation during the round trip is
// not seen until the deadline (this keeps the hot path free of
// allocations).
//
// # Failures
//
// A connection that timed out, was reset, read a malformed or mismatched
// response, or got CLIENT_ERROR/ERROR is closed and destroyed, never
// returned to the pool. Cache misses, not stored, CAS conflicts and (unless
// Config.CloseOnServerError) SERVER_ERROR are answers: the connection is
// reused. For the breaker, every reply of the server is a success, even
// SERVER_ERROR and CLIENT_ERROR; timeouts under the caller's earlier
// context deadline are not counted. An open breaker fails operations at
// once with ErrCircuitOpen. A read that finds a pooled connection closed
// by the server is retried once (Config.DisableGetRetry). Errors are
// *Error values naming the operation and the server; Classify maps any
// error to a metric label.
//
// # Cost
//
// A Get with a live idle connection makes two allocations (the Item and
// its value); Set, Delete, Increment and Touch make none.
package memcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Item is an item stored in or read from memcached.
type Item struct {
	// Key is at most 250 bytes, without spaces or control characters.
	Key string
	// Value is the item's data.
	Value []byte
	// Flags are opaque to the server, stored and returned with the value.
	Flags uint32
	// Expiration is the time to live in seconds (0: never expires; above
	// 30 days: an absolute Unix time; negative: already expired).
	Expiration int32
	// CasID is the compare-and-swap token of the value read by Get or
	// GetMulti, used by CompareAndSwap.
	CasID uint64
}

// Client is a memcached client over several servers. It is safe for
// concurrent use by multiple goroutines. Create it with New; release it
// with Close.
type Client struct {
	servers []*server
	sel     Selector
	timeout time.Duration
	fail    bool
	closed  atomic.Bool
	cancel  context.CancelFunc
}

// New returns a Client for cfg.Servers. It does not dial: connections are
// made on first use (and by the health check when PoolConfig.MinIdle > 0),
// so New succeeds while servers are down.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("memcache: Config.Servers is empty")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxValueSize == 0 {
		cfg.MaxValueSize = DefaultMaxValueSize
	}
	if cfg.DialTimeout < 0 || cfg.Timeout < 0 || cfg.MaxValueSize < 0 {
		return nil, errors.New("memcache: negative DialTimeout, Timeout or MaxValueSize")
	}
	cfg.Pool = cfg.Pool.withDefaults()
	if cfg.Pool.MaxSize < 0 || cfg.Pool.MinIdle < 0 || cfg.Pool.MinIdle > cfg.Pool.MaxSize {
		return nil, fmt.Errorf("memcache: bad pool sizes MaxSize %d, MinIdle %d", cfg.Pool.MaxSize, cfg.Pool.MinIdle)
	}
	if cfg.Selector == nil {
		cfg.Selector = JumpHash
	}
	cfg.Servers = append([]string(nil), cfg.Servers...)
	bg, cancel := context.WithCancel(context.Background())
	c := &Client{sel: cfg.Selector, timeout: cfg.Timeout, fail: cfg.Failover, cancel: cancel}
	for _, addr := range cfg.Servers {
		s, err := newServer(bg, addr, &cfg)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("memcache: server %s: %w", addr, err)
		}
		c.servers = append(c.servers, s)
		go s.health(cfg.Pool.HealthCheckInterval)
	}
	return c, nil
}

// Close closes every connection and stops the health checks. It waits for
// operations in flight to give their connections back (at most Timeout).
// Operations after Close fail with ErrClosed.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	for _, s := range c.servers {
		<-s.healthDone
		s.pool.Close()
	}
	return nil
}

// ServerFor returns the address of the server that key maps to.
func (c *Client) ServerFor(key string) string {
	return c.servers[c.index(key)].addr
}

func (c *Client) index(key string) int {
	if len(c.servers) == 1 {
		return 0
	}
	return c.sel.Select(key, len(c.servers))
}

// Stats returns a snapshot of each server's pool and breaker, in the order
// of Config.Servers.
func (c *Client) Stats() []ServerStats {
	out := make([]ServerStats, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.stats()
	}
	return out
}

// do runs fn for key on its server: checks the key and the context, sets
// the deadline, and fails over when configured. read marks an operation
// that may be retried (see Config.DisableGetRetry).
func (c *Client) do(ctx context.Context, op, key string, read bool, fn func(*conn) error) error {
	i := c.index(key)
	if !legalKey(key) {
		return &Error{Op: op, Server: c.servers[i].addr, Err: ErrMalformedKey}
	}
	cl, err := c.call(ctx, op, read)
	if err != nil {
		return &Error{Op: op, Server: c.servers[i].addr, Err: err}
	}
	err = c.servers[i].do(ctx, cl, fn)
	if c.fail && err != nil && len(c.servers) > 1 && failoverable(err) {
		// The fallback gets a deadline of its own: the home server's may
		// have been spent waiting for it (a pool timeout).
		if cl, err2 := c.call(ctx, op, read); err2 == nil {
			return c.servers[(i+1)%len(c.servers)].do(ctx, cl, fn)
		}
	}
	return err
}

// call starts an operation: its deadline is now+Timeout, or the context's
// deadline if earlier.
func (c *Client) call(ctx context.Context, op string, read bool) (call, error) {
	if c.closed.Load() {
		return call{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return call{}, err
	}
	cl := call{op: op, deadline: time.Now().Add(c.timeout), read: read}
	if cd, ok := ctx.Deadline(); ok && cd.Before(cl.deadline) {
		cl.deadline, cl.byCtx = cd, true
	}
	return cl, nil
}

// failoverable reports whether err shows the request never reached the server.
func failoverable(err error) bool {
	switch Classify(err) {
	case ClassCircuitOpen, ClassPoolTimeout, ClassConnRefused:
		return true
	}
	return false
}

// legalKey reports whether key can be sent in a text or meta command.
func legalKey(key string) bool {
	if len(key) == 0 || len(key) > 250 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}

// Get returns the item for key, or ErrCacheMiss. The item's CasID is set.
func (c *Client) Get(ctx context.Context, key string) (*Item, error) {
	var it *Item
	err := c.do(ctx, "get", key, true, func(cn *conn) (err error) {
		it, err = cn.get(key)
		return err
	})
	return it, err
}

// GetMulti returns the items found for keys, keyed by key; missing keys
// are absent. Keys are batched per server into one pipelined round trip,
// servers queried in parallel. If some servers fail, the items from the
// others are returned with an error joining each server's error.
// GetMulti does not fail over (Config.Failover).
func (c *Client) GetMulti(ctx context.Context, keys []string) (map[string]*Item, error) {
	byServer := make([][]string, len(c.servers))
	for _, key := range keys {
		i := c.index(key)
		if !legalKey(key) {
			return nil, &Error{Op: "get", Server: c.servers[i].addr, Err: ErrMalformedKey}
		}
		byServer[i] = append(byServer[i], key)
	}
	cl, err := c.call(ctx, "get", true)
	if err != nil {
		return nil, &Error{Op: "get", Server: "", Err: err}
	}
	items := make(map[string]*Item, len(keys))
	var (
		mu   sync.Mutex
		errs = make([]error, len(c.servers))
		wg   sync.WaitGroup
	)
	for i, ks := range byServer {
		if len(ks) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.servers[i].do(ctx, cl, func(cn *conn) error {
				return cn.getMulti(ks, func(it *Item) {
					mu.Lock()
					items[it.Key] = it
					mu.Unlock()
				})
			})
		}()
	}
	wg.Wait()
	return items, errors.Join(errs...)
}

// Set stores it unconditionally.
func (c *Client) Set(ctx context.Context, it *Item) error {
	return c.do(ctx, "set", it.Key, false, func(cn *conn) error { return cn.store("", it, false) })
}

// Add stores it only if its key is absent; otherwise ErrNotStored.
func (c *Client) Add(ctx context.Context, it *Item) error {
	return c.do(ctx, "add", it.Key, false, func(cn *conn) error { return cn.store("E", it, false) })
}

// Replace stores it only if its key is present; otherwise ErrNotStored.
func (c *Client) Replace(ctx context.Context, it *Item) error {
	return c.do(ctx, "replace", it.Key, false, func(cn *conn) error { return cn.store("R", it, false) })
}

// CompareAndSwap stores it only if the stored item's CAS token still equals
// it.CasID (as read by Get): ErrCASConflict if it changed, ErrCacheMiss if
// it is gone.
func (c *Client) CompareAndSwap(ctx context.Context, it *Item) error {
	return c.do(ctx, "cas", it.Key, false, func(cn *conn) error { return cn.store("", it, true) })
}

// Delete removes key; ErrCacheMiss if it was absent.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.do(ctx, "delete", key, false, func(cn *conn) error { return cn.delete(key) })
}

// Increment adds delta to the decimal value of key (wrapping at 2^64) and
// returns the new value; ErrCacheMiss if key is absent. A non-numeric value
// gives an error wrapping ErrClientError.
func (c *Client) Increment(ctx context.Context, key string, delta uint64) (uint64, error) {
	return c.arith(ctx, "incr", key, delta, false)
}

// Decrement subtracts delta from the decimal value of key, stopping at 0,
// and returns the new value; ErrCacheMiss if key is absent.
func (c *Client) Decrement(ctx context.Context, key string, delta uint64) (uint64, error) {
	return c.arith(ctx, "decr", key, delta, true)
}

func (c *Client) arith(ctx context.Context, op, key string, delta uint64, decr bool) (uint64, error) {
	var n uint64
	err := c.do(ctx, op, key, false, func(cn *conn) (err error) {
		n, err = cn.arith(key, delta, decr)
		return err
	})
	return n, err
}

// Touch sets key's time to live to seconds without reading it;
// ErrCacheMiss if key is absent.
func (c *Client) Touch(ctx context.Context, key string, seconds int32) error {
	return c.do(ctx, "touch", key, false, func(cn *conn) error { return cn.touch(key, seconds) })
}
