//go:build !linux

package loadgen

import "time"

// lockPacerThread reports that precise sleeps are not available here: the
// pacer then relies on Go timers alone.
func lockPacerThread() bool { return false }

func preciseSleep(d time.Duration) { time.Sleep(d) }
