package injecttest

import (
	"net"
	"testing"
)

// Serve listens on addr ("127.0.0.1:0" for a free port) until the test
// ends, hands every connection to handle in a goroutine of its own (handle
// closes it), and returns the address it listens on.
func Serve(t testing.TB, addr string, handle func(net.Conn)) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().(*net.TCPAddr)
}
