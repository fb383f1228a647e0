// Package toxiproxy is the one client of the toxiproxy HTTP API that the
// stack (creating the proxies), bench (checking they are clean) and
// scenariod (toxics, switches) use.
package toxiproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of Client.
const (
	// DefaultToxiproxyURL is the toxiproxy API of the compose and local stacks.
	DefaultToxiproxyURL = "http://127.0.0.1:8474"
	// DefaultCallTimeout bounds one HTTP attempt against the toxiproxy API.
	DefaultCallTimeout = 2 * time.Second
	// DefaultAttempts is how many times a toxiproxy call is tried before it fails.
	DefaultAttempts = 4
)

// ErrToxiproxy marks every error from the toxiproxy API (wrapped), so callers
// can tell "toxiproxy unreachable or refusing" from other failures.
var ErrToxiproxy = errors.New("toxiproxy")

// StatusError is a non-2xx answer of the toxiproxy API.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("toxiproxy: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// Is makes errors.Is(err, ErrToxiproxy) true for a StatusError.
func (e *StatusError) Is(target error) bool { return target == ErrToxiproxy }

// Proxy is a toxiproxy proxy as the API shows it.
type Proxy struct {
	Name     string  `json:"name"`
	Listen   string  `json:"listen"`
	Upstream string  `json:"upstream"`
	Enabled  bool    `json:"enabled"`
	Toxics   []Toxic `json:"toxics,omitempty"`
}

// Toxic is a toxiproxy toxic. Attribute units are toxiproxy's: latency and
// jitter in ms, bandwidth rate in KB/s, slicer sizes in bytes and delay in µs,
// timeouts in ms.
type Toxic struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Stream string `json:"stream"`
	// Toxicity is the share of connections the toxic applies to, drawn once
	// per connection. WARNING: 0 means never, not "default"; send 1 for all.
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// Client is a client of the toxiproxy HTTP API in which every call honours
// its context, is bounded by CallTimeout per attempt and is retried on
// network errors and 5xx answers. Unlike the official Go client it never
// blocks for 30 s on a dead server. The zero value (apart from URL) uses the
// defaults. It is safe for concurrent use.
type Client struct {
	// URL of the API, e.g. "http://127.0.0.1:8474". If empty, DefaultToxiproxyURL.
	URL string
	// CallTimeout bounds one attempt. If zero, DefaultCallTimeout.
	CallTimeout time.Duration
	// Attempts is the number of tries per call. If zero, DefaultAttempts.
	Attempts int
	// HTTP is the client used. If nil, a client with no timeout of its own
	// (deadlines come from the context and CallTimeout).
	HTTP *http.Client
}

func (t *Client) base() string {
	u := t.URL
	if u == "" {
		u = DefaultToxiproxyURL
	}
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return strings.TrimRight(u, "/")
}

// Host returns the host part of the API URL ("127.0.0.1").
func (t *Client) Host() string {
	u, err := url.Parse(t.base())
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// do performs one API call with retries. body, if not nil, is sent as JSON;
// out, if not nil, receives the decoded answer.
func (t *Client) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%w: encode %s %s: %v", ErrToxiproxy, method, path, err)
		}
	}
	attempts := t.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	backoff := 50 * time.Millisecond
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s %s: %w (last error: %v)", ErrToxiproxy, method, path, ctx.Err(), last)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		var retry bool
		retry, last = t.once(ctx, method, path, payload, out)
		if last == nil || !retry {
			return last
		}
	}
	return last
}

// once is one attempt; retry reports whether trying again may help.
func (t *Client) once(ctx context.Context, method, path string, payload []byte, out any) (retry bool, err error) {
	timeout := t.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base()+path, rd)
	if err != nil {
		return false, fmt.Errorf("%w: %s %s: %w", ErrToxiproxy, method, path, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := t.HTTP
	if hc == nil {
		hc = keepAlive
	}
	resp, err := hc.Do(req)
	if err != nil {
		return true, fmt.Errorf("%w: %s %s: %w", ErrToxiproxy, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return true, fmt.Errorf("%w: %s %s: read answer: %v", ErrToxiproxy, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode >= 500, &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return false, fmt.Errorf("%w: %s %s: decode answer: %v", ErrToxiproxy, method, path, err)
		}
	}
	return false, nil
}

// Proxies returns every proxy with its toxics, by name.
func (t *Client) Proxies(ctx context.Context) (map[string]Proxy, error) {
	var m map[string]Proxy
	if err := t.do(ctx, http.MethodGet, "/proxies", nil, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// CreateProxy creates p (name, listen, upstream; enabled). A proxy of that
// name that already exists is an error (HTTP 409).
func (t *Client) CreateProxy(ctx context.Context, p Proxy) error {
	def := Proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: true}
	return t.do(ctx, http.MethodPost, "/proxies", def, nil)
}

// SetEnabled enables or disables a proxy. A disabled proxy closes its
// listener and every connection: clients see connection refused.
func (t *Client) SetEnabled(ctx context.Context, proxy string, enabled bool) error {
	return t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(proxy), map[string]bool{"enabled": enabled}, nil)
}

// AddToxic adds x to a proxy. If a toxic of that name exists already (say a
// retried call went through the first time), it is updated to x instead.
func (t *Client) AddToxic(ctx context.Context, proxy string, x Toxic) error {
	err := t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(proxy)+"/toxics", x, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusConflict {
		return t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(proxy)+"/toxics/"+url.PathEscape(x.Name), x, nil)
	}
	return err
}

// RemoveToxic removes a toxic. A toxic that is already gone is not an error.
func (t *Client) RemoveToxic(ctx context.Context, proxy, toxic string) error {
	err := t.do(ctx, http.MethodDelete, "/proxies/"+url.PathEscape(proxy)+"/toxics/"+url.PathEscape(toxic), nil, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// Populate creates (or replaces) proxies in one call and returns them as
// toxiproxy runs them: a listen port of 0 comes back as the port it bound.
func (t *Client) Populate(ctx context.Context, ps []Proxy) ([]Proxy, error) {
	defs := make([]Proxy, len(ps))
	for i, p := range ps {
		defs[i] = Proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: true}
	}
	var out struct {
		Proxies []Proxy `json:"proxies"`
	}
	if err := t.do(ctx, http.MethodPost, "/populate", defs, &out); err != nil {
		return nil, err
	}
	return out.Proxies, nil
}

// Reset removes every toxic of every proxy and enables every proxy.
func (t *Client) Reset(ctx context.Context) error {
	return t.do(ctx, http.MethodPost, "/reset", nil, nil)
}

// keepAlive keeps a connection per concurrent call: a fault is put on
// every arm's proxy by parallel calls, and dialing most of them (the
// default transport keeps 2 idle connections per host) spread the arms'
// fault times by 15 ms.
var keepAlive = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
}}

// ListenPort returns the TCP port of a proxy's listen address ("127.0.0.1:21211" → 21211).
func ListenPort(listen string) (int, error) {
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	var port int
	if _, err := fmt.Sscanf(p, "%d", &port); err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	return port, nil
}
