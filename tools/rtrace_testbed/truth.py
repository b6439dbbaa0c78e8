# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Ground truth from the kernel's routing tables: ask each namespace's FIB
over rtnetlink (RTM_GETROUTE, with the real incoming interface and source) and
follow it hop by hop to record the router path between hosts, then assemble
the manifest (namespaces, addresses, hosts, roles, paths) a running testbed
is described by."""
import os
import socket
import struct

from . import ROLES, natkey
from .netns import InNetns


class Rtnl:
	"""One NETLINK_ROUTE socket opened inside a namespace, for RTM_GETROUTE."""

	def __init__(self, ns):
		with InNetns(ns):
			self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
			self.ifindex = {n: i for i, n in socket.if_nameindex()}
		self.sock.bind((0, 0))
		self.ifname = {i: n for n, i in self.ifindex.items()}
		self.seq = 0

	def route_get(self, dst, src=None, iif=None):
		"""The kernel's route for dst (as if received on iif from src, when
		given): dict(type=, oif=, gw=, prefsrc=)."""
		def attr(t, v):
			return struct.pack("=HH", 4 + len(v), t) + v
		a = attr(1, socket.inet_aton(dst))			# RTA_DST
		if src:
			a += attr(2, socket.inet_aton(src))		# RTA_SRC
		if iif:
			a += attr(3, struct.pack("=I", self.ifindex[iif]))	# RTA_IIF
		rtm = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 32 if src else 0, 0, 0, 0, 0, 0, 0)
		self.seq += 1
		self.sock.send(struct.pack("=IHHII", 16 + len(rtm) + len(a), 26, 1, self.seq, 0) +
			       rtm + a)	# RTM_GETROUTE, NLM_F_REQUEST
		msg = self.sock.recv(65536)
		_, typ, _, _, _ = struct.unpack_from("=IHHII", msg)
		if typ == 2:	# NLMSG_ERROR
			err = -struct.unpack_from("=i", msg, 16)[0]
			raise OSError(err, "route get %s from %s iif %s: %s" %
				      (dst, src, iif, os.strerror(err)))
		res = dict(type=msg[16 + 7], oif=None, gw=None, prefsrc=None)
		off = 16 + 12
		while off + 4 <= len(msg):
			ln, t = struct.unpack_from("=HH", msg, off)
			v = msg[off + 4:off + ln]
			if t == 4:
				res["oif"] = self.ifname.get(struct.unpack("=I", v)[0])
			elif t == 5:
				res["gw"] = socket.inet_ntoa(v)
			elif t == 7:
				res["prefsrc"] = socket.inet_ntoa(v)
			off += (ln + 3) & ~3
		return res


def walk(topo, nl, start, dst, src):
	"""Follow the kernel FIBs from node `start` to address dst (packet source
	src; None = a router's own output lookup). Returns the path dict."""
	RTN_UNICAST, RTN_LOCAL = 1, 2
	p = dict(src=src, dst=dst, routers=[], in_addrs=[], out_addrs=[], te_addrs=[])
	node, iif = start, None
	for _ in range(64):
		r = nl[node].route_get(dst, src if iif else None, iif)
		if r["type"] == RTN_LOCAL:
			if node in topo.routers and iif:
				p["routers"].append(node)	# the router itself was the target
				p["in_addrs"].append(topo.ifaces[node][iif]["addr"])
				p["out_addrs"].append(None)
				p["te_addrs"].append(None)
			return p
		if r["type"] != RTN_UNICAST or r["oif"] not in topo.ifaces[node]:
			raise RuntimeError("walk %s -> %s: %s: route type %d oif %s" %
					   (start, dst, node, r["type"], r["oif"]))
		out = topo.ifaces[node][r["oif"]]
		if src is None:
			src = r["prefsrc"] or out["addr"]
			p["src"] = src
		if node in topo.routers:
			back = nl[node].route_get(src)	# where its ICMP errors come from
			p["routers"].append(node)
			p["in_addrs"].append(topo.ifaces[node][iif]["addr"] if iif else None)
			p["out_addrs"].append(out["addr"])
			p["te_addrs"].append(back["prefsrc"])
		elif iif:
			raise RuntimeError("walk %s -> %s: reached host %s, which does not own it" %
					   (start, dst, node))
		node, iif = out["peer"], out["peer_if"]
	raise RuntimeError("walk %s -> %s: routing loop: %s ..." %
			   (start, dst, " ".join(p["routers"][:12])))


def manifest(topo, prefix, ns):
	"""The manifest of the testbed built from topo with namespace names ns
	(node -> namespace), its paths walked in the live kernel FIBs."""
	nl = {n: Rtnl(ns[n]) for n in ns}
	hosts, routers = {}, {}
	for n, h in topo.hosts.items():
		e = topo.ifaces[n]["eth0"]
		hosts[n] = dict(ns=ns[n], addr=e["addr"], prefix=e["prefix"], roles=h["roles"],
				role=h["roles"][0], iface="eth0", gateway=e["peer_addr"], at=h["at"] or e["peer"],
				anyip=[str(p) for p in h["anyip"]], agent=h["agent"])
	for r in sorted(topo.routers, key=natkey):
		routers[r] = dict(ns=ns[r], flags=sorted(topo.routers[r]),
				  ifaces=topo.ifaces[r], addrs=sorted(i["addr"] for i in topo.ifaces[r].values()))
	paths = {}
	for a in topo.hosts:
		for b in topo.hosts:
			if a != b:
				p = walk(topo, nl, a, hosts[b]["addr"], hosts[a]["addr"])
				paths["%s>%s" % (a, b)] = dict({"from": a, "to": b}, **p)
	for s in (h for h in topo.hosts if "source" in topo.hosts[h]["roles"]):
		for r in routers:
			p = walk(topo, nl, r, hosts[s]["addr"], None)
			paths["%s>%s" % (r, s)] = dict({"from": r, "to": s}, **p)
	for x in nl.values():
		x.sock.close()
	roles = {r: [h for h in topo.hosts if r in topo.hosts[h]["roles"]] for r in ROLES}
	roles["agent"] = [h for h in topo.hosts if topo.hosts[h]["agent"]]
	return dict(version=1, prefix=prefix, id=prefix.rstrip("-"), topology=topo.path,
		    namespaces=[ns[n] for n in ns], routers=routers, hosts=hosts, roles=roles,
		    links=[dict(a=a, b=b, prefix=topo.ifaces[a]["to-" + b]["prefix"]) for a, b in topo.links],
		    addr_to_router={i["addr"]: r for r in routers for i in topo.ifaces[r].values()},
		    addr_to_host={v["addr"]: h for h, v in hosts.items()},
		    addr_of=dict({h: v["addr"] for h, v in hosts.items()},
				 **{r: v["addrs"][0] for r, v in routers.items()}),
		    paths=paths)
