package scenariod

import "testing"

// TestBuiltinExpectations pins the expectation the physics gives each of the
// 14 scenarios: a timeout of 500 ms rides through +200 ms and up to 20 %
// loss (one retransmission fits), not +500 ms, 50 % or 100 % loss.
func TestBuiltinExpectations(t *testing.T) {
	want := map[string]string{
		"packet-loss-2-pct": ExpectRideThrough, "packet-loss-5-pct": ExpectRideThrough,
		"packet-loss-10-pct": ExpectRideThrough, "packet-loss-20-pct": ExpectRideThrough,
		"packet-loss-50-pct": ExpectDetect, "packet-loss-100-pct": ExpectDetect,
		"latency-200ms-100ms": ExpectRideThrough, "latency-200ms-1s": ExpectRideThrough,
		"latency-200ms-5s": ExpectRideThrough, "latency-200ms-10s": ExpectRideThrough,
		"latency-200ms-40s": ExpectRideThrough, "latency-200ms-2m": ExpectRideThrough,
		"multi-failure-2-servers-packet-loss": ExpectDetect, "multi-failure-2-servers-latency": ExpectDetect,
		"server-down": ExpectDetect, "blackhole": ExpectDetect, "bandwidth-limit": ExpectRideThrough,
		"latency-jitter": ExpectRideThrough, "process-restart": ExpectDetect, "connection-reset": ExpectDetect,
		"response-slicing": ExpectRideThrough,
	}
	for _, s := range Builtin() {
		got, why := Expectation(s)
		if got != want[s.Name] {
			t.Errorf("%s: expectation %s (%s), want %s", s.Name, got, why, want[s.Name])
		}
		if why == "" {
			t.Errorf("%s: no reason for its expectation", s.Name)
		}
	}
}

func TestFileExpect(t *testing.T) {
	doc := "scenarios:\n  - name: slow\n    fault_time: 5s\n    expect: detect\n    faults:\n      - {kind: latency, targets: [mc2], params: {latency_ms: 100}}\n"
	ss, err := ParseFile("f.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got, why := Expectation(ss[0]); got != ExpectDetect || why != "stated by the scenario" {
		t.Errorf("stated expectation: got %s (%s)", got, why)
	}
	_, err = ParseFile("f.yml", []byte("scenarios:\n  - name: slow\n    fault_time: 5s\n    expect: maybe\n    faults:\n      - {kind: latency, targets: [mc2], params: {latency_ms: 100}}\n"))
	if err == nil || err.Error() != `f.yml:4: expect "maybe": want ride-through or detect` {
		t.Errorf("bad expect: got %v", err)
	}
}
