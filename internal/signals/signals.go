// Package signals is the two-signal shutdown the mains of mcchaos share:
// the first SIGINT, SIGTERM or SIGHUP (a closed terminal or SSH session)
// cancels the context (clean up, report what finished), the second runs a
// last quick action and exits at once. The death of the parent process
// counts as a first signal too, so a child that holds state (scenariod's
// packet-drop rules) removes it when its bench is killed with SIGKILL.
package signals

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ErrParentGone is the context's cause when the process's parent died
// (it was re-parented): nobody is left to stop it in order.
var ErrParentGone = errors.New("the parent process is gone")

// SignalError is the context's cause when a signal cancelled it.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return "signal " + e.Signal.String() }

// ParentPoll is how often Notify checks that the parent process lives.
// Its death signal (Pdeathsig) normally comes first; the poll is for when
// it does not (the parent's forking thread lived on, or none was set).
const ParentPoll = 250 * time.Millisecond

// Notify returns a context cancelled by the first SIGINT, SIGTERM or
// SIGHUP, or by the death of the parent process, after first(sig) ran
// (sig is syscall.SIGTERM for the parent's death). Its cause
// (context.Cause) is a *SignalError, or ErrParentGone when the parent is
// gone. On a second SIGINT or SIGHUP, or a second SIGTERM while the
// parent lives (Pdeathsig and the poll both report one death), it calls
// second, which should exit the process (if it returns, the process exits
// with 130). stop releases the signals.
func Notify(first func(os.Signal), second func()) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	// A child's stdout and stderr are often a pipe to its parent: once the
	// parent is gone, the first line printed would kill the process with
	// SIGPIPE before it cleaned up. Ignored, the write fails instead.
	signal.Ignore(syscall.SIGPIPE)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	ppid := os.Getppid()
	orphan := func() bool { return os.Getppid() != ppid }
	quit := make(chan struct{})
	go func() {
		t := time.NewTicker(ParentPoll)
		defer t.Stop()
		var s os.Signal
	wait:
		for {
			select {
			case s = <-ch:
				break wait
			case <-t.C:
				if orphan() {
					s = syscall.SIGTERM
					break wait
				}
			case <-quit:
				return
			}
		}
		if first != nil {
			first(s)
		}
		if orphan() {
			cancel(ErrParentGone)
		} else {
			cancel(&SignalError{s})
		}
		for {
			select {
			case s2 := <-ch:
				if s2 == syscall.SIGTERM && orphan() {
					continue // the same death, seen twice
				}
				if second != nil {
					second()
				}
				os.Exit(130)
			case <-quit:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		select {
		case <-quit:
		default:
			close(quit)
		}
		cancel(nil)
	}
}
