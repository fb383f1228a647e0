package toxiproxy_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/toxiproxy"
)

// TestTimeoutIsKept: a call that runs out of time says so in its error
// chain, so callers can tell "too slow to answer" from "down" (the
// efficacy oracle counts the first as unknown, the second as absent).
func TestTimeoutIsKept(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := &toxiproxy.Client{URL: "http://" + l.Addr().String(), CallTimeout: 50 * time.Millisecond, Attempts: 1}
	_, err = c.Proxies(context.Background())
	var ne net.Error
	if !errors.Is(err, toxiproxy.ErrToxiproxy) || !(errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("err = %v: want ErrToxiproxy and a timeout in its chain", err)
	}
	// A refused connection is not a timeout.
	addr := l.Addr().String()
	l.Close()
	_, err = (&toxiproxy.Client{URL: "http://" + addr, Attempts: 1}).Proxies(context.Background())
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("refused: err = %v, want an error that is no timeout", err)
	}
}
