# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The testbed's life cycle: `up` builds the namespaces, veths, routes, nft
rules and sysctls of a planned Topo under one prefix, records the ground truth
and stores the manifest in /run/rtrace-testbed/<id>.json; `down` removes the
namespaces and the stored manifest again (idempotent)."""
import json
import os
import re
import subprocess
import sys
import time

from . import ALL_RE, EXIT_PREFIX_BUSY, NETNS_DIR, STATE_DIR, TopoError, log, natkey
from . import nsconf
from .netns import InNetns, ip_batch, list_netns, run
from .truth import manifest

PREFIX_RE = re.compile(r"^rt[0-9a-z]{2,8}-$")


def state_file(prefix):
	"""Path of the stored manifest of prefix (rtXXXX- or rtXXXX)."""
	return os.path.join(STATE_DIR, prefix.rstrip("-") + ".json")


def norm_prefix(p):
	"""p with its trailing '-'; TopoError if it is no valid testbed prefix."""
	p = p if p.endswith("-") else p + "-"
	if not PREFIX_RE.match(p):
		raise TopoError("bad prefix '%s': want rt + 2..8 of [0-9a-z] (e.g. rt3fa1-)" % p)
	return p


def down(prefix=None, all_=False, dry=False):
	"""Delete every namespace of the prefix (or every rt*- one); idempotent."""
	names = [n for n in list_netns() if (ALL_RE.match(n) if all_ else n.startswith(prefix))]
	if dry:
		print("\n".join(names))
		return 0
	if names:
		r = subprocess.run(["ip", "-force", "-batch", "-"], capture_output=True, text=True,
				   input="".join("netns del %s\n" % n for n in names))
		left = [n for n in names if os.path.exists(os.path.join(NETNS_DIR, n))]
		if left:
			log("could not delete %s: %s" % (left, r.stderr.strip()))
			return 1
	files = os.listdir(STATE_DIR) if os.path.isdir(STATE_DIR) else []
	for f in files:
		if (all_ and re.match(r"^rt[0-9a-z]+\.json$", f)) or \
		   (prefix and f == prefix.rstrip("-") + ".json"):
			os.unlink(os.path.join(STATE_DIR, f))
	return 0


def _build(topo, nodes, ns):
	"""Create and configure the namespaces ns (node -> name) of topo."""
	ip_batch(["netns add " + ns[n] for n in nodes])
	for n in nodes:
		with InNetns(ns[n]):
			for path, val in nsconf.sysctls(topo, n):
				try:
					with open("/proc/sys/" + path, "w") as f:
						f.write("%d\n" % val)
				except FileNotFoundError:
					if "ipv6" not in path:
						raise
	veths = []
	for n in nodes:
		for ifn, i in topo.ifaces[n].items():
			if (n, ifn) < (i["peer"], i["peer_if"]):
				veths.append("link add %s netns %s type veth peer name %s netns %s" %
					     (ifn, ns[n], i["peer_if"], ns[i["peer"]]))
	ip_batch(veths)
	for n in nodes:
		ip_batch(nsconf.ns_cmds(topo, n), ns[n])
		rules = nsconf.nft_rules(topo, n)
		if rules:
			with InNetns(ns[n]):
				run(["nft", "-f", "-"], rules)


def up(topo, prefix):
	"""Build topo under prefix, print and store its manifest. 0, or
	EXIT_PREFIX_BUSY if a namespace of that prefix exists; on an exception
	everything built so far is removed again."""
	t0 = time.monotonic()
	nodes = sorted(topo.routers, key=natkey) + list(topo.hosts)
	ns = {n: prefix + n for n in nodes}
	if any(n.startswith(prefix) for n in list_netns()):
		log("prefix %s is in use" % prefix)
		return EXIT_PREFIX_BUSY
	try:
		_build(topo, nodes, ns)
		t1 = time.monotonic()
		man = manifest(topo, prefix, ns)
	except BaseException:
		down(prefix)
		raise
	t2 = time.monotonic()
	man["timing"] = dict(setup_s=round(t1 - t0, 3), truth_s=round(t2 - t1, 3))
	os.makedirs(STATE_DIR, exist_ok=True)
	with open(state_file(prefix) + ".tmp", "w") as f:
		json.dump(man, f, indent=1)
	os.rename(state_file(prefix) + ".tmp", state_file(prefix))
	json.dump(man, sys.stdout, indent=1)
	print()
	log("up %s: %d routers, %d hosts, %d links in %.2f s (truth %.2f s)" %
	    (prefix, len(topo.routers), len(topo.hosts), len(topo.links), t2 - t0, t2 - t1))
	return 0
