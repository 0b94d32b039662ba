package libnet

import (
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The ruleset lives in one table, inet berth:
//
//	chain forward      filter hook forward:   ct state established,related accept
//	                                          ct status dnat accept
//	                                          iifname B jump n-NET; oifname B jump n-NET   (per network)
//	chain n-NET        regular, per network:  iifname B oifname B accept
//	                                          iifname B oifname @bridges drop            (isolation)
//	                                          internal: iifname B drop; oifname B drop
//	                                          else:     iifname B accept; oifname B drop
//	chain postrouting  nat hook postrouting:  per network: saddr SUBNET oifname != B masquerade,
//	                                          oifname B saddr 127.0.0.0/8 masquerade (host loopback DNAT),
//	                                          oifname B saddr SUBNET ct status dnat masquerade (hairpin)
//	chain prerouting   nat hook prerouting:   fib daddr type local jump ports
//	chain output       nat hook output:       fib daddr type local jump ports
//	chain ports        regular:               per published port: [daddr H] l4proto dport P dnat to C:Q
//	set bridges        ifname:                every berth bridge
//
// Every rule carries a comment naming its owner ("berth net=NAME br=B fp=HASH" or
// "berth ctr=ID if=IFNAME port=PROTO/HOSTIP/PORT") so teardown and prune find rules by owner
// after a crash, and `nft list ruleset` shows whose they are.
const (
	tableName  = "berth"
	bridgesSet = "bridges"
	portsChain = "ports"
	// ipsDstNAT is IPS_DST_NAT of enum ip_conntrack_status.
	ipsDstNAT = 1 << 5
)

var nftTable = &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}

func baseChains() (fwd, post, pre, out, ports *nftables.Chain) {
	accept := nftables.ChainPolicyAccept
	fwd = &nftables.Chain{Name: "forward", Table: nftTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	post = &nftables.Chain{Name: "postrouting", Table: nftTable, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}
	pre = &nftables.Chain{Name: "prerouting", Table: nftTable, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest}
	out = &nftables.Chain{Name: "output", Table: nftTable, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest}
	ports = &nftables.Chain{Name: portsChain, Table: nftTable}
	return
}

func bridgesSetDef() *nftables.Set {
	// Host byte order is what nft itself records for ifname keys; without it `nft list`
	// prints the elements as "".
	return &nftables.Set{Table: nftTable, Name: bridgesSet, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
}

func netChain(name string) *nftables.Chain {
	return &nftables.Chain{Name: "n-" + name, Table: nftTable}
}

// ensureBase creates the table with its base chains, set and fixed rules in one atomic
// batch when the table is missing. Callers hold the rules lock.
func ensureBase(c *nftables.Conn) error {
	if _, err := c.ListTableOfFamily(tableName, nftables.TableFamilyINet); err == nil {
		return nil
	}
	fwd, post, pre, out, ports := baseChains()
	c.AddTable(nftTable)
	for _, ch := range []*nftables.Chain{fwd, post, pre, out, ports} {
		c.AddChain(ch)
	}
	if err := c.AddSet(bridgesSetDef(), nil); err != nil {
		return fmt.Errorf("add nftables set %s: %w", bridgesSet, err)
	}
	base := comment("berth base")
	c.AddRule(&nftables.Rule{Table: nftTable, Chain: fwd, UserData: base, Exprs: concat(
		ctStateEstablished(), verdict(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: nftTable, Chain: fwd, UserData: base, Exprs: concat(
		ctStatusDNAT(), verdict(expr.VerdictAccept))})
	for _, ch := range []*nftables.Chain{pre, out} {
		c.AddRule(&nftables.Rule{Table: nftTable, Chain: ch, UserData: base, Exprs: concat(
			fibLocal(), jump(portsChain))})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("create nftables table inet %s: %w", tableName, err)
	}
	return nil
}

// networkFingerprint changes whenever anything the network's rules depend on changes, so
// rules left by an older network of the same name are replaced rather than trusted.
func networkFingerprint(n Network) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%v|%v|", n.Interface, n.Driver, n.Internal, n.IPv6)
	for _, s := range n.Subnets {
		fmt.Fprintf(h, "%s,", s.Subnet)
	}
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

func netComment(n Network) string {
	return fmt.Sprintf("berth net=%s br=%s fp=%s", n.Name, n.Interface, networkFingerprint(n))
}

// ensureNetworkRules installs n's rules unless rules with the same fingerprint are there.
// Rules from an older network of that name are replaced in the same atomic batch.
func ensureNetworkRules(n Network) error {
	return editRules(true, func(c *nftables.Conn) error { return addNetworkRulesOn(c, n) })
}

func addNetworkRulesOn(c *nftables.Conn, n Network) error {
	want := netComment(n)
	fwd, post, _, _, _ := baseChains()
	rules, err := listRules(c, fwd)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if ruleComment(r) == want {
			return nil
		}
	}
	if err := queueNetworkRemoval(c, n.Name); err != nil {
		return err
	}

	subnets, err := networkSubnets(n)
	if err != nil {
		return err
	}
	br := n.Interface
	ud := comment(want)
	nc := netChain(n.Name)
	c.AddChain(nc)
	if err := c.SetAddElements(bridgesSetDef(), []nftables.SetElement{{Key: ifnameKey(br)}}); err != nil {
		return fmt.Errorf("add %s to nftables set: %w", br, err)
	}
	add := func(ch *nftables.Chain, e ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: nftTable, Chain: ch, UserData: ud, Exprs: concat(e...)})
	}
	add(fwd, ifname(expr.MetaKeyIIFNAME, br, true), jump(nc.Name))
	add(fwd, ifname(expr.MetaKeyOIFNAME, br, true), jump(nc.Name))
	add(nc, ifname(expr.MetaKeyIIFNAME, br, true), ifname(expr.MetaKeyOIFNAME, br, true), verdict(expr.VerdictAccept))
	add(nc, ifname(expr.MetaKeyIIFNAME, br, true), lookupOIF(bridgesSet), verdict(expr.VerdictDrop))
	if n.Internal {
		add(nc, ifname(expr.MetaKeyIIFNAME, br, true), verdict(expr.VerdictDrop))
		add(nc, ifname(expr.MetaKeyOIFNAME, br, true), verdict(expr.VerdictDrop))
	} else {
		add(nc, ifname(expr.MetaKeyIIFNAME, br, true), verdict(expr.VerdictAccept))
		add(nc, ifname(expr.MetaKeyOIFNAME, br, true), verdict(expr.VerdictDrop))
		for _, s := range subnets {
			add(post, saddrIn(s), ifname(expr.MetaKeyOIFNAME, br, false), masq())
			add(post, ifname(expr.MetaKeyOIFNAME, br, true), saddrIn(s), ctStatusDNAT(), masq())
		}
		add(post, ifname(expr.MetaKeyOIFNAME, br, true), saddrIn(&net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}), masq())
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add nftables rules for network %s: %w", n.Name, err)
	}
	return nil
}

// networkSubnets returns the parsed subnets the network's rules cover: IPv4 ones always,
// IPv6 ones when the network has IPv6 enabled.
func networkSubnets(n Network) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range n.Subnets {
		sn, err := ParseSubnet(s.Subnet)
		if err != nil {
			return nil, err
		}
		if IsIPv6(sn) && !n.IPv6 {
			continue
		}
		out = append(out, sn)
	}
	return out, nil
}

// queueNetworkRemoval queues deletion of every rule, chain and set element of network name
// into c's batch; the caller flushes.
func queueNetworkRemoval(c *nftables.Conn, name string) error {
	fwd, post, _, _, _ := baseChains()
	prefix := "berth net=" + name + " "
	var bridges []string
	for _, ch := range []*nftables.Chain{fwd, post} {
		rules, err := listRules(c, ch)
		if err != nil {
			return err
		}
		if _, err := deleteMatching(c, rules, func(cm string) bool {
			if !strings.HasPrefix(cm, prefix) {
				return false
			}
			if br := commentField(cm, "br"); br != "" && !contains(bridges, br) {
				bridges = append(bridges, br)
			}
			return true
		}); err != nil {
			return err
		}
	}
	if _, err := c.ListChain(nftTable, netChain(name).Name); err == nil {
		c.FlushChain(netChain(name))
		c.DelChain(netChain(name))
	}
	if len(bridges) == 0 {
		return nil
	}
	// Deleting an element that is not there fails the whole batch, so delete only those
	// present.
	set, err := c.GetSetByName(nftTable, bridgesSet)
	if err != nil {
		return fmt.Errorf("find nftables set %s: %w", bridgesSet, err)
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		return fmt.Errorf("list nftables set %s: %w", bridgesSet, err)
	}
	for _, br := range bridges {
		key := ifnameKey(br)
		for _, e := range elems {
			if string(e.Key) != string(key) {
				continue
			}
			if err := c.SetDeleteElements(bridgesSetDef(), []nftables.SetElement{{Key: key}}); err != nil {
				return fmt.Errorf("remove %s from nftables set: %w", br, err)
			}
			break
		}
	}
	return nil
}

// removeNetworkRules deletes network name's rules; a missing table or rule is success.
func removeNetworkRules(name string) error {
	return editRules(false, func(c *nftables.Conn) error {
		if err := queueNetworkRemoval(c, name); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove nftables rules of network %s: %w", name, err)
		}
		return nil
	})
}

// portTarget is one published port resolved to the container address it goes to.
type portTarget struct {
	ifname string
	m      PortMapping
	ctr    net.IP
}

func portComment(id string, t portTarget, hostPort uint16) string {
	return fmt.Sprintf("berth ctr=%s if=%s port=%s/%s/%d", id, t.ifname, t.m.Protocol, t.m.HostIP, hostPort)
}

// addPortRules installs DNAT rules for a container's published ports after checking that
// no other container already publishes the same host port. Callers hold no lock.
func addPortRules(id string, targets []portTarget) error {
	if len(targets) == 0 {
		return nil
	}
	return editRules(true, func(c *nftables.Conn) error { return addPortRulesOn(c, id, targets) })
}

func addPortRulesOn(c *nftables.Conn, id string, targets []portTarget) error {
	_, _, _, _, ports := baseChains()
	existing, err := listRules(c, ports)
	if err != nil {
		return err
	}
	// Rules this container left on these interfaces (a start killed before its cleanup)
	// are replaced, not doubled.
	var ifnames []string
	for _, t := range targets {
		ifnames = append(ifnames, t.ifname)
	}
	if _, err := deleteMatching(c, existing, containerRules(id, ifnames)); err != nil {
		return err
	}
	for _, t := range targets {
		n := int(max(t.m.Range, 1))
		for i := 0; i < n; i++ {
			hp := t.m.HostPort + uint16(i)
			for _, r := range existing {
				if owner, ok := portClash(ruleComment(r), t.m.Protocol, t.m.HostIP, hp); ok && owner != id {
					return errdefs.Newf(errdefs.ErrInUse, "Bind for %s failed: port is already allocated (published by container %.12s)", PortName(t.m.Protocol, t.m.HostIP, hp), owner)
				}
			}
			ud := comment(portComment(id, t, hp))
			for _, e := range dnatExprs(t.m.Protocol, t.m.HostIP, hp, t.ctr, t.m.ContainerPort+uint16(i)) {
				c.AddRule(&nftables.Rule{Table: nftTable, Chain: ports, UserData: ud, Exprs: e})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add port rules for container %s: %w", id, err)
	}
	return nil
}

// portClash reports whether an existing rule comment publishes proto/hostIP/port in a way
// that overlaps with the asked one, and whose container it is.
func portClash(cm, proto, hostIP string, port uint16) (string, bool) {
	p := commentField(cm, "port")
	if p == "" {
		return "", false
	}
	parts := strings.Split(p, "/")
	if len(parts) != 3 || parts[0] != proto || parts[2] != strconv.Itoa(int(port)) {
		return "", false
	}
	if parts[1] != "" && hostIP != "" && parts[1] != hostIP {
		return "", false
	}
	return commentField(cm, "ctr"), true
}

// dnatExprs returns one rule per address family the mapping applies to.
func dnatExprs(proto, hostIP string, hostPort uint16, ctr net.IP, ctrPort uint16) [][]expr.Any {
	v4 := ctr.To4() != nil
	var hip net.IP
	if hostIP != "" {
		hip = net.ParseIP(hostIP)
		if hip.IsUnspecified() {
			hip = nil
		}
		if (hip.To4() != nil || hostIP == "0.0.0.0") != v4 {
			return nil // the mapping is for the other family
		}
	}
	fam, addr := byte(unix.NFPROTO_IPV4), ctr.To4()
	if !v4 {
		fam, addr = unix.NFPROTO_IPV6, ctr.To16()
	}
	e := concat(nfproto(fam))
	if hip != nil {
		e = append(e, daddrEq(hip)...)
	}
	e = append(e, l4proto(proto)...)
	e = append(e, dport(hostPort)...)
	e = append(e,
		&expr.Immediate{Register: 1, Data: addr},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ctrPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: uint32(fam), RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return [][]expr.Any{e}
}

// removeContainerRules deletes the port rules of container id on the given interfaces
// (all of its rules when ifnames is nil).
func removeContainerRules(id string, ifnames []string) error {
	return editRules(false, func(c *nftables.Conn) error {
		_, _, _, _, ports := baseChains()
		rules, err := listRules(c, ports)
		if err != nil {
			return err
		}
		n, err := deleteMatching(c, rules, containerRules(id, ifnames))
		if err != nil || n == 0 {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove port rules of container %s: %w", id, err)
		}
		return nil
	})
}

// containerRules matches the comments of container id's port rules on the given
// interfaces (on every interface when ifnames is nil).
func containerRules(id string, ifnames []string) func(cm string) bool {
	return func(cm string) bool {
		return commentField(cm, "ctr") == id && (ifnames == nil || contains(ifnames, commentField(cm, "if")))
	}
}

// pruneRules removes port rules of containers not kept and rules of networks not kept.
func pruneRules(keepContainer func(string) bool, keepNetwork func(string) bool) error {
	return editRules(false, func(c *nftables.Conn) error { return pruneRulesOn(c, keepContainer, keepNetwork) })
}

func pruneRulesOn(c *nftables.Conn, keepContainer func(string) bool, keepNetwork func(string) bool) error {
	fwd, _, _, _, ports := baseChains()
	rules, err := listRules(c, ports)
	if err != nil {
		return err
	}
	if _, err := deleteMatching(c, rules, func(cm string) bool {
		id := commentField(cm, "ctr")
		return id != "" && !keepContainer(id)
	}); err != nil {
		return err
	}
	rules, err = listRules(c, fwd)
	if err != nil {
		return err
	}
	var gone []string
	for _, r := range rules {
		if name := commentField(ruleComment(r), "net"); name != "" && !keepNetwork(name) && !contains(gone, name) {
			gone = append(gone, name)
		}
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list nftables chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name != tableName || !strings.HasPrefix(ch.Name, "n-") {
			continue
		}
		if name := strings.TrimPrefix(ch.Name, "n-"); !keepNetwork(name) && !contains(gone, name) {
			gone = append(gone, name)
		}
	}
	for _, name := range gone {
		if err := queueNetworkRemoval(c, name); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("prune nftables rules: %w", err)
	}
	return nil
}

// TaggedRules lists the comments of every rule in berth's table that names container id
// (or every berth rule when id is ""). It lets tests and diagnostics see what is installed.
func TaggedRules(id string) ([]string, error) {
	c, err := openNFT()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	if _, err := c.ListTableOfFamily(tableName, nftables.TableFamilyINet); err != nil {
		return nil, nil
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != tableName {
			continue
		}
		rules, err := listRules(c, ch)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			cm := ruleComment(r)
			if id == "" && cm != "berth base" || id != "" && commentField(cm, "ctr") == id {
				out = append(out, ch.Name+": "+cm)
			}
		}
	}
	return out, nil
}

// editRules runs fn on one connection under the rules lock; fn queues its changes and
// flushes them. With create the table is made first if missing; without it a missing
// table means there is nothing to edit, and fn does not run.
func editRules(create bool, fn func(c *nftables.Conn) error) error {
	unlock, err := lockRules()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := openNFT()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	if create {
		if err := ensureBase(c); err != nil {
			return err
		}
	} else if _, err := c.ListTableOfFamily(tableName, nftables.TableFamilyINet); err != nil {
		return nil
	}
	return fn(c)
}

func listRules(c *nftables.Conn, ch *nftables.Chain) ([]*nftables.Rule, error) {
	rules, err := c.GetRules(nftTable, ch)
	if err != nil {
		return nil, fmt.Errorf("list nftables rules of %s: %w", ch.Name, err)
	}
	return rules, nil
}

// deleteMatching queues the deletion of the rules whose comment match accepts and says
// how many it queued.
func deleteMatching(c *nftables.Conn, rules []*nftables.Rule, match func(cm string) bool) (int, error) {
	n := 0
	for _, r := range rules {
		if !match(ruleComment(r)) {
			continue
		}
		if err := c.DelRule(r); err != nil {
			return n, fmt.Errorf("delete nftables rule: %w", err)
		}
		n++
	}
	return n, nil
}

// openNFT opens one netlink socket for all of a call's requests; by default the library
// dials a new socket per request, which costs more than the requests themselves.
func openNFT() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("open nftables: %w", err)
	}
	return c, nil
}

func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// commentField returns the value of key=value in a rule comment.
func commentField(cm, key string) string {
	if !strings.HasPrefix(cm, "berth ") {
		return ""
	}
	for _, f := range strings.Fields(cm) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifnameKey(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func ifname(key expr.MetaKey, name string, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameKey(name)},
	}
}

func lookupOIF(set string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: set},
	}
}

func nfproto(fam byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}},
	}
}

func saddrIn(n *net.IPNet) []expr.Any {
	fam, off, ln, ip := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4), n.IP.To4()
	if ip == nil {
		fam, off, ln, ip = unix.NFPROTO_IPV6, 8, 16, n.IP.To16()
	}
	mask := []byte(n.Mask)
	if len(mask) != int(ln) {
		ones, _ := n.Mask.Size()
		mask = net.CIDRMask(ones, int(ln)*8)
	}
	masked := make([]byte, ln)
	for i := range masked {
		masked[i] = ip[i] & mask[i]
	}
	return concat(nfproto(fam), []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: ln},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: ln, Mask: mask, Xor: make([]byte, ln)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: masked},
	})
}

func daddrEq(ip net.IP) []expr.Any {
	if v4 := ip.To4(); v4 != nil {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v4},
		}
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To16()},
	}
}

func l4proto(proto string) []expr.Any {
	p := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		p = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

func ctStateEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func ctStatusDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }
