package loadgen

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// memDriver is an in-memory driver.Driver over servers mc1..mc3.
type memDriver struct {
	mu    sync.Mutex
	items map[string][]byte
	delay time.Duration // added to every operation
}

func newMemDriver() *memDriver { return &memDriver{items: make(map[string][]byte)} }

var memServers = []string{"mc1", "mc2", "mc3"}

func (d *memDriver) wait() {
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
}

func (d *memDriver) Get(_ context.Context, key string) ([]byte, error) {
	d.wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.items[key]
	if !ok {
		return nil, driver.ErrCacheMiss
	}
	return append([]byte(nil), v...), nil
}

func (d *memDriver) Set(_ context.Context, key string, value []byte) error {
	d.wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items[key] = append([]byte(nil), value...)
	return nil
}

func (d *memDriver) Delete(_ context.Context, key string) error {
	d.wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.items[key]; !ok {
		return driver.ErrCacheMiss
	}
	delete(d.items, key)
	return nil
}

func (d *memDriver) Increment(_ context.Context, key string, delta uint64) (uint64, error) {
	d.wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.items[key]
	if !ok {
		return 0, driver.ErrCacheMiss
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, driver.ErrProtocol
	}
	n += delta
	d.items[key] = strconv.AppendUint(nil, n, 10)
	return n, nil
}

func (d *memDriver) ServerFor(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return memServers[h.Sum32()%3]
}

func (d *memDriver) Close() error { return nil }

// brokenDriver wraps a Driver and, every Every-th get that hits, returns a
// wrong answer made by Break from the right one.
type brokenDriver struct {
	driver.Driver
	Every uint64
	Break func(d driver.Driver, key string, v []byte) []byte
	n     atomic.Uint64
	bad   atomic.Uint64 // wrong answers given
}

func (b *brokenDriver) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := b.Driver.Get(ctx, key)
	if err != nil || b.n.Add(1)%b.Every != 0 {
		return v, err
	}
	if w := b.Break(b.Driver, key, v); w != nil {
		b.bad.Add(1)
		return w, nil
	}
	return v, nil
}
