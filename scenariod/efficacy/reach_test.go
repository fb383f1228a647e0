package efficacy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
	"github.com/mcchaos/mcchaos/scenariod/inject/injecttest"
)

// The two ways Docker publishes a container's port on 127.0.0.1, rebuilt
// in private network namespaces: a "host" namespace and a "container"
// namespace joined by a veth pair, memcached in the container.
const (
	hostIP      = "10.99.0.1"
	containerIP = "10.99.0.2"
	memcPort    = 31211 // memcached in the container
	proxyPort   = 31212 // docker-proxy: the userland proxy on the host's loopback
	dnatPort    = 31213 // userland-proxy=false: DNAT of 127.0.0.1 to the container
)

func in(t *testing.T, ns []string, args ...string) {
	t.Helper()
	if out, err := exec.Command(ns[0], append(ns[1:], args...)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestReachesDockerPaths answers, on a real kernel, the compose question
// of issue 14: does nftables on the host see the client's own connection to
// a port published on 127.0.0.1? Through docker-proxy (Docker's default
// userland proxy) it does: the connection ends on the host's loopback.
// With the userland proxy off, Docker DNATs 127.0.0.1 to the container and
// the loopback input hook sees nothing: Reaches says ErrNotReached, and
// scenariod must use netem in the container instead.
func TestReachesDockerPaths(t *testing.T) {
	stacktest.NeedBinary(t, "memcached")
	stacktest.NeedBinary(t, "nft") // make deps installs it: under make test a missing nft fails
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("needs ip (iproute2): %v", err)
	}
	host, ctr := injecttest.Netns(t), injecttest.Netns(t)
	ctrPid := ctr[2]
	in(t, host, "ip", "link", "add", "vh", "type", "veth", "peer", "name", "vc", "netns", ctrPid)
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", hostIP + "/24", "dev", "vh"},
		{"ip", "link", "set", "vh", "up"},
		// What Docker sets for userland-proxy=false.
		{"sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && echo 1 > /proc/sys/net/ipv4/conf/vh/route_localnet"},
	} {
		in(t, host, c...)
	}
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", containerIP + "/24", "dev", "vc"},
		{"ip", "link", "set", "vc", "up"},
	} {
		in(t, ctr, c...)
	}
	nat := fmt.Sprintf(`table ip dockerlike {
	chain output { type nat hook output priority -100; ip daddr 127.0.0.1 tcp dport %d dnat to %s:%d; }
	chain postrouting { type nat hook postrouting priority 100; ip saddr 127.0.0.0/8 oifname "vh" masquerade; }
}
`, dnatPort, containerIP, memcPort)
	nft := exec.Command(host[0], append(host[1:], "nft", "-f", "-")...)
	nft.Stdin = strings.NewReader(nat)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nat rules: %v: %s", err, out)
	}
	mc := exec.Command(ctr[0], append(ctr[1:], "memcached", "-u", "root", "-U", "0", "-l", containerIP, "-p", strconv.Itoa(memcPort))...)
	if err := mc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Process.Kill(); mc.Wait() })

	for _, tc := range []struct {
		mode    string
		reached bool
	}{
		{"docker-proxy", true},
		{"dnat", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			child := exec.Command(host[0], append(host[1:], os.Args[0], "-test.run=^TestReachesHelper$", "-test.v")...)
			child.Env = append(os.Environ(), "MCCHAOS_REACH_MODE="+tc.mode)
			out, err := child.CombinedOutput()
			t.Logf("in the host namespace:\n%s", out)
			if reached := err == nil; reached != tc.reached {
				t.Errorf("reached %v, want %v", reached, tc.reached)
			}
		})
	}
}

// TestReachesHelper runs inside the host namespace of
// TestReachesDockerPaths; it fails when the rules do not reach.
func TestReachesHelper(t *testing.T) {
	mode := os.Getenv("MCCHAOS_REACH_MODE")
	if mode == "" {
		t.Skip("helper of TestReachesDockerPaths")
	}
	upstream := net.JoinHostPort(containerIP, strconv.Itoa(memcPort))
	// The memcached in the container must be up first.
	if err := inject.Poll(t.Context(), 10*time.Second, func() bool {
		c, err := net.Dial("tcp", upstream)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		t.Fatalf("memcached at %s: %v", upstream, err)
	}
	port := dnatPort
	if mode == "docker-proxy" {
		port = proxyPort
		userlandProxy(t, port, upstream)
	}
	nf := &inject.Netfilter{Table: "mcchaos_reach", Timeout: 30 * time.Second}
	err := efficacy.Reaches(t.Context(), nf, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	t.Logf("%s: Reaches: %v", mode, err)
	if err != nil && !errors.Is(err, efficacy.ErrNotReached) {
		t.Fatalf("not a reach answer: %v", err)
	}
	if err != nil {
		t.Fail()
	}
}

// userlandProxy forwards 127.0.0.1:port to upstream, as docker-proxy does.
func userlandProxy(t *testing.T, port int, upstream string) {
	injecttest.Serve(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), func(c net.Conn) {
		defer c.Close()
		u, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", upstream)
		if err != nil {
			return
		}
		defer u.Close()
		go io.Copy(u, c)
		io.Copy(c, u)
	})
}
