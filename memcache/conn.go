package memcache

import (
	"bufio"
	"net"
	"strconv"
	"sync"
)

// conn is one connection to a server. It is used by one operation at a
// time (the pool hands it out exclusively) and destroyed after any error
// other than an answer (miss, not stored, CAS conflict), or when its stream
// holds bytes past the last response.
type conn struct {
	nc net.Conn
	// br and bw are lent for one operation (attach, detach): an idle
	// connection holds no buffer.
	br     *bufio.Reader
	bw     *bufio.Writer
	opaque uint32 // last opaque token sent
	// broken is set when an error left the stream in an unknown state
	// although it is one that usually does not (SERVER_ERROR mid-pipeline).
	broken bool
	// maxValue is Config.MaxValueSize: the largest VA value read.
	maxValue int
	// pooled is true while the connection sits in the pool's idle stack
	// (set before it goes there, cleared by whoever takes it; the pool's
	// mutex orders the two). It keeps server.idle honest.
	pooled bool
	// scratch receives small values that are parsed, not returned (ma's number).
	scratch [32]byte
	// iov and bufs carry a large value's writev without allocating.
	iov  [3][]byte
	bufs net.Buffers
}

// Buffer sizes of an operation in progress (20 KiB in all; gomemcache
// keeps bufio's default 4 KiB for each on every connection, idle or not). A
// response line is under 100 bytes, and values larger than a buffer are
// read and written past it, straight between the socket and the value; the
// larger read buffer takes a get-multi's stream of mid-size values in a
// quarter of the reads.
const (
	readBufSize  = 16 << 10
	writeBufSize = 4 << 10
)

// readBufs and writeBufs hold the buffers of the operations in progress,
// lent to connections by attach. Owned by each connection instead, a pool
// of 64 idle connections per server held 1.3 MiB per server, and in
// BenchmarkClients (16 goroutines, 100 KiB gets, a 4 MiB heap) the runtime
// spent twice gomemcache's CPU returning the fragmented heap to the OS.
var (
	readBufs  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

func newConn(nc net.Conn, maxValue int) *conn {
	return &conn{nc: nc, maxValue: maxValue}
}

// attach lends cn a read and a write buffer for one operation.
func (cn *conn) attach() {
	cn.br = readBufs.Get().(*bufio.Reader)
	cn.br.Reset(cn.nc)
	cn.bw = writeBufs.Get().(*bufio.Writer)
	cn.bw.Reset(cn.nc)
}

// detach gives the buffers back after an operation, dropping anything
// still buffered: exec has destroyed a connection whose stream had more.
func (cn *conn) detach() {
	cn.br.Reset(nil)
	readBufs.Put(cn.br)
	cn.bw.Reset(nil)
	writeBufs.Put(cn.bw)
	cn.br, cn.bw = nil, nil
}

// next reserves n opaque tokens and returns the first (with n = 0, the
// one the next call will reserve).
func (cn *conn) next(n int) uint32 {
	first := cn.opaque + 1
	cn.opaque += uint32(n)
	return first
}

// cmd starts a command line "<name> <key>" in the writer's free buffer.
func (cn *conn) cmd(name, key string) []byte {
	b := cn.bw.AvailableBuffer()
	b = append(b, name...)
	b = append(b, ' ')
	return append(b, key...)
}

// end appends " O<op>\r\n" and queues b for writing.
func (cn *conn) end(b []byte, op uint32) error {
	_, err := cn.bw.Write(appendEnd(b, op))
	return err
}

// appendEnd appends " O<op>\r\n" to b.
func appendEnd(b []byte, op uint32) []byte {
	b = append(b, " O"...)
	b = strconv.AppendUint(b, uint64(op), 10)
	return append(b, '\r', '\n')
}

// roundTrip flushes the queued request and reads one response, checking
// that it carries the opaque token op before reading its value. A value
// that fits in scratch is read there.
func (cn *conn) roundTrip(op uint32, scratch []byte) (metaResp, error) {
	if err := cn.bw.Flush(); err != nil {
		return metaResp{}, err
	}
	r, err := readHead(cn.br)
	if err != nil {
		return r, err
	}
	if !r.hasOpaque || r.opaque != op {
		return metaResp{}, protocolErrorf("response for opaque %d (present %t) to request %d", r.opaque, r.hasOpaque, op)
	}
	return r, readValue(cn.br, &r, cn.maxValue, scratch)
}

func (cn *conn) get(key string) (*Item, error) {
	op := cn.next(1)
	if err := cn.end(append(cn.cmd("mg", key), " v f c"...), op); err != nil {
		return nil, err
	}
	r, err := cn.roundTrip(op, nil)
	if err != nil {
		return nil, err
	}
	switch r.code {
	case codeVA:
		return &Item{Key: key, Value: r.value, Flags: r.flags, CasID: r.cas}, nil
	case codeEN:
		return nil, ErrCacheMiss
	}
	return nil, unexpected("mg", r)
}

// maxPipeline bounds the request bytes of one get-multi round trip. A
// request is written whole before its response is read; kept well under
// the kernel's socket buffers, the write can never block on a server that
// is itself blocked writing responses we are not yet reading.
const maxPipeline = 8 << 10

// getMulti asks for keys in chunks of at most maxPipeline bytes of keys and
// calls found for every hit. A chunk is one round trip of two requests:
// "mg <first key> O<token>", whose answer (HD or EN) must echo the token
// before any value is read, then one text "gets <key>...", whose VALUE lines
// name their key and come in request order, ended by END.
//
// Why not one quiet mg per key: memcached serves at most 20 requests of a
// connection per event (-R, reqs_per_event), so a pipeline of 100 mg is
// answered in 6 writes, with a yield (stat conn_yields) and a wake-up of the
// client between them; one gets is one request. In the three-server
// benchmark this made GetMulti of 100 keys at 16 goroutines 21 % faster.
func (cn *conn) getMulti(keys []string, found func(*Item)) error {
	for len(keys) > 0 {
		op := cn.next(1)
		if err := cn.end(cn.cmd("mg", keys[0]), op); err != nil {
			return err
		}
		if _, err := cn.bw.WriteString("gets"); err != nil {
			return err
		}
		n, size := 0, 0
		for n < len(keys) && size < maxPipeline {
			cn.bw.WriteByte(' ')
			if _, err := cn.bw.WriteString(keys[n]); err != nil {
				return err
			}
			size += len(keys[n]) + 1
			n++
		}
		if _, err := cn.bw.WriteString("\r\n"); err != nil {
			return err
		}
		if err := cn.readMulti(keys[:n], op, found); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// readMulti reads the answers to one getMulti chunk: the token's status,
// then VALUE lines until END. A VALUE must name one of keys after the last
// one answered; its value is read only then.
func (cn *conn) readMulti(keys []string, op uint32, found func(*Item)) error {
	r, err := cn.roundTrip(op, nil)
	if err != nil {
		return err
	}
	if r.code != codeHD && r.code != codeEN {
		return unexpected("mg", r)
	}
	next := 0 // index of the first key whose answer may still come
	for {
		r, err := readHead(cn.br)
		if err != nil {
			// SERVER_ERROR names no key: which one it answered, and
			// whether the rest of the response follows, is unknown.
			cn.broken = true
			return err
		}
		if r.code == codeEnd {
			return nil
		}
		if r.code != codeValue {
			return unexpected("gets", r)
		}
		i := next
		for i < len(keys) && string(r.key) != keys[i] { // no allocation
			i++
		}
		if i == len(keys) {
			return protocolErrorf("VALUE for key %q, not one of the %d keys asked for after the %d answered", r.key, len(keys), next)
		}
		if err := readValue(cn.br, &r, cn.maxValue, nil); err != nil {
			return err
		}
		next = i + 1
		found(&Item{Key: keys[i], Value: r.value, Flags: r.flags, CasID: r.cas})
	}
}

// store runs ms in the given mode ("" set, "E" add, "R" replace), with
// compare-and-swap when cas is true.
func (cn *conn) store(mode string, it *Item, cas bool) error {
	op := cn.next(1)
	b := cn.cmd("ms", it.Key)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(it.Value)), 10)
	b = append(b, " T"...)
	b = strconv.AppendInt(b, int64(it.Expiration), 10)
	b = append(b, " F"...)
	b = strconv.AppendUint(b, uint64(it.Flags), 10)
	if mode != "" {
		b = append(b, " M"...)
		b = append(b, mode...)
	}
	if cas {
		b = append(b, " C"...)
		b = strconv.AppendUint(b, it.CasID, 10)
	}
	b = appendEnd(b, op)
	if len(b)+len(it.Value)+2 > cn.bw.Available() && cn.bw.Buffered() == 0 {
		// A value that does not fit the buffer goes out in one writev
		// with its request line, straight from the caller's slice: one
		// system call and one segment, where copying through the buffer
		// takes two or three.
		cn.iov = [3][]byte{b, it.Value, crlf}
		cn.bufs = cn.iov[:]
		_, err := cn.bufs.WriteTo(cn.nc)
		cn.iov = [3][]byte{} // do not keep the caller's value alive
		if err != nil {
			return err
		}
	} else {
		cn.bw.Write(b)
		cn.bw.Write(it.Value)
		if _, err := cn.bw.Write(crlf); err != nil {
			return err
		}
	}
	return cn.status("ms", op)
}

var crlf = []byte("\r\n")

func (cn *conn) delete(key string) error {
	op := cn.next(1)
	if err := cn.end(cn.cmd("md", key), op); err != nil {
		return err
	}
	return cn.status("md", op)
}

// status flushes the queued request, reads a response without a value and
// maps its code: HD success, NS ErrNotStored, EX ErrCASConflict, NF and EN
// ErrCacheMiss.
func (cn *conn) status(cmd string, op uint32) error {
	r, err := cn.roundTrip(op, nil)
	if err != nil {
		return err
	}
	switch r.code {
	case codeHD:
		return nil
	case codeNS:
		return ErrNotStored
	case codeEX:
		return ErrCASConflict
	case codeNF, codeEN:
		return ErrCacheMiss
	}
	return unexpected(cmd, r)
}

// arith runs ma: increment, or decrement when decr (floored at 0 by the server).
func (cn *conn) arith(key string, delta uint64, decr bool) (uint64, error) {
	op := cn.next(1)
	b := append(cn.cmd("ma", key), " v D"...)
	b = strconv.AppendUint(b, delta, 10)
	if decr {
		b = append(b, " MD"...)
	}
	if err := cn.end(b, op); err != nil {
		return 0, err
	}
	r, err := cn.roundTrip(op, cn.scratch[:])
	if err != nil {
		return 0, err
	}
	switch r.code {
	case codeVA:
		n, ok := parseUint(r.value, 64)
		if !ok {
			return 0, protocolErrorf("ma returned non-numeric value %q", r.value)
		}
		return n, nil
	case codeNF:
		return 0, ErrCacheMiss
	}
	return 0, unexpected("ma", r)
}

func (cn *conn) touch(key string, seconds int32) error {
	op := cn.next(1)
	b := append(cn.cmd("mg", key), " T"...)
	if err := cn.end(strconv.AppendInt(b, int64(seconds), 10), op); err != nil {
		return err
	}
	return cn.status("mg", op)
}

func unexpected(cmd string, r metaResp) error {
	return protocolErrorf("unexpected response code %d to %s", r.code, cmd)
}
