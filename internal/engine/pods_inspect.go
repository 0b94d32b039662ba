package engine

import (
	"context"
	"time"
)

// PodInspect is `pod inspect`'s output for one pod (podman's shape).
type PodInspect struct {
	ID               string `json:"Id"`
	Name             string
	Created          time.Time
	ExitPolicy       string
	State            string
	Hostname         string
	Labels           map[string]string
	CreateInfra      bool
	InfraContainerID string          `json:",omitempty"`
	InfraConfig      *PodInfraConfig `json:",omitempty"`
	SharedNamespaces []string        `json:",omitempty"`
	NumContainers    int
	Containers       []PodContainerRef
}

// PodInfraConfig is what the pod's infra container was configured with.
type PodInfraConfig struct {
	PortBindings map[string][]PortBinding
	HostNetwork  bool
	DNSServer    []string `json:",omitempty"`
	DNSSearch    []string `json:",omitempty"`
	DNSOption    []string `json:",omitempty"`
	HostAdd      []string `json:",omitempty"`
	Networks     []string `json:",omitempty"`
	NetworkMode  string   `json:",omitempty"`
	InfraImage   string
	InfraCommand []string `json:",omitempty"`
	Userns       string   `json:"userns"`
}

// PodContainerRef is one container of a pod in PodInspect.
type PodContainerRef struct {
	ID    string `json:"Id"`
	Name  string
	State string
}

// InspectPod describes a pod and its containers.
func (e *Engine) InspectPod(ctx context.Context, ref string) (*PodInspect, error) {
	p, cs, err := e.podAndContainers(ctx, ref)
	if err != nil {
		return nil, err
	}
	o := p.Options
	j := &PodInspect{ID: p.ID, Name: p.Name, Created: p.Created, ExitPolicy: o.ExitPolicy, State: PodState(cs),
		Labels: o.Labels, CreateInfra: !o.NoInfra, InfraContainerID: p.InfraID, SharedNamespaces: p.Share(),
		NumContainers: len(cs), Containers: []PodContainerRef{}}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	if p.Shares(ShareUTS) {
		j.Hostname = p.Hostname()
	}
	for _, c := range cs {
		j.Containers = append(j.Containers, PodContainerRef{ID: c.ID, Name: c.Name, State: c.State})
		if !c.Infra {
			continue
		}
		ports := c.Options.Ports
		if c.Net != nil && c.Active() {
			ports = c.Net.Ports // the host ports picked at start
		}
		userns := o.UserNS
		if userns == "" {
			userns = "host"
		}
		j.InfraConfig = &PodInfraConfig{PortBindings: PortMap(ports), HostNetwork: c.Options.Network == NetworkHost,
			DNSServer: o.DNS, DNSSearch: o.DNSSearch, DNSOption: o.DNSOptions, HostAdd: o.AddHosts,
			Networks: c.NetworkNames(), NetworkMode: c.NetworkMode(), InfraImage: c.Options.Image, InfraCommand: o.InfraCommand, Userns: userns}
	}
	return j, nil
}
