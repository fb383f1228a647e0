package fault

// KindProcessKill kills the memcached process with SIGKILL and starts it
// again when the fault ends: its cache is cold after recovery. Local stack
// only; no toxic (the process injector makes it).
const KindProcessKill Kind = "process_kill"

// ProcessKill is the parameters of KindProcessKill: none.
type ProcessKill struct{}

func (*ProcessKill) Kind() Kind      { return KindProcessKill }
func (*ProcessKill) fields() []field { return nil }
