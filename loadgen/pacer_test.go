package loadgen

import (
	"sort"
	"testing"
	"time"
)

func TestPacerWait(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := newPacer()
		defer p.stop()
		never := make(chan struct{})
		// Short and long waits come back at their time, never early.
		var late []time.Duration
		for _, d := range []time.Duration{0, 100 * time.Microsecond, 500 * time.Microsecond, 3 * time.Millisecond} {
			for range 20 {
				until := time.Now().Add(d)
				if !p.wait(until, never) {
					t.Error("wait returned false without a stop")
				}
				if early := time.Until(until); early > 0 {
					t.Errorf("wait(%s) returned %s early", d, early)
				}
				late = append(late, -time.Until(until))
			}
		}
		sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
		t.Logf("precise=%v: lateness p50 %s, p90 %s", p.precise, late[len(late)/2], late[len(late)*9/10])
		// A stop ends a long wait at once.
		stop := make(chan struct{})
		time.AfterFunc(20*time.Millisecond, func() { close(stop) })
		start := time.Now()
		if p.wait(start.Add(time.Hour), stop) {
			t.Error("wait returned true after a stop")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("stop took %s to end the wait", d)
		}
	}()
	<-done
}
