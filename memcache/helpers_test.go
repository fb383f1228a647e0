package memcache

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// testEnv is a real stack (memcached ×3 behind toxiproxy) for one test.
type testEnv struct {
	*stack.Stack
	toxi      *toxiproxy.Client
	nextToxic atomic.Int64 // makes toxic names unique
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	s := stacktest.Start(t, stacktest.Options{})
	return &testEnv{Stack: s, toxi: toxiproxy.NewClient(s.ToxiproxyURL)}
}

// direct returns the memcached addresses, bypassing toxiproxy.
func (e *testEnv) direct() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.Addr)
	}
	return out
}

// proxied returns the toxiproxy listen addresses, in server order.
func (e *testEnv) proxied() []string {
	var out []string
	for _, s := range e.Servers {
		out = append(out, s.ProxyAddr)
	}
	return out
}

// toxic adds a toxic to server i's proxy (both directions when stream is
// "both") on every connection, and removes it when the test ends; the
// returned func removes it earlier.
func (e *testEnv) toxic(t testing.TB, i int, kind, stream string, attrs toxiproxy.Attributes) (remove func()) {
	t.Helper()
	return e.toxicSome(t, i, kind, stream, 1, attrs)
}

// toxicSome is toxic on a fraction of the connections: toxiproxy draws
// toxicity once per connection.
func (e *testEnv) toxicSome(t testing.TB, i int, kind, stream string, toxicity float32, attrs toxiproxy.Attributes) (remove func()) {
	t.Helper()
	p, err := e.toxi.Proxy(e.Servers[i].Name)
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{stream}
	if stream == "both" {
		streams = []string{"upstream", "downstream"}
	}
	var names []string
	for _, st := range streams {
		name := fmt.Sprintf("%s_%s_%d", kind, st, e.nextToxic.Add(1))
		if _, err := p.AddToxic(name, kind, st, toxicity, attrs); err != nil {
			t.Fatalf("add %s toxic to %s: %v", kind, e.Servers[i].Name, err)
		}
		names = append(names, name)
	}
	done := false
	remove = func() {
		if done {
			return
		}
		done = true
		for _, n := range names {
			if err := p.RemoveToxic(n); err != nil {
				t.Errorf("remove toxic %s: %v", n, err)
			}
		}
	}
	t.Cleanup(remove)
	return remove
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond every 5 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyFor returns a key that c maps to server i.
func keyFor(t testing.TB, c *Client, i int, prefix string) string {
	t.Helper()
	for n := 0; n < 10000; n++ {
		k := fmt.Sprintf("%s-%d", prefix, n)
		if c.index(k) == i {
			return k
		}
	}
	t.Fatalf("no key for server %d", i)
	return ""
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memcachedProc is a memcached of the test's own on a free loopback port,
// for what the shared stack cannot do: restart it, or run it with other
// options (-I).
type memcachedProc struct {
	t    testing.TB
	bin  string
	args []string
	Addr string
	p    *stack.Process
}

func startMemcached(t testing.TB, extra ...string) *memcachedProc {
	t.Helper()
	bin := stacktest.NeedBinary(t, "memcached")
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "64", "-t", "1"}, extra...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	m := &memcachedProc{t: t, bin: bin, args: args, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	m.start()
	t.Cleanup(func() { m.p.Stop(time.Second) })
	return m
}

// start starts the process and waits until it answers.
func (m *memcachedProc) start() {
	m.t.Helper()
	p, err := stack.StartProcess("memcached", m.bin, m.args, filepath.Join(m.t.TempDir(), "memcached.log"), nil)
	if err != nil {
		m.t.Fatal(err)
	}
	m.p = p
	eventually(m.t, 5*time.Second, "memcached "+m.Addr+" answers", func() bool {
		nc, err := net.DialTimeout("tcp", m.Addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(100 * time.Millisecond))
		b := make([]byte, 64)
		_, err = nc.Write([]byte("version\r\n"))
		n, _ := nc.Read(b)
		return err == nil && bytes.HasPrefix(b[:n], []byte("VERSION"))
	})
}

// restart kills memcached (SIGKILL: its connections are closed by the
// kernel, as after a crash) and starts it again on the same port, empty.
func (m *memcachedProc) restart() {
	m.t.Helper()
	m.p.StopWith(syscall.SIGKILL, time.Second)
	m.start()
}

// serverStat returns the counter name of memcached's "stats" at addr.
func serverStat(t testing.TB, addr, name string) int64 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "END" {
			break
		}
		if len(f) == 3 && f[0] == "STAT" && f[1] == name {
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("stat %s: %v", name, err)
			}
			return n
		}
	}
	t.Fatalf("memcached %s has no stat %s (%v)", addr, name, sc.Err())
	return 0
}
