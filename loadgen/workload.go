package loadgen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/mcchaos/mcchaos/loadgen/internal/defaults"
)

// Op is the kind of one operation. Its String is the `op` metric label.
type Op uint8

// The operation kinds.
const (
	OpGet Op = iota
	OpSet
	OpDelete
	OpIncr
	// The operations of the multi workload (driver.Multi): a get-multi of
	// keys on one server, a gets then compare-and-swap, an add.
	OpGetMulti
	OpCAS
	OpAdd
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "incr", "get_multi", "cas", "add"}

// String returns the operation's name: get, set, delete, incr, get_multi,
// cas or add.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Workload picks the kind of each next operation. r belongs to the calling
// worker; implementations must be safe for concurrent use with distinct r.
type Workload interface {
	Next(r *rand.Rand) Op
}

// Mix is a Workload drawing operation kinds with fixed weights, indexed by
// Op (e.g. Mix{OpGet: 95, OpSet: 5}). Weights need not sum to 100; at least
// one must be positive.
type Mix [numOps]uint32

// Next draws an operation kind with probability proportional to its weight.
func (m Mix) Next(r *rand.Rand) Op {
	var total uint32
	for _, w := range m {
		total += w
	}
	n := r.Uint32N(total)
	for op, w := range m {
		if n < w {
			return Op(op)
		}
		n -= w
	}
	return OpGet // unreachable for a valid Mix
}

// String lists the weights, e.g. "get=60 set=30 delete=5 incr=5".
func (m Mix) String() string {
	var parts []string
	for op, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", Op(op), w))
		}
	}
	return strings.Join(parts, " ")
}

// Workloads are the named workloads selectable with -workload. Adding one is
// one row here (or any type implementing Workload).
var Workloads = map[string]Workload{
	// ORIGIN.md's default: 60 % get, 30 % set, 5 % delete, 5 % increment.
	"mixed": Mix{OpGet: 60, OpSet: 30, OpDelete: 5, OpIncr: 5},
	// Reads only; the keyspace is preloaded so that reads hit.
	"get": Mix{OpGet: 100},
	// A read-mostly cache.
	"get-heavy": Mix{OpGet: 95, OpSet: 5},
	// A write-mostly cache.
	"set-heavy": Mix{OpGet: 20, OpSet: 80},
	// Opt-in: the paths plain gets and sets do not reach (get-multi
	// pipelines, CAS, add after deletes), judged by the same oracle.
	"multi": Mix{OpGet: 20, OpGetMulti: 20, OpSet: 20, OpCAS: 15, OpAdd: 10, OpDelete: 15},
}

// needsMulti reports whether w issues operations of driver.Multi.
func needsMulti(w Workload) bool {
	m, ok := w.(Mix)
	return ok && m[OpGetMulti]+m[OpCAS]+m[OpAdd] > 0
}

// DefaultWorkload is the workload used when none is given.
const DefaultWorkload = "mixed"

// WorkloadNames returns the names of Workloads, sorted.
func WorkloadNames() []string {
	names := make([]string, 0, len(Workloads))
	for n := range Workloads {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Keyspace defaults.
const (
	DefaultKeyspace = 10000
	DefaultHotKeys  = 10
	DefaultHotRatio = 0.3
)

// MaxKeyspace bounds Keyspace.Size: loadgen keeps each key's name and
// version in memory (about 100 bytes a key).
const MaxKeyspace = 10_000_000

// Keyspace chooses key indexes: with probability HotRatio one of the first
// HotKeys indexes, otherwise one of the others, uniformly. The zero value of
// each field means its Default* constant; a negative HotRatio or HotKeys
// disables the hot set.
type Keyspace struct {
	// Prefix goes before every key, so arms sharing the servers never
	// share a key. If empty, none.
	Prefix   string
	Size     int
	HotKeys  int
	HotRatio float64
}

func (k Keyspace) withDefaults() Keyspace {
	defaults.Set(&k.Size, DefaultKeyspace)
	defaults.Set(&k.HotKeys, DefaultHotKeys)
	defaults.Set(&k.HotRatio, DefaultHotRatio)
	if k.HotKeys < 0 || k.HotRatio < 0 {
		k.HotKeys, k.HotRatio = 0, 0
	}
	return k
}

func (k Keyspace) validate() error {
	switch {
	case k.Size < 1 || k.Size > MaxKeyspace:
		return fmt.Errorf("keyspace %d: must be in 1..%d", k.Size, MaxKeyspace)
	case k.HotKeys > k.Size || k.HotKeys == k.Size && k.HotRatio < 1:
		return fmt.Errorf("hot keys %d: must be fewer than the keyspace (%d)", k.HotKeys, k.Size)
	case k.HotRatio > 1:
		return fmt.Errorf("hot ratio %g: must be at most 1", k.HotRatio)
	}
	return nil
}

// Next returns a key index in [0, Size). k must have its defaults applied.
func (k Keyspace) Next(r *rand.Rand) int {
	if k.HotKeys > 0 && r.Float64() < k.HotRatio {
		return r.IntN(k.HotKeys)
	}
	return k.HotKeys + r.IntN(k.Size-k.HotKeys)
}

// Sizes is a distribution of value sizes in bytes.
type Sizes interface {
	Next(r *rand.Rand) int
	String() string
}

// DefaultSizes is the value-size distribution used when none is given.
const DefaultSizes = "128-1024"

// FixedSize is a Sizes that is always the same.
type FixedSize int

// Next returns s.
func (s FixedSize) Next(*rand.Rand) int { return int(s) }
func (s FixedSize) String() string      { return strconv.Itoa(int(s)) }

// UniformSize is a Sizes uniform over [Min, Max].
type UniformSize struct{ Min, Max int }

// Next returns a size in [Min, Max].
func (s UniformSize) Next(r *rand.Rand) int { return s.Min + r.IntN(s.Max-s.Min+1) }
func (s UniformSize) String() string        { return fmt.Sprintf("%d-%d", s.Min, s.Max) }

// WeightedSizes is a Sizes choosing among fixed sizes with weights.
type WeightedSizes struct {
	Sizes   []int
	Weights []uint32
	total   uint32
}

// Next returns one of Sizes with probability proportional to its weight.
func (s *WeightedSizes) Next(r *rand.Rand) int {
	n := r.Uint32N(s.total)
	for i, w := range s.Weights {
		if n < w {
			return s.Sizes[i]
		}
		n -= w
	}
	return s.Sizes[len(s.Sizes)-1]
}

func (s *WeightedSizes) String() string {
	parts := make([]string, len(s.Sizes))
	for i := range s.Sizes {
		parts[i] = fmt.Sprintf("%d:%d", s.Sizes[i], s.Weights[i])
	}
	return strings.Join(parts, ",")
}

// MaxValueSize is the largest value loadgen writes (memcached's default item
// size limit is 1 MiB, including overhead).
const MaxValueSize = 1000 * 1000

// ParseSizes parses a value-size distribution: "N" (always N bytes),
// "MIN-MAX" (uniform), or "N:W,M:W,..." (size N with weight W, ...). Sizes
// smaller than the integrity header are raised to it when values are built.
func ParseSizes(s string) (Sizes, error) {
	bad := func(why string) (Sizes, error) {
		return nil, fmt.Errorf("value size %q: %s (want N, MIN-MAX or N:W,M:W,...)", s, why)
	}
	size := func(v string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil && n >= 1 && n <= MaxValueSize
	}
	switch {
	case strings.Contains(s, ":"):
		w := &WeightedSizes{}
		for _, part := range strings.Split(s, ",") {
			sz, wt, _ := strings.Cut(part, ":")
			n, ok := size(sz)
			if !ok {
				return bad(fmt.Sprintf("size %q not in 1..%d", sz, MaxValueSize))
			}
			x, err := strconv.ParseUint(strings.TrimSpace(wt), 10, 32)
			if err != nil {
				return bad(fmt.Sprintf("weight %q not a whole number", wt))
			}
			w.Sizes = append(w.Sizes, n)
			w.Weights = append(w.Weights, uint32(x))
			w.total += uint32(x)
		}
		if w.total == 0 {
			return bad("all weights are zero")
		}
		return w, nil
	case strings.Contains(s, "-"):
		lo, hi, _ := strings.Cut(s, "-")
		a, ok1 := size(lo)
		b, ok2 := size(hi)
		if !ok1 || !ok2 || a > b {
			return bad(fmt.Sprintf("want 1 <= MIN <= MAX <= %d", MaxValueSize))
		}
		return UniformSize{a, b}, nil
	}
	n, ok := size(s)
	if !ok {
		return bad(fmt.Sprintf("not a size in 1..%d", MaxValueSize))
	}
	return FixedSize(n), nil
}
