package runtime

import (
	"os"
	"os/signal"
)

func signalNotify(c chan os.Signal) { signal.Notify(c) }
func signalStop(c chan os.Signal)   { signal.Stop(c) }
