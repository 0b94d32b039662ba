// Package dns is the per-network name server containers on a user-defined network query: it
// answers A, AAAA and PTR questions for the names in the network's hosts file (one container
// per line, "IP name alias..."), with or without the [SearchDomain] suffix, and forwards
// every other question to the host's resolvers, in the spirit of aardvark-dns.
//
// It runs as a detached re-exec of berth's own binary ([Start], [Stop]) only while the
// network has running containers, and exits by itself once the hosts file stays missing or
// empty for a moment, so a crashed engine never leaves one running. It owns the files
// dns.pid, dns.lock and dns.log in the directory it is given and only reads hosts there; it
// never writes the hosts file, never touches netlink, nftables or the state database.
package dns
