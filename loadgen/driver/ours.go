package driver

import (
	"context"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/mcchaos/mcchaos/memcache"
)

// oursDriver adapts github.com/mcchaos/mcchaos/memcache, the client under
// test. Servers are given to it by address; names are mapped back for the
// hooks, ServerFor and PoolStats.
type oursDriver struct {
	c     *memcache.Client
	names map[string]string // address → name
}

func openOurs(s Settings) (Driver, error) {
	d := &oursDriver{names: make(map[string]string, len(s.Servers))}
	cfg := memcache.Config{
		DialTimeout: s.DialTimeout,
		Timeout:     s.Timeout,
		Pool: memcache.PoolConfig{
			MaxSize:             int32(s.PoolSize),
			MaxLifetime:         s.PoolMaxLifetime,
			MaxIdleTime:         s.PoolMaxIdle,
			HealthCheckInterval: s.HealthCheck,
		},
		Breaker: gobreaker.Settings{
			MaxRequests:  s.Breaker.MaxRequests,
			Interval:     s.Breaker.Interval,
			BucketPeriod: s.Breaker.BucketPeriod,
			Timeout:      s.Breaker.Timeout,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return s.Breaker.ReadyToTrip(c.Requests, c.TotalFailures, c.ConsecutiveFailures)
			},
		},
		DisableBreaker: s.DisableBreaker,
		Failover:       s.Failover,
		Selector:       memcache.SelectorFunc(s.Place),
	}
	for _, sv := range s.Servers {
		cfg.Servers = append(cfg.Servers, sv.Addr)
		d.names[sv.Addr] = sv.Name
	}
	if f := s.OnBreakerChange; f != nil {
		cfg.OnStateChange = func(addr string, from, to gobreaker.State, at time.Time) {
			f(d.name(addr), BreakerState(from), BreakerState(to), at)
		}
	}
	if f := s.OnAcquire; f != nil {
		cfg.OnAcquire = func(addr string, wait time.Duration, _ error) { f(d.name(addr), wait) }
	}
	if f := s.OnRequest; f != nil {
		cfg.OnRequest = func(addr, op string) { f(d.name(addr), op) }
	}
	c, err := memcache.New(cfg)
	if err != nil {
		return nil, err
	}
	d.c = c
	return d, nil
}

func oursInfo() Info {
	return Info{Client: "ours", Version: moduleVersion("github.com/mcchaos/mcchaos"), Breakers: true}
}

func (d *oursDriver) name(addr string) string {
	if n, ok := d.names[addr]; ok {
		return n
	}
	return addr
}

func (d *oursDriver) Get(ctx context.Context, key string) ([]byte, error) {
	it, err := d.c.Get(ctx, key)
	if err != nil {
		return nil, oursErr(err)
	}
	return it.Value, nil
}

func (d *oursDriver) Set(ctx context.Context, key string, value []byte) error {
	return oursErr(d.c.Set(ctx, &memcache.Item{Key: key, Value: value}))
}

func (d *oursDriver) Delete(ctx context.Context, key string) error {
	return oursErr(d.c.Delete(ctx, key))
}

func (d *oursDriver) Increment(ctx context.Context, key string, delta uint64) (uint64, error) {
	n, err := d.c.Increment(ctx, key, delta)
	return n, oursErr(err)
}

func (d *oursDriver) ServerFor(key string) string { return d.name(d.c.ServerFor(key)) }

func (d *oursDriver) Close() error { return d.c.Close() }

// PoolStats reports the client's pools, by server name.
func (d *oursDriver) PoolStats() []PoolStats {
	st := d.c.Stats()
	out := make([]PoolStats, len(st))
	for i, s := range st {
		out[i] = PoolStats{
			Server:    d.name(s.Addr),
			Total:     int(s.Pool.Total),
			Active:    int(s.Pool.Active),
			Idle:      int(s.Pool.Idle),
			Created:   uint64(s.Pool.Created),
			Destroyed: uint64(s.Pool.Destroyed),
		}
	}
	return out
}

// oursErrs maps the client's sentinels onto the driver's, most specific
// first. Network errors pass through: loadgen classifies those itself.
var oursErrs = []struct{ client, driver error }{
	{memcache.ErrCacheMiss, ErrCacheMiss},
	{memcache.ErrNotStored, ErrNotStored},
	{memcache.ErrCircuitOpen, ErrCircuitOpen},
	{memcache.ErrPoolTimeout, ErrPoolTimeout},
	{memcache.ErrServerError, ErrServerError},
	{memcache.ErrProtocol, ErrProtocol},
	{memcache.ErrClientError, ErrProtocol},
}

func oursErr(err error) error {
	if err == nil {
		return nil
	}
	if err == memcache.ErrCacheMiss { // fast path: misses are common
		return errCacheMissOurs
	}
	for _, m := range oursErrs {
		if errors.Is(err, m.client) {
			return wrap(m.driver, err)
		}
	}
	return err
}

var errCacheMissOurs = wrap(ErrCacheMiss, memcache.ErrCacheMiss)
