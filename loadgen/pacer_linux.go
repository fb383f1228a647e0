package loadgen

import (
	"runtime"
	"syscall"
	"time"
)

const prSetTimerslack = 29 // PR_SET_TIMERSLACK from <linux/prctl.h>

// lockPacerThread gives the calling goroutine its own OS thread with a
// timer slack of 1 ns, so that preciseSleep wakes within tens of
// microseconds. The caller must never unlock it and must exit: the thread
// then exits too, taking its timer slack with it.
func lockPacerThread() bool {
	runtime.LockOSThread()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0); errno != 0 {
		runtime.UnlockOSThread()
		return false
	}
	return true
}

// preciseSleep sleeps d with nanosleep(2) on the locked thread; the
// runtime hands the thread's P to other goroutines meanwhile.
func preciseSleep(d time.Duration) {
	for d > 0 {
		ts := syscall.NsecToTimespec(int64(d))
		start := time.Now()
		if err := syscall.Nanosleep(&ts, nil); err != syscall.EINTR {
			return
		}
		d -= time.Since(start)
	}
}
