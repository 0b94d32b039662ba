// Package libnet gives containers their networks: bridges, veth pairs and macvlan links via
// netlink, addresses and routes inside a network namespace given by path, NAT, published
// ports and isolation via nftables, and the pure arithmetic (address allocation, port specs)
// the engine uses to decide what to ask for. It knows nothing of containers beyond an ID and
// never touches the state database: the engine records intent and passes it in.
//
// The kernel objects it makes say whose they are, so a crashed process's leftovers can be
// found without any record: host-side veths are named vb<9 characters of the ID>_<n> and
// carry the container ID as their alias; bridges carry "berth:<network>" as theirs; every
// nftables rule in table inet berth carries a comment naming its network or container (the
// layout is described in nft_linux.go). [Prune] removes what the caller does not keep.
//
// Life of a container's network: [NewNetNS], [EnsureNetwork] for each network, [Setup];
// at the end [Release] (or [Teardown] and [RemoveNetNS]); [RemoveNetwork] when a network
// has no containers left. Setup and Teardown of a single attachment serve network connect
// and disconnect on a running container.
package libnet
