package loadgen

import (
	"strings"
	"testing"
)

// TestCodecParse: the form of a value (the Oracle judges its version).
func TestCodecParse(t *testing.T) {
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
		name    string
		value   []byte
		key     string
		run     uint64
		version uint64
		reason  string // "" means intact
	}{
		// The value just written.
		{"intact", v7, key, 0xfeed, 7, ""},
		// Values of another run parse too (the Oracle judges them by form only).
		{"other run", other.AppendValue(nil, key, 1000, 100), key, 0xbeef, 1000, ""},
		// Values smaller than the header are raised to it.
		{"tiny size", c.AppendValue(nil, key, 1, 1), key, 0xfeed, 1, ""},
		{"truncated", v7[:len(v7)-10], key, 0, 0, "torn or truncated"},
		{"extended", append(append([]byte(nil), v7...), "xx"...), key, 0, 0, "torn or truncated"},
		{"torn", torn, key, 0, 0, "checksum mismatch"},
		{"flipped bit", flipped, key, 0, 0, "checksum mismatch"},
		{"another key's value", c.AppendValue(nil, "mcchaos:v:43", 7, 300), key, 0, 0, `value of key "mcchaos:v:43"`},
		{"a prefix key's value", c.AppendValue(nil, "mcchaos:v:4", 7, 300), key, 0, 0, `value of key "mcchaos:v:4"`},
		{"counter value", []byte("12"), key, 0, 0, "not a loadgen value"},
		{"empty", nil, key, 0, 0, "not a loadgen value"},
		{"garbage length", badLength, key, 0, 0, "malformed header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, version, got := c.Parse(tt.value, tt.key)
			switch {
			case tt.reason == "" && (got != nil || run != tt.run || version != tt.version):
				t.Fatalf("Parse = %x, %d, %v; want %x, %d", run, version, got, tt.run, tt.version)
			case tt.reason != "" && got == nil:
				t.Fatalf("Parse accepted, want %q", tt.reason)
			case tt.reason != "" && !strings.Contains(got.Reason, tt.reason):
				t.Fatalf("Parse = %q, want it to contain %q", got.Reason, tt.reason)
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
