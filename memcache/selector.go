package memcache

import (
	"hash/crc32"
	"unsafe"
)

// Selector maps a key to the index of its server among n (n ≥ 1).
// Implementations must be safe for concurrent use and must return a value
// in [0, n).
type Selector interface {
	Select(key string, n int) int
}

// SelectorFunc adapts a function to Selector.
type SelectorFunc func(key string, n int) int

// Select calls f.
func (f SelectorFunc) Select(key string, n int) int { return f(key, n) }

// JumpHash is the default Selector: Lamping and Veach's jump consistent hash
// (arXiv:1406.2294) of the key's 64-bit FNV-1a hash. Adding a server at the
// end of the list moves only 1/n of the keys.
var JumpHash Selector = SelectorFunc(jumpSelect)

// CRC32Modulo picks crc32.ChecksumIEEE(key) % n, exactly as
// github.com/bradfitz/gomemcache's ServerList.PickServer does (keys are at
// most 250 bytes, so its 256-byte copy never truncates), so users moving from
// gomemcache keep every key on its server. Changing n remaps most keys.
var CRC32Modulo Selector = SelectorFunc(func(key string, n int) int {
	if n == 1 {
		return 0
	}
	// The key's bytes in place: converting would allocate, since the
	// checksum's argument escapes (gomemcache copies into pooled buffers).
	return int(crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(key), len(key))) % uint32(n))
})

func jumpSelect(key string, n int) int {
	return int(jump(fnv1a(key), n))
}

// fnv1a is the 64-bit FNV-1a hash of s.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// jump is the jump consistent hash of key into n buckets.
func jump(key uint64, n int) int32 {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int32(b)
}
