package driver

import (
	"runtime/debug"

	"github.com/mcchaos/mcchaos/internal/vcs"
)

// moduleVersion returns the version of module path as linked into this
// binary: the dependency's version, or for the main module its VCS revision
// (with "+dirty" when modified), or "unknown".
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				d = d.Replace
			}
			return d.Version
		}
	}
	if bi.Main.Path != path {
		return "unknown"
	}
	rev, modified := vcs.Revision(bi)
	dirty := ""
	if modified {
		dirty = "+dirty"
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return rev + dirty
	}
	if bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
