package inject

// InjectorNetem names packet loss made by netem in the network namespace
// of the compose stack's toxiproxy container (see Netem).
const InjectorNetem = "netem"
