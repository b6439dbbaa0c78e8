# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What goes into each namespace of a planned Topo, as text: the `ip -batch`
lines (addresses, links, routes), the `nft -f` ruleset for router flags, and
the sysctls. Pure: `up` applies these, `plan` prints them."""
import ipaddress

from . import routing


def ns_cmds(topo, name):
	"""ip -batch lines that configure namespace `name`."""
	cmds = ["link set lo up"]
	for ifn, i in sorted(topo.ifaces[name].items()):
		plen = ipaddress.ip_network(i["prefix"]).prefixlen
		cmds += ["addr add %s/%d dev %s" % (i["addr"], plen, ifn),
			 "link set %s up" % ifn]
	if name in topo.hosts:
		h = topo.hosts[name]
		cmds.append("route add default via %s" % topo.ifaces[name]["eth0"]["peer_addr"])
		cmds += ["route add local %s dev lo" % p for p in h["anyip"]]
		return cmds
	for n, h in topo.hosts.items():	# AnyIP prefixes of hosts at this router
		if h["at"] == name:
			cmds += ["route add %s via %s" % (p, topo.addr_of[n]) for p in h["anyip"]]
	for p, n in sorted(topo.rtab[name].items()):
		cmds.append("route replace %s via %s" % (p, routing.gw(topo, name, n)))
	return cmds


def nft_rules(topo, name):
	"""The nft -f text for router `name`, or None."""
	fl = topo.routers.get(name, set())
	pre, out, fwd = [], [], []
	if "drop-options" in fl:
		pre.append("ip hdrlength != 5 drop")
	if "drop-rr" in fl:
		pre.append("ip option rr exists drop")
	if "drop-ts" in fl:	# nft has no ts option match: TS first, or after a NOP
		pre += ["ip hdrlength > 5 @nh,160,8 0x44 drop",
			"ip hdrlength > 5 @nh,160,16 0x0144 drop"]
	if "silent" in fl:
		out.append("icmp type time-exceeded drop")
	if "filter-spoof" in fl:
		for ifn, i in sorted(topo.ifaces[name].items()):
			if i["peer"] in topo.hosts:
				ok = [i["peer_addr"]] + [str(p) for p in topo.hosts[i["peer"]]["anyip"]]
				fwd.append('iifname "%s" ip saddr != { %s } drop' % (ifn, ", ".join(ok)))
	chains = [(c, h, r) for c, h, r in (("opts", "prerouting", pre),
					   ("silent", "output", out),
					   ("spoof", "forward", fwd)) if r]
	if not chains:
		return None
	s = "table ip rtrace {\n"
	for c, hook, rules in chains:
		s += "\tchain %s {\n\t\ttype filter hook %s priority 0; policy accept;\n" % (c, hook)
		s += "".join("\t\t%s\n" % r for r in rules) + "\t}\n"
	return s + "}\n"


def sysctls(topo, name):
	"""(path under /proc/sys, value) for namespace `name`. Defaults are set
	before any interface exists so every veth inherits them."""
	s = [("net/ipv6/conf/all/disable_ipv6", 1), ("net/ipv6/conf/default/disable_ipv6", 1)]
	for c in ("all", "default"):
		s += [("net/ipv4/conf/%s/rp_filter" % c, 0), ("net/ipv4/conf/%s/accept_local" % c, 1),
		      ("net/ipv4/conf/%s/send_redirects" % c, 0),
		      ("net/ipv4/conf/%s/accept_redirects" % c, 0)]
	s.append(("net/ipv4/ip_forward", 1 if name in topo.routers else 0))
	if not (topo.ratelimit or "ratelimit" in topo.routers.get(name, ())):
		# ratemask 0 exempts every ICMP type from both the per-peer and the
		# global limit; icmp_msgs_per_sec=0 would *block* after the burst.
		s += [("net/ipv4/icmp_ratelimit", 0), ("net/ipv4/icmp_ratemask", 0),
		      ("net/ipv4/icmp_msgs_per_sec", 1000000), ("net/ipv4/icmp_msgs_burst", 1000000)]
	return s
