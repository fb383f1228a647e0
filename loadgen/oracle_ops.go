package loadgen

import (
	"errors"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// multiBatch is the number of keys of one get-multi: all on one server, so
// that its result and latency are that server's.
const multiBatch = 16

var errNoMulti = errors.New("loadgen: the driver has no get-multi, CAS or add")

// exec runs op on data key index i (its counter for incr), tells the oracle
// what it wrote and what it read, and reports violations. It returns the
// key whose server the operation is recorded under. An add or CAS that the
// server refused is an answer: exec returns nil for it.
func (r *runner) exec(w *worker, op Op, i int) (string, error) {
	d := r.cfg.Driver
	key := r.data[i]
	switch op {
	case OpGet:
		start := r.oracle.Now()
		v, err := d.Get(r.opCtx, key)
		if err == nil {
			r.judge(op, i, v, start)
		}
		return key, err
	case OpSet:
		return key, r.set(w, i)
	case OpDelete:
		v := r.oracle.Begin(i, true)
		err := d.Delete(r.opCtx, key)
		out := Failed
		if err == nil || Classify(err) == ResultMiss { // a miss: the key is absent
			out = Acked
		}
		r.oracle.End(i, v, out)
		return key, err
	case OpIncr:
		key = r.counters[i]
		_, err := d.Increment(r.opCtx, key, 1)
		return key, err
	}
	m, ok := d.(driver.Multi)
	if !ok {
		return key, errNoMulti
	}
	switch op {
	case OpGetMulti:
		return key, r.getMulti(m, w, i)
	case OpCAS:
		start := r.oracle.Now()
		old, cas, err := m.Gets(r.opCtx, key)
		if err != nil {
			return key, err
		}
		r.judge(op, i, old, start)
		return key, r.write(w, i, func(v []byte) error { return m.CompareAndSwap(r.opCtx, key, v, cas) })
	case OpAdd:
		return key, r.write(w, i, func(v []byte) error { return m.Add(r.opCtx, key, v) })
	}
	return key, errNoMulti
}

// set writes a new version of data key i.
func (r *runner) set(w *worker, i int) error {
	key := r.data[i]
	return r.write(w, i, func(v []byte) error { return r.cfg.Driver.Set(r.opCtx, key, v) })
}

// write writes a new version of data key i with store, under the oracle.
// A refusal (not stored, or a CAS of a key gone) is an answer: nil.
func (r *runner) write(w *worker, i int, store func([]byte) error) error {
	v := r.oracle.Begin(i, false)
	w.buf = r.codec.AppendValue(w.buf[:0], r.data[i], v, r.cfg.Sizes.Next(w.rng))
	err := store(w.buf)
	switch res := Classify(err); res {
	case ResultOK:
		r.oracle.End(i, v, Acked)
	case ResultNotStored, ResultMiss:
		r.oracle.End(i, v, Refused)
		return nil
	default:
		r.oracle.End(i, v, Failed)
	}
	return err
}

// getMulti reads multiBatch keys of data key i's server in one get-multi
// and judges every value returned, even with an error (the values from the
// servers that answered).
func (r *runner) getMulti(m driver.Multi, w *worker, i int) error {
	d := r.cfg.Driver
	server := d.ServerFor(r.data[i])
	idx := []int{i}
	keys := []string{r.data[i]}
	for tries := 0; len(keys) < multiBatch && tries < 8*multiBatch; tries++ {
		j := r.cfg.Keys.Next(w.rng)
		if d.ServerFor(r.data[j]) == server && !contains(idx, j) {
			idx, keys = append(idx, j), append(keys, r.data[j])
		}
	}
	start := r.oracle.Now()
	vals, err := m.GetMulti(r.opCtx, keys)
	for n, key := range keys {
		if v, ok := vals[key]; ok {
			r.judge(OpGetMulti, idx[n], v, start)
		}
	}
	return err
}

// judge checks value v read from data key i by a read that began at start.
func (r *runner) judge(op Op, i int, v []byte, start int64) {
	key := r.data[i]
	if bad := r.oracle.Check(i, key, v, start); bad != nil {
		r.violation(op, r.cfg.Driver.ServerFor(key), key, bad)
	}
}

func contains(s []int, x int) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
