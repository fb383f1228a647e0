package driver

import (
	"context"
	"errors"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/mcchaos/mcchaos/memcache"
)

// Multi is implemented by drivers that also issue get-multi, add and
// compare-and-swap (both adapters do); loadgen's "multi" workload needs it.
// Errors map onto this package's sentinels as for Driver.
type Multi interface {
	// GetMulti returns the values found for keys. On an error it returns
	// the values it has (from the servers that answered) with the error.
	GetMulti(ctx context.Context, keys []string) (map[string][]byte, error)
	// Add stores value only if key is absent; otherwise an error wrapping
	// ErrNotStored.
	Add(ctx context.Context, key string, value []byte) error
	// Gets returns key's value and its CAS token, or ErrCacheMiss.
	Gets(ctx context.Context, key string) (value []byte, cas uint64, err error)
	// CompareAndSwap stores value only if key's CAS token is still cas: an
	// error wrapping ErrNotStored if it changed, ErrCacheMiss if key is gone.
	CompareAndSwap(ctx context.Context, key string, value []byte, cas uint64) error
}

var (
	_ Multi = (*oursDriver)(nil)
	_ Multi = (*gomemcacheDriver)(nil)
)

func (d *oursDriver) GetMulti(ctx context.Context, keys []string) (map[string][]byte, error) {
	items, err := d.c.GetMulti(ctx, keys)
	out := make(map[string][]byte, len(items))
	for k, it := range items {
		out[k] = it.Value
	}
	return out, oursErr(err)
}

func (d *oursDriver) Add(ctx context.Context, key string, value []byte) error {
	return oursErr(d.c.Add(ctx, &memcache.Item{Key: key, Value: value}))
}

func (d *oursDriver) Gets(ctx context.Context, key string) ([]byte, uint64, error) {
	it, err := d.c.Get(ctx, key)
	if err != nil {
		return nil, 0, oursErr(err)
	}
	return it.Value, it.CasID, nil
}

func (d *oursDriver) CompareAndSwap(ctx context.Context, key string, value []byte, cas uint64) error {
	err := d.c.CompareAndSwap(ctx, &memcache.Item{Key: key, Value: value, CasID: cas})
	if errors.Is(err, memcache.ErrCASConflict) {
		return wrap(ErrNotStored, err)
	}
	return oursErr(err)
}

func (d *gomemcacheDriver) GetMulti(_ context.Context, keys []string) (map[string][]byte, error) {
	items, err := d.c.GetMulti(keys)
	out := make(map[string][]byte, len(items))
	for k, it := range items {
		out[k] = it.Value
	}
	return out, gomemcacheErr(err)
}

func (d *gomemcacheDriver) Add(_ context.Context, key string, value []byte) error {
	return gomemcacheErr(d.c.Add(&gomemcache.Item{Key: key, Value: value}))
}

func (d *gomemcacheDriver) Gets(_ context.Context, key string) ([]byte, uint64, error) {
	it, err := d.c.Get(key)
	if err != nil {
		return nil, 0, gomemcacheErr(err)
	}
	return it.Value, it.CasID, nil
}

func (d *gomemcacheDriver) CompareAndSwap(_ context.Context, key string, value []byte, cas uint64) error {
	err := d.c.CompareAndSwap(&gomemcache.Item{Key: key, Value: value, CasID: cas})
	if errors.Is(err, gomemcache.ErrCASConflict) {
		return wrap(ErrNotStored, err)
	}
	return gomemcacheErr(err)
}
