// Package signals is the two-signal shutdown the mains of mcchaos share:
// the first SIGINT or SIGTERM cancels the context (clean up, report what
// finished), the second runs a last quick action and exits at once.
package signals

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Notify returns a context cancelled by the first SIGINT or SIGTERM, after
// first(sig) ran; on the second signal it calls second, which should exit
// the process (if it returns, the process exits with 130). stop releases
// the signals.
func Notify(first func(os.Signal), second func()) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			if first != nil {
				first(s)
			}
			cancel()
		case <-quit:
			return
		}
		select {
		case <-ch:
			if second != nil {
				second()
			}
			os.Exit(130)
		case <-quit:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		select {
		case <-quit:
		default:
			close(quit)
		}
		cancel()
	}
}
