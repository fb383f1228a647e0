package driver

// Exported for tests.
var (
	OursErr       = oursErr
	GomemcacheErr = gomemcacheErr
)
