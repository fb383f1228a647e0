package fault_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/internal/fault"
)

// TestJSONRoundTrip: every kind's fault survives encoding and decoding,
// parameters typed and in the shape files and manifests use.
func TestJSONRoundTrip(t *testing.T) {
	for _, f := range []fault.Fault{
		fault.On(&fault.PacketLoss{LossPct: 10}, "mc1"),
		fault.On(&fault.Latency{LatencyMS: 200, JitterMS: 20}, "mc1", "mc2"),
		fault.On(&fault.ServerDown{}, "mc3"),
		fault.On(&fault.ConnectionReset{TimeoutMS: 5}, "mc1"),
		fault.On(&fault.Blackhole{}, "mc1"),
		fault.On(&fault.Bandwidth{RateKBps: 10}, "mc1"),
		fault.On(&fault.Slicer{AverageSizeBytes: 1, DelayUS: 100}, "mc1"),
		fault.On(&fault.ProcessKill{}, "mc1"),
	} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var g fault.Fault
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if g.String() != f.String() || strings.Join(g.Targets, ",") != strings.Join(f.Targets, ",") {
			t.Errorf("%s: got %v, want %v", b, g, f)
		}
		if err := g.Validate(); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	b, _ := json.Marshal(fault.On(&fault.Latency{LatencyMS: 200}, "mc1"))
	if want := `{"kind":"latency","targets":["mc1"],"params":{"latency_ms":200,"jitter_ms":0}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

// TestStrictDecode: each mistake is refused with a message naming it;
// optional parameters take their defaults.
func TestStrictDecode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"kind":"latency","targets":["mc1"],"params":{"latency_ms":200},"extra":1}`, `unknown field "extra"`},
		{`{"kind":"earthquake","targets":["mc1"],"params":{}}`, `unknown fault kind "earthquake"`},
		{`{"kind":"latency","targets":["mc1"],"params":{"latency_s":2}}`, `unknown parameter "latency_s"`},
		{`{"kind":"packet_loss","targets":["mc1"],"params":{"loss_pct":150}}`, `loss_pct = 150 out of range`},
		{`{"kind":"packet_loss","targets":["mc1"],"params":{}}`, `missing parameter loss_pct`},
	} {
		var f fault.Fault
		err := json.Unmarshal([]byte(tc.in), &f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
	var f fault.Fault
	if err := json.Unmarshal([]byte(`{"kind":"slicer","targets":["mc1"],"params":{}}`), &f); err != nil {
		t.Fatal(err)
	}
	if s := f.Params.(*fault.Slicer); s.AverageSizeBytes != 1 || s.DelayUS != 100 {
		t.Errorf("slicer defaults: %+v", s)
	}
	if err := fault.On(&fault.Latency{LatencyMS: 1}, "mc9").Validate(); err == nil || !strings.Contains(err.Error(), `unknown server "mc9"`) {
		t.Errorf("target mc9: %v", err)
	}
}

// TestToxic: a toxic's attributes are toxiproxy's, in its units.
func TestToxic(t *testing.T) {
	x, ok := fault.Toxic(&fault.Latency{LatencyMS: 200, JitterMS: 10})
	if !ok || x.Name != "mcchaos_latency" || x.Type != "latency" || x.Stream != "downstream" || x.Toxicity != 1 || x.Attributes["latency"] != int64(200) || x.Attributes["jitter"] != int64(10) {
		t.Errorf("latency toxic %+v", x)
	}
	if x, _ := fault.Toxic(&fault.PacketLoss{LossPct: 10}); x.Toxicity != 0.1 || x.Stream != "upstream" {
		t.Errorf("loss emulation %+v: want toxicity 0.1 upstream", x)
	}
	if _, ok := fault.Toxic(&fault.ServerDown{}); ok {
		t.Error("server down is no toxic")
	}
}
