package loadgen

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Oracle judges what reads return against the recent history of each key,
// in the spirit of a linearizability check. Every write and delete of a key
// is an event with a version, the interval it ran in (start and end on one
// monotonic clock) and its outcome. A read that began at time r and
// returned the value of write W is a violation when some other
// acknowledged write or delete E started after W had ended and ended before
// r: W was superseded before the read began (a stale value, a lost write,
// or a value back after an acknowledged delete). Reads of writes still in
// flight, or of writes that failed (they may have been applied at any time
// after they began), are legal. Values that are torn, of another key, or
// of a version never issued are violations whatever the history (Codec).
//
// Each key keeps its last few events; older ones are folded into a
// summary (the latest start and end of acknowledged events, the highest
// failed version) that keeps every judgment sound — never a false
// positive — at the price of missing some stale reads of long-folded
// versions. A miss is never judged: memcached may evict.
//
// It is safe for concurrent use.
type Oracle struct {
	codec Codec
	base  time.Time
	keys  []history
}

// Outcome is how a write or delete ended.
type Outcome uint8

// The outcomes.
const (
	inFlight Outcome = iota
	// Acked: the server applied it. A delete that missed is acknowledged:
	// the key is absent.
	Acked
	// Failed: an error; it may have been applied, at any time after it began.
	Failed
	// Refused: the server answered without applying it (add of a present
	// key, CAS that lost).
	Refused
)

// histInline is the number of events a key keeps before folding.
const histInline = 4

// event is one write or delete of a key.
type event struct {
	version    uint64 // unique per key; a delete's is never in a value
	start, end int64  // ns since Oracle.base; end is set with outcome
	outcome    Outcome
	del        bool
}

// history is one key's events, in start order, and the summary of those
// folded out.
type history struct {
	mu     sync.Mutex
	issued uint64 // last version issued
	ev     []event
	inline [histInline]event
	// foldStart and foldEnd are the latest start and latest end of the
	// folded acknowledged events; foldFailed the highest folded version
	// that failed (folded versions up to it are all accepted).
	foldStart, foldEnd int64
	foldFailed         uint64
}

// NewOracle returns an Oracle for keys key indexes, checking values with codec.
func NewOracle(codec Codec, keys int) *Oracle {
	o := &Oracle{codec: codec, base: time.Now(), keys: make([]history, keys)}
	for i := range o.keys {
		o.keys[i].ev = o.keys[i].inline[:0]
	}
	return o
}

// Now is the oracle's clock: nanoseconds since it was made (monotonic).
func (o *Oracle) Now() int64 { return int64(time.Since(o.base)) }

// Begin records the start of a write (del false) or delete of key index i
// and returns its version: the one a written value must carry.
func (o *Oracle) Begin(i int, del bool) uint64 {
	h := &o.keys[i]
	h.mu.Lock()
	if len(h.ev) == cap(h.ev) {
		h.fold()
	}
	h.issued++
	v := h.issued
	h.ev = append(h.ev, event{version: v, start: o.Now(), del: del})
	h.mu.Unlock()
	return v
}

// End records how the write or delete version of key index i ended.
func (o *Oracle) End(i int, version uint64, out Outcome) {
	h := &o.keys[i]
	h.mu.Lock()
	for j := len(h.ev) - 1; j >= 0; j-- {
		if e := &h.ev[j]; e.version == version {
			e.end, e.outcome = o.Now(), out
			break
		}
	}
	h.mu.Unlock()
}

// fold moves finished events into the summary until there is room for one
// more: refused ones first (they changed nothing), then the oldest. Events
// in flight stay (ev then grows).
// WARNING: h.mu must be held.
func (h *history) fold() {
	room := len(h.ev) - cap(h.inline) + 1 // events to fold
	for _, refused := range []bool{true, false} {
		kept := h.ev[:0]
		for _, e := range h.ev {
			if room == 0 || e.outcome == inFlight || refused && e.outcome != Refused {
				kept = append(kept, e)
				continue
			}
			room--
			switch e.outcome {
			case Acked:
				h.foldStart, h.foldEnd = max(h.foldStart, e.start), max(h.foldEnd, e.end)
			case Failed:
				h.foldFailed = max(h.foldFailed, e.version)
			}
		}
		h.ev = kept
	}
}

// Check judges value, read from key (index i) by a read that began at
// readStart (Now). It returns nil or a *Violation.
func (o *Oracle) Check(i int, key string, value []byte, readStart int64) *Violation {
	run, version, bad := o.codec.Parse(value, key)
	if bad != nil || run != o.codec.Run {
		return bad // values of other runs are judged by form only
	}
	h := &o.keys[i]
	h.mu.Lock()
	defer h.mu.Unlock()
	if version == 0 || version > h.issued {
		return &Violation{Reason: "a version never written", Expected: fmt.Sprintf("version <= %d", h.issued), Got: fmt.Sprintf("version %d", version)}
	}
	// w: the read value's write, or its upper bound when folded.
	w := event{version: version, end: h.foldEnd, outcome: Acked}
	folded := true
	for _, e := range h.ev {
		if e.version == version {
			w, folded = e, false
			break
		}
	}
	switch {
	case folded && version <= h.foldFailed, w.outcome == inFlight, w.outcome == Failed:
		return nil // it may have been applied at any time after it began
	case w.del, w.outcome == Refused:
		return &Violation{Reason: "a version never stored", Expected: "a stored version", Got: o.describe(w, false)}
	}
	// The acknowledged event that started last among those that ended
	// before the read began.
	var by *event
	for j := range h.ev {
		e := &h.ev[j]
		if e.outcome == Acked && e.version != version && e.end < readStart && (by == nil || e.start > by.start) {
			by = e
		}
	}
	read := ", read began " + secs(readStart)
	switch {
	case by != nil && by.start > w.end && by.del:
		return &Violation{
			Reason:   "value back after an acknowledged delete" + read,
			Expected: "a miss or a version above " + strconv.FormatUint(by.version, 10) + " (" + o.describe(*by, false) + ")",
			Got:      o.describe(w, folded),
		}
	case by != nil && by.start > w.end:
		return &Violation{
			Reason:   "stale value, superseded before the read began" + read,
			Expected: "version " + strconv.FormatUint(by.version, 10) + " or later (" + o.describe(*by, false) + ")",
			Got:      o.describe(w, folded),
		}
	case !folded && h.foldEnd < readStart && h.foldStart > w.end:
		return &Violation{
			Reason:   "stale value, superseded before the read began" + read,
			Expected: "a version above " + strconv.FormatUint(version, 10) + " (an acknowledged write or delete began at " + secs(h.foldStart) + ")",
			Got:      o.describe(w, folded),
		}
	}
	return nil
}

// describe names an event with its interval and outcome; folded: only an
// upper bound of its end is known.
func (o *Oracle) describe(e event, folded bool) string {
	what := "write of version "
	if e.del {
		what = "delete, version "
	}
	what += strconv.FormatUint(e.version, 10)
	if folded {
		return what + " ended by " + secs(e.end)
	}
	return what + " from " + secs(e.start) + " to " + secs(e.end) + " " + e.outcome.String()
}

// String returns "in flight", "acknowledged", "failed" or "refused".
func (out Outcome) String() string {
	switch out {
	case Acked:
		return "acknowledged"
	case Failed:
		return "failed"
	case Refused:
		return "refused"
	}
	return "in flight"
}

// secs formats an oracle time as seconds since the oracle began.
func secs(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 6, 64) + "s" }
