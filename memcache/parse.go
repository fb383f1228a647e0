package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// respCode is the status of a response: a meta protocol two-letter code,
// or one of the two text protocol lines GetMulti reads (VALUE, END).
type respCode uint8

const (
	codeVA    respCode = iota + 1 // value follows
	codeHD                        // success, no value
	codeEN                        // miss (mg)
	codeNF                        // not found (md, ma, ms with C)
	codeNS                        // not stored
	codeEX                        // CAS mismatch
	codeMN                        // end of a pipeline (mn)
	codeValue                     // text VALUE line (gets): value follows
	codeEnd                       // text END: end of a gets response
)

// metaResp is one parsed response line, plus its value for VA and VALUE.
type metaResp struct {
	code      respCode
	size      int    // VA, VALUE: length of the value
	flags     uint32 // f
	cas       uint64 // c
	opaque    uint32 // O
	hasOpaque bool
	// key is a VALUE line's key. It aliases the reader's buffer: valid
	// only until the next read (readValue included).
	key   []byte
	value []byte // VA, VALUE: the value, without its terminator
}

// errLineTooLong is returned for a response line longer than the reader's buffer.
var errLineTooLong = fmt.Errorf("%w: response line too long", ErrProtocol)

// readHead reads and parses one response line. SERVER_ERROR, CLIENT_ERROR
// and ERROR lines come back as errors wrapping ErrServerError or
// ErrClientError; anything unparsable wraps ErrProtocol; I/O errors are
// returned as is (io.EOF within the line becomes io.ErrUnexpectedEOF).
// A VA value is not read: the caller checks the opaque token first, so
// that a response to another request never makes it read (or allocate)
// the value that response announces.
func readHead(br *bufio.Reader) (metaResp, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return metaResp{}, errLineTooLong
		case err == io.EOF && len(line) > 0:
			return metaResp{}, io.ErrUnexpectedEOF
		}
		return metaResp{}, err
	}
	return parseLine(line)
}

// readValue reads the value of a VA or VALUE response r with its "\r\n"
// terminator, into scratch when it fits there and into a new slice
// otherwise. A value larger than maxValue is a protocol error, found before
// anything is read or allocated. It does nothing for other codes.
func readValue(br *bufio.Reader, r *metaResp, maxValue int, scratch []byte) error {
	if r.code != codeVA && r.code != codeValue {
		return nil
	}
	if r.size > maxValue {
		return fmt.Errorf("%w: value of %d bytes exceeds the limit of %d (Config.MaxValueSize)", ErrProtocol, r.size, maxValue)
	}
	var buf []byte
	if r.size+2 <= len(scratch) {
		buf = scratch[:r.size+2]
	} else {
		buf = make([]byte, r.size+2)
	}
	if _, err := io.ReadFull(br, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if buf[r.size] != '\r' || buf[r.size+1] != '\n' {
		return fmt.Errorf("%w: value not terminated by CRLF", ErrProtocol)
	}
	r.value = buf[:r.size:r.size]
	return nil
}

// parseLine parses a response line including its "\r\n". Only a VALUE
// line's key retains line.
func parseLine(line []byte) (metaResp, error) {
	var r metaResp
	if len(line) < 2 || line[len(line)-2] != '\r' || line[len(line)-1] != '\n' {
		return r, protocolErrorf("line not terminated by CRLF: %q", line)
	}
	line = line[:len(line)-2]
	switch {
	case bytes.HasPrefix(line, []byte("VALUE ")):
		return parseValueLine(line)
	case string(line) == "END":
		return metaResp{code: codeEnd}, nil
	}
	if len(line) < 2 || (len(line) > 2 && line[2] != ' ') {
		return r, serverReply(line)
	}
	switch string(line[:2]) { // no allocation: the compiler compares in place
	case "VA":
		r.code = codeVA
	case "HD":
		r.code = codeHD
	case "EN":
		r.code = codeEN
	case "NF":
		r.code = codeNF
	case "NS":
		r.code = codeNS
	case "EX":
		r.code = codeEX
	case "MN":
		r.code = codeMN
	default:
		return r, serverReply(line)
	}
	rest := line[2:]
	if r.code == codeVA {
		var tok []byte
		tok, rest = nextToken(rest)
		n, ok := parseUint(tok, 31)
		if !ok {
			return metaResp{}, protocolErrorf("bad value size in %q", line)
		}
		r.size = int(n)
	}
	for len(rest) > 0 {
		var tok []byte
		tok, rest = nextToken(rest)
		if len(tok) == 0 {
			return metaResp{}, protocolErrorf("empty token in %q", line)
		}
		var ok bool
		switch tok[0] {
		case 'f':
			var v uint64
			v, ok = parseUint(tok[1:], 32)
			r.flags = uint32(v)
		case 'c':
			r.cas, ok = parseUint(tok[1:], 64)
		case 'O':
			var v uint64
			v, ok = parseUint(tok[1:], 32)
			r.opaque, r.hasOpaque = uint32(v), true
		default: // flags this client does not ask for (t, s, k, ...): ignored
			ok = true
		}
		if !ok {
			return metaResp{}, protocolErrorf("bad flag %q in %q", tok, line)
		}
	}
	return r, nil
}

// parseValueLine parses a text protocol "VALUE <key> <flags> <bytes> <cas>"
// line, the answer to gets for a hit (without its "\r\n").
func parseValueLine(line []byte) (metaResp, error) {
	key, flags, size, cas, rest := split4(line[len("VALUE"):])
	f, okF := parseUint(flags, 32)
	n, okN := parseUint(size, 31)
	c, okC := parseUint(cas, 64)
	if len(key) == 0 || !okF || !okN || !okC || len(rest) > 0 {
		return metaResp{}, protocolErrorf("bad VALUE line %q", line)
	}
	return metaResp{code: codeValue, key: key, flags: uint32(f), size: int(n), cas: c}, nil
}

// split4 takes four space-led tokens off b (see nextToken).
func split4(b []byte) (t1, t2, t3, t4, rest []byte) {
	t1, b = nextToken(b)
	t2, b = nextToken(b)
	t3, b = nextToken(b)
	t4, rest = nextToken(b)
	return
}

// serverReply turns a line that is not a meta status into an error.
func serverReply(line []byte) error {
	switch {
	case bytes.HasPrefix(line, []byte("SERVER_ERROR")):
		return fmt.Errorf("%w: %s", ErrServerError, bytes.TrimSpace(line[len("SERVER_ERROR"):]))
	case bytes.HasPrefix(line, []byte("CLIENT_ERROR")):
		return fmt.Errorf("%w: %s", ErrClientError, bytes.TrimSpace(line[len("CLIENT_ERROR"):]))
	case string(line) == "ERROR":
		return fmt.Errorf("%w: ERROR (unknown command)", ErrClientError)
	}
	return protocolErrorf("unexpected response %q", line)
}

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// nextToken splits b after a single leading space into the token up to the
// next space and the rest (which starts with that space, or is empty).
func nextToken(b []byte) (tok, rest []byte) {
	if len(b) == 0 || b[0] != ' ' {
		return nil, b
	}
	b = b[1:]
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}

// parseUint parses a non-empty decimal that fits in bits bits.
func parseUint(b []byte, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if bits < 64 && n >= 1<<bits {
		return 0, false
	}
	return n, true
}
