// Package vcs reads the commit a binary was built from, as the go command
// stamps it (-buildvcs, the default in a git checkout). A run records the
// commit of the binaries it ran, not whatever the checkout holds by the
// time it ends.
package vcs

import "runtime/debug"

// Revision returns the commit bi's main module was built from, and
// whether the tree had uncommitted changes then; "" when bi has no VCS
// stamp (go run, go test, -buildvcs=false, a copy of the source).
func Revision(bi *debug.BuildInfo) (rev string, modified bool) {
	if bi == nil {
		return "", false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}

// Built is Revision of this binary, when it was built from a clean tree:
// the commit its code is; "" otherwise.
func Built() string {
	bi, _ := debug.ReadBuildInfo()
	rev, modified := Revision(bi)
	if modified {
		return ""
	}
	return rev
}
