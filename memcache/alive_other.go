//go:build !unix

package memcache

// idleAlive cannot peek without blocking on this platform; dead idle
// connections are found by the first operation that uses them. (An idle
// connection holds no buffer; exec destroyed any whose buffer held more.)
func (cn *conn) idleAlive() bool { return true }
