package driver_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/mcchaos/mcchaos/loadgen"
	"github.com/mcchaos/mcchaos/loadgen/driver"
	"github.com/mcchaos/mcchaos/memcache"
)

// TestClassifyThroughDrivers checks that each adapter maps its client's
// errors so that Classify agrees with what they mean.
func TestClassifyThroughDrivers(t *testing.T) {
	ours := func(err error) error {
		return driver.OursErr(&memcache.Error{Op: "get", Server: "127.0.0.1:1", Err: err})
	}
	tests := []struct {
		name string
		err  error
		want loadgen.Result
	}{
		{"ours miss", driver.OursErr(memcache.ErrCacheMiss), loadgen.ResultMiss},
		{"ours circuit open", ours(memcache.ErrCircuitOpen), loadgen.ResultCircuitOpen},
		{"ours pool timeout", ours(memcache.ErrPoolTimeout), loadgen.ResultPoolTimeout},
		{"ours protocol", ours(fmt.Errorf("%w: bad opaque", memcache.ErrProtocol)), loadgen.ResultProtocol},
		{"ours client error", ours(memcache.ErrClientError), loadgen.ResultProtocol},
		{"ours server error", ours(memcache.ErrServerError), loadgen.ResultServerError},
		{"ours reset", ours(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), loadgen.ResultConnReset},
		{"ours timeout", ours(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), loadgen.ResultTimeout},
		{"gomemcache miss", driver.GomemcacheErr(gomemcache.ErrCacheMiss), loadgen.ResultMiss},
		{"gomemcache connect timeout", driver.GomemcacheErr(&gomemcache.ConnectTimeoutError{}), loadgen.ResultTimeout},
		{"gomemcache server error", driver.GomemcacheErr(gomemcache.ErrServerError), loadgen.ResultServerError},
		{"gomemcache bad line", driver.GomemcacheErr(errors.New("memcache: unexpected line in get response: \"x\"")), loadgen.ResultProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadgen.Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}
