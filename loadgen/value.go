package loadgen

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Values written by loadgen carry their own proof of integrity:
//
//	mcv1 <run:16 hex> <version:16 hex> <length:8 hex> <keylen:2 hex> <key> <padding…> <crc32c:8 hex>
//
// run identifies the loadgen process, version is the write's version in
// the key's history (see Oracle), length is the whole value's length and
// the checksum (CRC-32C) covers everything before it. Parse checks the
// form; the Oracle judges the version against the key's history.

const (
	magic       = "mcv1 "
	offRun      = len(magic)
	offVersion  = offRun + 16 + 1
	offLength   = offVersion + 16 + 1
	offKeyLen   = offLength + 8 + 1
	offKey      = offKeyLen + 2 + 1
	trailerSize = 1 + 8 // " " + crc
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// padding is what fills a value between its header and its checksum.
var padding = bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), MaxValueSize/36+1)

// MinValueSize returns the smallest value that can carry key.
func MinValueSize(key string) int { return offKey + len(key) + 1 + trailerSize }

// Codec writes and checks values for one loadgen run. The zero value is
// usable (run id 0); it is safe for concurrent use.
type Codec struct {
	Run uint64 // identifies this run's values
}

// AppendValue appends to dst a value of about size bytes (at least
// MinValueSize(key)) for key at version and returns the extended slice.
func (c Codec) AppendValue(dst []byte, key string, version uint64, size int) []byte {
	size = max(size, MinValueSize(key))
	start := len(dst)
	dst = append(dst, magic...)
	dst = appendHex(dst, c.Run, 16)
	dst = append(dst, ' ')
	dst = appendHex(dst, version, 16)
	dst = append(dst, ' ')
	dst = appendHex(dst, uint64(size), 8)
	dst = append(dst, ' ')
	dst = appendHex(dst, uint64(len(key)), 2)
	dst = append(dst, ' ')
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = append(dst, padding[:size-(len(dst)-start)-trailerSize]...)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, ' ')
	return appendHex(dst, uint64(sum), 8)
}

// Violation describes a value that failed its integrity check.
type Violation struct {
	Reason   string // what is wrong, e.g. "checksum mismatch"
	Expected string // what a correct read could have returned
	Got      string // what was read: an excerpt, or its version and times
}

func (v *Violation) Error() string { return v.Reason + ": expected " + v.Expected + ", got " + v.Got }

// Parse checks that v is an intact value for key and returns its run and
// version, or a *Violation.
func (c Codec) Parse(v []byte, key string) (run, version uint64, bad *Violation) {
	fail := func(format string, args ...any) (uint64, uint64, *Violation) {
		return 0, 0, &Violation{Reason: fmt.Sprintf(format, args...), Expected: "an intact value of " + key, Got: excerpt(v)}
	}
	if len(v) < offKey+trailerSize || !bytes.HasPrefix(v, []byte(magic)) {
		return fail("not a loadgen value (%d bytes)", len(v))
	}
	length, ok1 := parseHex(v[offLength : offLength+8])
	keyLen, ok2 := parseHex(v[offKeyLen : offKeyLen+2])
	if !ok1 || !ok2 {
		return fail("malformed header")
	}
	if uint64(len(v)) != length {
		return fail("length %d, header says %d (torn or truncated)", len(v), length)
	}
	body := v[:len(v)-trailerSize]
	sum, ok := parseHex(v[len(v)-8:])
	if !ok || uint64(crc32.Checksum(body, castagnoli)) != sum {
		return fail("checksum mismatch (torn or corrupt)")
	}
	if end := offKey + int(keyLen); end > len(body) || string(v[offKey:end]) != key {
		return fail("value of key %q", v[offKey:min(end, len(body))])
	}
	run, _ = parseHex(v[offRun : offRun+16])
	version, _ = parseHex(v[offVersion : offVersion+16])
	return run, version, nil
}

func appendHex(dst []byte, x uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		dst = append(dst, digits[(x>>(4*uint(i)))&0xf])
	}
	return dst
}

func parseHex(b []byte) (uint64, bool) {
	var x uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			x = x<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			x = x<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return x, true
}

// excerpt quotes the start and end of v, enough to tell values apart in a log.
func excerpt(v []byte) string {
	const n = 80
	if len(v) <= 2*n {
		return strconv.Quote(string(v))
	}
	return strconv.Quote(string(v[:n])) + "…" + strconv.Quote(string(v[len(v)-20:])) + fmt.Sprintf(" (%d bytes)", len(v))
}
