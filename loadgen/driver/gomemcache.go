package driver

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// gomemcacheDriver adapts github.com/bradfitz/gomemcache. That client has no
// breaker, no pool statistics, no acquire or request hook (so no wire
// request count), and no contexts: Settings.Timeout is its socket
// timeout, PoolSize its MaxIdleConns, and the breaker settings are ignored.
type gomemcacheDriver struct {
	c     *memcache.Client
	list  memcache.ServerSelector
	names map[string]string // resolved address → server name
}

func openGomemcache(s Settings) (Driver, error) {
	list := new(memcache.ServerList)
	addrs := make([]string, len(s.Servers))
	for i, sv := range s.Servers {
		addrs[i] = sv.Addr
	}
	if err := list.SetServers(addrs...); err != nil {
		return nil, err
	}
	// PickServer returns resolved addresses; map them back to names.
	pl := placed{ServerList: list, place: s.Place}
	d := &gomemcacheDriver{list: pl, names: make(map[string]string)}
	_ = list.Each(func(a net.Addr) error {
		d.names[a.String()] = s.Servers[len(pl.addrs)].Name
		pl.addrs = append(pl.addrs, a)
		return nil
	})
	d.list = pl
	d.c = memcache.NewFromSelector(pl)
	d.c.Timeout = s.Timeout
	d.c.MaxIdleConns = s.PoolSize
	d.c.DialContext = (&net.Dialer{Timeout: s.DialTimeout}).DialContext
	return d, nil
}

// placed is gomemcache's server list with the benchmark's placement
// (Settings.Place) instead of its own crc32 selection.
type placed struct {
	*memcache.ServerList
	addrs []net.Addr // the list's addresses, in order (it never changes)
	place func(key string, n int) int
}

// PickServer returns the address Place gives for key.
func (p placed) PickServer(key string) (net.Addr, error) {
	if len(p.addrs) == 0 {
		return nil, memcache.ErrNoServers
	}
	return p.addrs[p.place(key, len(p.addrs))], nil
}

func gomemcacheInfo() Info {
	return Info{Client: "gomemcache", Version: moduleVersion("github.com/bradfitz/gomemcache")}
}

func (d *gomemcacheDriver) Get(_ context.Context, key string) ([]byte, error) {
	it, err := d.c.Get(key)
	if err != nil {
		return nil, gomemcacheErr(err)
	}
	return it.Value, nil
}

func (d *gomemcacheDriver) Set(_ context.Context, key string, value []byte) error {
	return gomemcacheErr(d.c.Set(&memcache.Item{Key: key, Value: value}))
}

func (d *gomemcacheDriver) Delete(_ context.Context, key string) error {
	return gomemcacheErr(d.c.Delete(key))
}

func (d *gomemcacheDriver) Increment(_ context.Context, key string, delta uint64) (uint64, error) {
	n, err := d.c.Increment(key, delta)
	return n, gomemcacheErr(err)
}

func (d *gomemcacheDriver) ServerFor(key string) string {
	a, err := d.list.PickServer(key)
	if err != nil {
		return "unknown"
	}
	return d.names[a.String()]
}

func (d *gomemcacheDriver) Close() error { return d.c.Close() }

// gomemcacheErr maps gomemcache's errors onto this package's sentinels,
// keeping the original in the chain.
func gomemcacheErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return wrap(ErrCacheMiss, err)
	case errors.As(err, new(*memcache.ConnectTimeoutError)):
		return wrap(ErrTimeout, err)
	case errors.Is(err, memcache.ErrNotStored):
		return wrap(ErrNotStored, err)
	case errors.Is(err, memcache.ErrServerError):
		return wrap(ErrServerError, err)
	case strings.HasPrefix(err.Error(), "memcache: unexpected"),
		strings.HasPrefix(err.Error(), "memcache: corrupt"),
		strings.HasPrefix(err.Error(), "memcache: client error"):
		return wrap(ErrProtocol, err)
	}
	return err
}
