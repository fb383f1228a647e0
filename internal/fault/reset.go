package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindConnectionReset resets a connection (TCP RST) TimeoutMS after it
// sends data (toxiproxy reset_peer).
const KindConnectionReset Kind = "connection_reset"

// ConnectionReset is the parameters of KindConnectionReset.
type ConnectionReset struct {
	// TimeoutMS is how long after its first data a connection is reset, in
	// milliseconds; 0 resets at once.
	TimeoutMS float64 `json:"timeout_ms"`
}

func (*ConnectionReset) Kind() Kind { return KindConnectionReset }

func (p *ConnectionReset) fields() []field {
	return []field{{Param{Key: "timeout_ms", Min: 0, Max: 3_600_000}, &p.TimeoutMS}}
}

func (p *ConnectionReset) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "reset_peer", Stream: "upstream", Attributes: map[string]any{"timeout": int64(p.TimeoutMS)}}
}
