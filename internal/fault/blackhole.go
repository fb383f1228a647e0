package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindBlackhole accepts connections and requests but never answers
// (toxiproxy's timeout toxic with timeout 0).
const KindBlackhole Kind = "blackhole"

// Blackhole is the parameters of KindBlackhole: none.
type Blackhole struct{}

func (*Blackhole) Kind() Kind      { return KindBlackhole }
func (*Blackhole) fields() []field { return nil }

func (*Blackhole) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "timeout", Attributes: map[string]any{"timeout": 0}}
}
