package libnet

import "net"

// Network is one configured network, stored by the engine as JSON and passed back in.
type Network struct {
	Name      string            `json:"name"`
	ID        string            `json:"id"`
	Driver    string            `json:"driver"`    // "bridge" or "macvlan"
	Interface string            `json:"interface"` // bridge: its name (berth0, berth1...); macvlan: the parent
	Subnets   []Subnet          `json:"subnets"`
	Internal  bool              `json:"internal"` // no outbound route, no NAT
	IPv6      bool              `json:"ipv6"`
	DNS       bool              `json:"dns"` // name resolution between its containers (user-defined networks)
	Options   map[string]string `json:"options,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Subnet is one address range of a network.
type Subnet struct {
	Subnet  string `json:"subnet"`             // CIDR, e.g. 10.123.0.0/24
	Gateway string `json:"gateway,omitempty"`  // the host's address on the bridge
	IPRange string `json:"ip_range,omitempty"` // CIDR inside Subnet that containers get addresses from
}

// Attachment is one container's interface on one network.
type Attachment struct {
	Network Network          `json:"network"`
	IfName  string           `json:"ifname"` // eth0, eth1, ...
	IPs     []net.IPNet      `json:"ips"`
	MAC     net.HardwareAddr `json:"mac,omitempty"`
	Aliases []string         `json:"aliases,omitempty"`
}

// PortMapping is one -p [hostIP:][hostPort:]containerPort[/proto], ranges expanded by Range.
type PortMapping struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      uint16 `json:"host_port"`
	ContainerPort uint16 `json:"container_port"`
	Range         uint16 `json:"range,omitempty"` // how many consecutive ports, 0 or 1 for one
	Protocol      string `json:"protocol"`        // "tcp" or "udp"
}

// SetupOptions is everything Setup and Teardown need for one container.
type SetupOptions struct {
	ContainerID string        `json:"container_id"`
	Attachments []Attachment  `json:"attachments"`
	Ports       []PortMapping `json:"ports,omitempty"` // published on the first attachment's address
}
