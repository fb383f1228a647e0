package fault

// KindServerDown disables the server's proxies: new connections are
// refused and open ones are closed. No toxic: the injector disables them.
const KindServerDown Kind = "server_down"

// ServerDown is the parameters of KindServerDown: none.
type ServerDown struct{}

func (*ServerDown) Kind() Kind      { return KindServerDown }
func (*ServerDown) fields() []field { return nil }
