// Package defaults applies documented defaults to zero Config fields.
package defaults

// Set sets *p to def when *p is the zero value.
func Set[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
