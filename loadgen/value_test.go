package loadgen

import (
	"strings"
	"testing"
)

func TestCodecCheck(t *testing.T) {
	c := Codec{Run: 0xfeed}
	other := Codec{Run: 0xbeef}
	key := "mcchaos:v:42"
	v7 := c.AppendValue(nil, key, 7, 300)
	v8 := c.AppendValue(nil, key, 8, 300)
	torn := append(append([]byte(nil), v7[:150]...), v8[150:]...)
	flipped := append([]byte(nil), v7...)
	flipped[200] ^= 1
	badLength := append([]byte(nil), v7...)
	copy(badLength[offLength:], "zz")
	tests := []struct {
		name   string
		value  []byte
		key    string
		maxVer uint64
		reason string // "" means accepted
	}{
		// The value just written.
		{"intact", v7, key, 7, ""},
		// A later writer already bumped the version: still fine.
		{"older version", v7, key, 9, ""},
		// Values of an earlier run are judged by form only.
		{"other run, any version", other.AppendValue(nil, key, 1000, 100), key, 3, ""},
		// Values smaller than the header are raised to it.
		{"tiny size", c.AppendValue(nil, key, 1, 1), key, 1, ""},
		{"truncated", v7[:len(v7)-10], key, 7, "torn or truncated"},
		{"extended", append(append([]byte(nil), v7...), "xx"...), key, 7, "torn or truncated"},
		{"torn", torn, key, 8, "checksum mismatch"},
		{"flipped bit", flipped, key, 7, "checksum mismatch"},
		{"another key's value", c.AppendValue(nil, "mcchaos:v:43", 7, 300), key, 7, `value of key "mcchaos:v:43"`},
		{"a prefix key's value", c.AppendValue(nil, "mcchaos:v:4", 7, 300), key, 7, `value of key "mcchaos:v:4"`},
		{"version never written", v8, key, 7, "never written"},
		{"counter value", []byte("12"), key, 7, "not a loadgen value"},
		{"empty", nil, key, 7, "not a loadgen value"},
		{"garbage length", badLength, key, 7, "malformed header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Check(tt.value, tt.key, tt.maxVer)
			switch {
			case tt.reason == "" && got != nil:
				t.Fatalf("Check = %v, want accepted", got)
			case tt.reason != "" && got == nil:
				t.Fatalf("Check accepted, want %q", tt.reason)
			case tt.reason != "" && !strings.Contains(got.Reason, tt.reason):
				t.Fatalf("Check = %q, want it to contain %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestAppendValueSize(t *testing.T) {
	c := Codec{Run: 1}
	for _, size := range []int{0, 10, MinValueSize("k"), 100, 4096, MaxValueSize} {
		v := c.AppendValue(nil, "k", 1, size)
		if want := max(size, MinValueSize("k")); len(v) != want {
			t.Errorf("size %d: got %d bytes, want %d", size, len(v), want)
		}
	}
}
