# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The address and route plan of a checked Topo: one /30 per router link and
one /24 per host; per-prefix next hops by shortest path with a deterministic
tie-break, then the seeded asymmetry knob, then the file's explicit
overrides. Pure: fills topo.ifaces, linknets, addr_of, owner and rtab."""
import ipaddress
import random

from . import TopoError, natkey


def plan_addresses(topo, link_net):
	"""Link k: link_net + 4k as a /30 (.1 first router, .2 second);
	host j (1-based, file order): 10.1.j.0/24, .1 the access router
	(or the peer host of a direct cable), .2 the host."""
	topo.ifaces = {n: {} for n in list(topo.routers) + list(topo.hosts)}
	topo.linknets = []	# (prefix, set of attached routers)
	for k, (a, b) in enumerate(topo.links):
		net = ipaddress.ip_network((int(link_net.network_address) + 4 * k, 30))
		topo.ifaces[a]["to-" + b] = dict(addr=str(net[1]), prefix=str(net), peer=b,
						 peer_if="to-" + a, peer_addr=str(net[2]))
		topo.ifaces[b]["to-" + a] = dict(addr=str(net[2]), prefix=str(net), peer=a,
						 peer_if="to-" + b, peer_addr=str(net[1]))
		topo.linknets.append((str(net), {a, b}))
	for j, (name, h) in enumerate(topo.hosts.items(), 1):
		if h["at"] is None:
			continue	# the far end of a direct cable; done by its peer
		net = ipaddress.ip_network("10.1.%d.0/24" % j)
		at = h["at"]
		at_if = "eth0" if at in topo.hosts else "to-" + name
		topo.ifaces[name]["eth0"] = dict(addr=str(net[2]), prefix=str(net), peer=at,
						 peer_if=at_if, peer_addr=str(net[1]))
		topo.ifaces[at][at_if] = dict(addr=str(net[1]), prefix=str(net), peer=name,
					      peer_if="eth0", peer_addr=str(net[2]))
	topo.addr_of = {n: i["eth0"]["addr"] for n, i in topo.ifaces.items() if n in topo.hosts}
	topo.owner = {i["addr"]: n for n, ifs in topo.ifaces.items() for i in ifs.values()}


def gw(topo, r, n):
	"""Address of neighbour n on its link with r."""
	for i in topo.ifaces[r].values():
		if i["peer"] == n:
			return i["peer_addr"]
	raise KeyError((r, n))


def _groups(topo):
	"""Destination groups: (name, prefixes, attached routers)."""
	g = [("link:" + p, [p], att) for p, att in topo.linknets]
	for name, h in topo.hosts.items():
		at = h["at"] if h["at"] in topo.routers else None
		if at is None:
			continue	# direct cable: no router routes to it
		g.append(("host:" + name, [topo.ifaces[name]["eth0"]["prefix"]] +
			  [str(p) for p in h["anyip"]], {at}))
	return g


def _walk_ok(topo, nh, att, dist, stretch):
	"""True if next hops nh (router -> router) reach att from every router
	without loops and within dist + stretch hops."""
	for r in topo.routers:
		cur, n = r, 0
		while cur not in att:
			cur, n = nh[cur], n + 1
			if n > dist[r] + stretch:
				return False
	return True


def _next_hops(topo, att, order, rng):
	"""router -> next-hop router towards the routers att: shortest paths,
	ties to the naturally-smallest neighbour; then the asym knob."""
	dist = topo.bfs(sorted(att))
	nh = {}
	for r in order:
		if r not in att:
			nh[r] = min((n for n in topo.adj[r] if dist[n] == dist[r] - 1), key=natkey)
	if rng:
		for r in order:
			if r in att or rng.random() >= topo.asym[1]:
				continue
			alts = sorted((n for n in topo.adj[r] if n != nh[r] and dist[n] <= dist[r]),
				      key=natkey)
			if not alts:
				continue
			old, nh[r] = nh[r], rng.choice(alts)
			if not _walk_ok(topo, nh, att, dist, 2):
				nh[r] = old
	return nh


def plan_routes(topo):
	"""topo.rtab[router][prefix] = next-hop router. Shortest paths, ties to
	the naturally-smallest neighbour; then the asym knob; then overrides."""
	topo.rtab = {r: {} for r in topo.routers}
	rng = random.Random(topo.asym[0]) if topo.asym else None
	order = sorted(topo.routers, key=natkey)
	groups = _groups(topo)
	for gname, prefixes, att in groups:
		nh = _next_hops(topo, att, order, rng)
		for p in prefixes:
			for r, n in nh.items():
				topo.rtab[r][p] = n
	pfx_group = {p: (g, att) for g, ps, att in groups for p in ps}
	for r, target, via in topo.overrides:
		pfx = ([topo.ifaces[target]["eth0"]["prefix"]] +
		       [str(p) for p in topo.hosts[target]["anyip"]]
		       if target in topo.hosts else [str(ipaddress.ip_network(target))])
		for p in pfx:
			topo.rtab[r][p] = via
			if p in pfx_group:
				att = pfx_group[p][1]
				nh = {x: t[p] for x, t in topo.rtab.items() if x not in att}
				if not _walk_ok(topo, nh, att, {x: len(topo.routers) for x in nh}, 0):
					raise TopoError("%s: route %s to %s via %s makes a routing loop"
							% (topo.path, r, target, via))
