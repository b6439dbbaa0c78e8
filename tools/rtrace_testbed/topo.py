# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The topology file (format: tests/topos/README.md): parse it line by line,
check it as a whole (names, cables, AnyIP prefixes, overrides, a connected
router graph), then have routing plan its addresses and routes. Pure: reads
the file, touches nothing else."""
import ipaddress
import os
import re

from . import ROLES, TopoError, natkey
from . import routing

LINK_NET = ipaddress.ip_network("10.0.0.0/16")	# router-router /30s
HOST_NET = ipaddress.ip_network("10.1.0.0/16")	# one /24 per host
FLAGS = ("drop-options", "drop-rr", "drop-ts", "silent", "filter-spoof", "ratelimit")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,11}$")


class Topo:
	"""The parsed topology file plus the address and route plan."""

	def __init__(self, path):
		self.path = os.path.abspath(path)
		self.routers = {}	# name -> set of flags
		self.links = []		# (a, b) in file order
		self.hosts = {}		# name -> dict(roles, at, anyip, agent, line)
		self.overrides = []	# (lineno, router, target, via)
		self.asym = None	# (seed, share)
		self.ratelimit = False
		self.adj = {}		# router -> set of neighbour routers
		with open(path) as f:
			for no, line in enumerate(f, 1):
				words = line.split("#", 1)[0].split()
				if words:
					try:
						self._parse(words)
					except TopoError as e:
						raise TopoError("%s:%d: %s" % (path, no, e)) from None
					except (ValueError, IndexError):
						raise TopoError("%s:%d: cannot parse '%s'" %
								(path, no, line.strip())) from None
		self._check()
		routing.plan_addresses(self, LINK_NET)
		routing.plan_routes(self)

	def _name(self, w):
		if not NAME_RE.match(w):
			raise TopoError("bad name '%s' (a-z, 0-9, _, at most 12 chars)" % w)
		if w in self.routers or w in self.hosts:
			raise TopoError("'%s' defined twice" % w)
		return w

	def _parse(self, w):
		kw = w[0]
		if kw == "router":
			bad = [f for f in w[2:] if f not in FLAGS]
			if bad:
				raise TopoError("unknown router flag(s) %s (know: %s)" %
						(bad, " ".join(FLAGS)))
			self.routers[self._name(w[1])] = set(w[2:])
			self.adj[w[1]] = set()
		elif kw == "link":
			a, b = w[1], w[2]
			if len(w) != 3 or a == b or a not in self.routers or b not in self.routers:
				raise TopoError("link needs two different defined routers")
			if b in self.adj[a]:
				raise TopoError("duplicate link %s %s" % (a, b))
			self.links.append((a, b))
			self.adj[a].add(b)
			self.adj[b].add(a)
		elif kw == "host":
			self._parse_host(w)
		elif kw == "route":
			if len(w) != 6 or w[2] != "to" or w[4] != "via":
				raise TopoError("usage: route ROUTER to HOST|CIDR via ROUTER")
			self.overrides.append((w[1], w[3], w[5]))
		elif kw == "asym":
			if len(w) not in (3, 5) or w[1] != "seed" or (len(w) == 5 and w[3] != "share"):
				raise TopoError("usage: asym seed N [share P]")
			share = float(w[4]) if len(w) == 5 else 0.5
			if not 0 < share <= 1:
				raise TopoError("asym share must be in (0, 1]")
			self.asym = (int(w[2]), share)
		elif kw == "ratelimit":
			if len(w) != 2 or w[1] not in ("on", "off"):
				raise TopoError("usage: ratelimit on|off")
			self.ratelimit = w[1] == "on"
		else:
			raise TopoError("unknown keyword '%s'" % kw)

	def _parse_host(self, w):
		h = dict(roles=[], at=None, anyip=[], agent=False)
		name = self._name(w[1])
		opts = iter(w[2:])
		for opt in opts:
			if opt.startswith("role="):
				h["roles"] = opt[5:].split(",")
			elif opt.startswith("anyip="):
				h["anyip"] += [ipaddress.ip_network(p) for p in opt[6:].split(",")]
			elif opt == "agent":
				h["agent"] = True
			elif opt == "at":
				h["at"] = next(opts, None)
				if h["at"] is None:
					raise TopoError("host %s: 'at' needs a router name (at ROUTER)" % name)
			else:
				raise TopoError("unknown host option '%s'" % opt)
		if not h["roles"] or any(r not in ROLES for r in h["roles"]):
			raise TopoError("host needs role=ROLE[,ROLE] with ROLE in %s" % (ROLES,))
		self.hosts[name] = h

	def _check(self):
		if not self.hosts:
			raise TopoError("%s: no hosts" % self.path)
		if len(self.links) > LINK_NET.num_addresses // 4 or len(self.hosts) > 255:
			raise TopoError("%s: too many links or hosts" % self.path)
		self._check_hosts()
		for r, target, via in self.overrides:
			if r not in self.routers or via not in self.adj.get(r, ()):
				raise TopoError("%s: route %s to %s via %s: via must be a neighbour "
						"router of %s" % (self.path, r, target, via, r))
			if target not in self.hosts:
				ipaddress.ip_network(target)	# raises ValueError
		# every router must reach every router (hosts hang off routers)
		if self.routers:
			start = sorted(self.routers, key=natkey)[0]
			if len(self.bfs([start])) != len(self.routers):
				raise TopoError("%s: the router graph is not connected" % self.path)

	def _check_hosts(self):
		seen = [LINK_NET, HOST_NET]
		for name, h in self.hosts.items():
			at, users = h["at"], [o for o in self.hosts.values() if o["at"] == name]
			if at is None and len(users) != 1:
				raise TopoError("%s: host %s must be 'at' a router, or be the other "
						"end of exactly one host's direct cable" % (self.path, name))
			if at in self.hosts and (self.hosts[at]["at"] is not None or users):
				raise TopoError("%s: host %s: a direct cable joins two hosts that are "
						"at nothing else" % (self.path, name))
			if at is not None and at not in self.hosts and at not in self.routers:
				raise TopoError("%s: host %s: 'at %s': no such router or host" %
						(self.path, name, at))
			if at in self.routers and users:
				raise TopoError("%s: host %s has a direct cable and a router" %
						(self.path, name))
			for p in h["anyip"]:
				if not p.is_private or any(p.overlaps(s) for s in seen):
					raise TopoError("%s: host %s: anyip %s must be private and not "
							"overlap 10.0.0.0/16, 10.1.0.0/16 or another anyip"
							% (self.path, name, p))
				seen.append(p)

	def bfs(self, sources):
		"""Hop distance from the nearest of the routers `sources` to every
		router it reaches."""
		dist = {s: 0 for s in sources}
		todo = list(sources)
		for r in todo:
			for n in self.adj[r]:
				if n not in dist:
					dist[n] = dist[r] + 1
					todo.append(n)
		return dist
