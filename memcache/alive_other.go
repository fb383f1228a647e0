//go:build !unix

package memcache

// idleAlive cannot peek without blocking on this platform; dead idle
// connections are found by the first operation that uses them.
func (cn *conn) idleAlive() bool { return cn.br == nil || cn.br.Buffered() == 0 }
