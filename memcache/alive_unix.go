//go:build unix

package memcache

import (
	"syscall"
)

// idleAlive reports whether an idle connection is still usable: a
// non-blocking peek finds neither data nor end of stream. (An idle
// connection holds no buffer; exec destroyed any whose buffer held more.)
// It makes one recv syscall and never blocks.
func (cn *conn) idleAlive() bool {
	sc, ok := cn.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [1]byte
	// Control, not Read: RawConn.Read fails with os.ErrDeadlineExceeded
	// once the last operation's deadline has passed, which is always the
	// case for an idle connection, and would condemn every one of them.
	err = rc.Control(func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	})
	return err == nil && alive
}
