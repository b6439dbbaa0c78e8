# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""rtrace-testbed - build the rtrace test internet out of network namespaces.

Reads a small line-based topology file (format: tests/topos/README.md), plans
addresses and per-prefix routes (shortest paths with a deterministic tie-break,
an optional seeded asymmetry knob, explicit overrides), creates one network
namespace per router and host joined by veth pairs (created directly inside
their namespaces: nothing ever appears in the root namespace), installs routes
with `ip -batch` and behaviours with `nft -f`, then walks the kernel's own FIB
hop by hop over rtnetlink (RTM_GETROUTE with the real incoming interface) to
record ground-truth router paths between hosts. `up` prints the JSON manifest
and stores it in /run/rtrace-testbed/<id>.json. Python standard library only.

  rtrace-testbed up [--prefix rtXXXX-] TOPO     build, print the manifest
  rtrace-testbed down PREFIX | --all [--dry-run]  remove (idempotent)
  rtrace-testbed manifest PREFIX                print the stored manifest
  rtrace-testbed query PREFIX|FILE EXPR...      print manifest values (jq-free)
  rtrace-testbed plan TOPO                      dry run: addresses and routes
  rtrace-testbed list                           running testbeds
"""
# The package docstring above is also the --help text (cli.main prints it).
# Modules: topo (file parsing and checks), routing (address and route plan),
# nsconf (ip/nft/sysctl text per namespace), netns (entering namespaces,
# running ip/nft), truth (rtnetlink FIB walk and the manifest), testbed
# (up/down and the stored manifests), query (reading manifests), cli (main).
# This module holds what they all share.
import re
import sys

STATE_DIR = "/run/rtrace-testbed"
NETNS_DIR = "/run/netns"
ROLES = ("source", "dest", "vp")
ALL_RE = re.compile(r"^rt[0-9a-z]+-")
EXIT_PREFIX_BUSY = 3


class TopoError(Exception):
	pass


def log(msg):
	print("rtrace-testbed: " + msg, file=sys.stderr, flush=True)


def natkey(name):
	"""Natural sort key: r2 < r10."""
	return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
