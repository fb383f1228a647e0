// Package inject puts faults on the path between a client and its memcached
// servers and takes them away again: toxiproxy toxics and proxy switches,
// netfilter packet loss on the loopback path, and killing and restarting a
// memcached process of the local stack. It knows nothing about scenarios or
// phases; scenariod decides what to inject and when.
package inject

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// The toxiproxy client is internal/toxiproxy's, shared with the stack and
// bench; these names keep scenariod's spelling.
type (
	Toxiproxy   = toxiproxy.Client
	Proxy       = toxiproxy.Proxy
	Toxic       = toxiproxy.Toxic
	StatusError = toxiproxy.StatusError
)

// Defaults and errors of the toxiproxy client.
const (
	DefaultToxiproxyURL = toxiproxy.DefaultToxiproxyURL
	DefaultCallTimeout  = toxiproxy.DefaultCallTimeout
	DefaultAttempts     = toxiproxy.DefaultAttempts
)

// ErrToxiproxy marks every error from the toxiproxy API.
var ErrToxiproxy = toxiproxy.ErrToxiproxy

// ListenPort returns the TCP port of a proxy's listen address.
func ListenPort(listen string) (int, error) { return toxiproxy.ListenPort(listen) }
