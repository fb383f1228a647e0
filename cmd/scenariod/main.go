// Command scenariod runs fault scenarios against the mcchaos stack: each
// scenario is stabilization → testing (fault on) → recovery (state proven
// clean), its phases exported as metrics and recorded in manifest.json.
//
//	scenariod -list
//	scenariod -profile pr -scenario all -toxiproxy http://127.0.0.1:8474
//	scenariod -scenario packet-loss-10-pct,latency-200ms-1s -loss-injector netfilter
//	scenariod -scenario-file my.yaml            # runs the file's scenarios
//
// Exit codes: 0 every scenario passed; 2 bad input or the run could not be
// done (stack unreachable, a scenario failed, state not clean); 130
// interrupted by SIGINT/SIGTERM (faults removed, manifest written).
package main

import (
	"context"
	"fmt"
	"github.com/mcchaos/mcchaos/internal/signals"
	"os"
	"sync/atomic"
	"time"

	"github.com/mcchaos/mcchaos/scenariod"
)

// current is the running Runner, for the forced cleanup of a second signal.
var current atomic.Pointer[scenariod.Runner]

func main() {
	ctx, stop := signals.Notify(func(s os.Signal) {
		fmt.Fprintf(os.Stderr, "scenariod: %v: removing every fault and stopping (signal again to exit at once)\n", s)
	}, func() {
		if r := current.Load(); r != nil {
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := r.Cleanup(cctx); err != nil {
				fmt.Fprintf(os.Stderr, "scenariod: cleanup: %v\n", err)
			}
			ccancel()
		}
		os.Exit(exitInterrupted)
	})
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(exitCode(os.Stderr, err))
}
