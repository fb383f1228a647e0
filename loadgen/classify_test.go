package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	opErr := func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} }
	tests := []struct {
		name string
		err  error
		want Result
	}{
		{"nil", nil, ResultOK},
		{"miss", driver.ErrCacheMiss, ResultMiss},
		{"wrapped miss", fmt.Errorf("get: %w", driver.ErrCacheMiss), ResultMiss},
		{"circuit open", driver.ErrCircuitOpen, ResultCircuitOpen},
		// A pool timeout is also a net.Error timeout: the sentinel wins.
		{"pool timeout", fmt.Errorf("%w: %w", driver.ErrPoolTimeout, timeoutErr{}), ResultPoolTimeout},
		{"not stored", driver.ErrNotStored, ResultNotStored},
		{"protocol", driver.ErrProtocol, ResultProtocol},
		{"server error", driver.ErrServerError, ResultServerError},
		{"driver timeout", driver.ErrTimeout, ResultTimeout},
		{"refused", opErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), ResultConnRefused},
		{"reset", opErr(os.NewSyscallError("read", syscall.ECONNRESET)), ResultConnReset},
		{"broken pipe", opErr(os.NewSyscallError("write", syscall.EPIPE)), ResultConnReset},
		{"closed by peer", io.EOF, ResultConnReset},
		{"closed mid-response", io.ErrUnexpectedEOF, ResultConnReset},
		{"read deadline", opErr(os.ErrDeadlineExceeded), ResultTimeout},
		{"context deadline", context.DeadlineExceeded, ResultTimeout},
		{"net.Error timeout", timeoutErr{}, ResultTimeout},
		{"anything else", errors.New("boom"), ResultOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}
