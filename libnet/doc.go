// Package libnet gives containers their networks: bridges, veth pairs and macvlan links via
// netlink, addresses and routes inside a network namespace given by path, NAT, published
// ports and isolation via nftables, and the pure arithmetic (address allocation, port specs)
// the engine uses to decide what to ask for. It knows nothing of containers beyond an ID and
// never touches the state database: the engine records intent and passes it in.
package libnet
