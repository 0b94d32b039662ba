package systemd

import (
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// PodInfo is what unit generation needs to know of a pod.
type PodInfo struct {
	ID, Name string
	// Infra is the infra container, which holds the pod's namespaces: the pod unit runs it.
	Infra ContainerInfo
	// Containers are the pod's other containers, one unit each.
	Containers []ContainerInfo
}

// PodUnits renders a pod's unit and one unit per container of the pod: the pod unit starts
// the infra container and wants the containers' units, each of which is bound to it (stopping
// the pod stops them). The pod keeps its recorded options, so --new is refused: a pod made
// from a unit needs a Quadlet .pod file.
func PodUnits(p PodInfo, o GenerateOptions) ([]GeneratedUnit, error) {
	if o.New {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "--new is not supported for pods: generate the units without it, or write a Quadlet .pod file")
	}
	if p.Infra.ID == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "pod %s has no infra container: its containers' units can be generated one by one", p.Name)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	ident := p.ID
	if o.UseName {
		ident = p.Name
	}
	podPrefix := "pod"
	if o.ContainerPrefix != "container" {
		podPrefix = o.ContainerPrefix + o.Separator + "pod"
	}
	name := podPrefix + o.Separator + ident + ".service"
	var units []GeneratedUnit
	var ctrNames []string
	co := o
	co.bindTo = name
	for _, c := range p.Containers {
		u, err := ContainerUnit(c, co)
		if err != nil {
			return nil, err
		}
		units = append(units, u)
		ctrNames = append(ctrNames, u.Name)
	}

	stop := o.stopTimeout(p.Infra.StopTimeout)
	t := strconv.FormatUint(uint64(stop), 10)
	exe := append([]string{o.Executable}, o.GlobalArgs...)
	infra := p.Infra.ID
	if o.UseName {
		infra = p.Infra.Name
	}
	u, unit := o.newUnit(name)
	if mounts := nonEmpty(p.Infra.Root, p.Infra.RunRoot); len(mounts) > 0 {
		unit.Add("RequiresMountsFor", JoinWords(mounts))
	}
	if len(ctrNames) > 0 {
		unit.Add("Wants", strings.Join(ctrNames, " "))
		unit.Add("Before", strings.Join(ctrNames, " "))
	}
	svc := u.Section("Service")
	svc.Add("Environment", UnitEnv+"=%n")
	for _, e := range o.Env {
		svc.Add("Environment", QuoteWord(e))
	}
	restart := o.RestartPolicy
	if restart == "" {
		restart = "on-failure"
	}
	svc.Add("Restart", restart)
	if o.RestartSec > 0 {
		svc.Add("RestartSec", strconv.FormatUint(uint64(o.RestartSec), 10))
	}
	svc.Add("TimeoutStopSec", strconv.FormatUint(uint64(stop)+60, 10))
	svc.Add("ExecStart", JoinWords(exe)+" start "+QuoteWord(infra))
	svc.Add("ExecStop", JoinWords(exe)+" stop -t "+t+" "+QuoteWord(infra))
	svc.Add("ExecStopPost", JoinWords(exe)+" stop -t "+t+" "+QuoteWord(infra))
	svc.Add("Type", "notify")
	svc.Add("NotifyAccess", "all")
	u.Section("Install").Add("WantedBy", "default.target")
	pod := GeneratedUnit{Name: name, Text: header(name, o.Version) + u.String()}
	return append([]GeneratedUnit{pod}, units...), nil
}
