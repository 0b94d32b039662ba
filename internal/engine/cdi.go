package engine

import (
	"sync"

	"github.com/berth-project/berth/internal/cdi"
	"github.com/berth-project/berth/internal/errdefs"
)

// cdiRegistry reads the CDI specs of the configured directories on first use: only a
// command that names a CDI device pays for it.
type cdiRegistry struct {
	once sync.Once
	reg  *cdi.Registry
	err  error
}

// CDI returns the CDI devices the configured spec directories describe.
func (e *Engine) CDI() (*cdi.Registry, error) {
	e.cdi.once.Do(func() {
		e.cdi.reg, e.cdi.err = cdi.Open(e.Config.CDI.SpecDirs)
	})
	return e.cdi.reg, e.cdi.err
}

// checkCDIDevices refuses, before anything is recorded, CDI device names no spec provides.
func (e *Engine) checkCDIDevices(names []string) error {
	if len(names) == 0 {
		return nil
	}
	reg, err := e.CDI()
	if err != nil {
		return err
	}
	if err := reg.Check(names); err != nil {
		return errdefs.Newf(errdefs.ErrInvalid, "%v", err)
	}
	return nil
}

// parseDevices splits --device values into host device nodes and CDI device names, checking
// that some spec provides each CDI device.
func (e *Engine) parseDevices(values []string) ([]Device, []string, error) {
	var devs []Device
	var names []string
	for _, v := range values {
		if cdi.IsQualifiedName(v) {
			names = append(names, v)
			continue
		}
		d, err := ParseDevice(v)
		if err != nil {
			return nil, nil, err
		}
		devs = append(devs, d)
	}
	return devs, names, e.checkCDIDevices(names)
}
