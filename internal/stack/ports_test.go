package stack

import "testing"

// TestFreePortList: the ports are distinct across calls, outside the
// kernel's ephemeral range and away from the stack's fixed ports.
func TestFreePortList(t *testing.T) {
	seen := map[int]bool{}
	lo, hi := portRange()
	for range 20 {
		ports, err := FreePortList(40)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
			if wellKnown(p) || p < lo || p >= hi {
				t.Errorf("port %d: well known %v, outside [%d, %d)", p, wellKnown(p), lo, hi)
			}
		}
	}
}
