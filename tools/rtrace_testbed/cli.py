# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The rtrace-testbed command line: parse the subcommand and its options,
run it, and map errors to one "rtrace-testbed: error: ..." line and an exit
code (0 ok, 1 error, 2 usage, 3 prefix busy)."""
import json
import os
import secrets
import sys

from . import __doc__ as USAGE
from . import ALL_RE, EXIT_PREFIX_BUSY, NETNS_DIR, TopoError, log, natkey
from . import nsconf
from .netns import list_netns
from .query import load_manifest, query
from .testbed import down, norm_prefix, state_file, up
from .topo import Topo


def plan(topo):
	"""Print what `up` would configure in each namespace."""
	for n in sorted(topo.routers, key=natkey) + list(topo.hosts):
		fl = " ".join(sorted(topo.routers.get(n, ())))
		print("== %s %s" % (n, fl))
		for c in nsconf.ns_cmds(topo, n):
			print("  ip " + c)
		rules = nsconf.nft_rules(topo, n)
		if rules:
			print("  nft: " + " ".join(rules.split()))


def _up(args):
	prefix = None
	if len(args) >= 2 and args[0] == "--prefix":
		prefix, args = norm_prefix(args[1]), args[2:]
	if len(args) != 1:
		raise TopoError("usage: up [--prefix rtXXXX-] TOPO")
	topo = Topo(args[0])
	if os.geteuid() != 0:
		raise TopoError("up needs root (network namespaces)")
	if prefix:
		return up(topo, prefix)
	for _ in range(20):
		rc = up(topo, "rt%s-" % secrets.token_hex(2))
		if rc != EXIT_PREFIX_BUSY:
			return rc
	return EXIT_PREFIX_BUSY


def _down(args):
	dry = "--dry-run" in args
	args = [a for a in args if a != "--dry-run"]
	if args == ["--all"]:
		return down(all_=True, dry=dry)
	if len(args) != 1:
		raise TopoError("usage: down PREFIX | --all [--dry-run]")
	return down(norm_prefix(args[0]), dry=dry)


def _run(argv):
	cmd, args = argv[1], argv[2:]
	if cmd == "up":
		return _up(args)
	if cmd == "down":
		return _down(args)
	if cmd == "manifest" and len(args) == 1:
		man = load_manifest(args[0])
		if not os.path.exists(os.path.join(NETNS_DIR, man["namespaces"][0])):
			log("warning: %s is not running" % man["prefix"])
		json.dump(man, sys.stdout, indent=1)
		print()
		return 0
	if cmd == "query" and len(args) >= 2:
		man = load_manifest(args[0])
		for e in args[1:]:
			print(query(man, e))
		return 0
	if cmd == "plan" and len(args) == 1:
		plan(Topo(args[0]))
		return 0
	if cmd == "list" and not args:
		ids = sorted({n.split("-")[0] for n in list_netns() if ALL_RE.match(n)})
		for i in ids:
			print(i + "-" + ("" if os.path.exists(state_file(i)) else "  (no manifest)"))
		return 0
	raise TopoError("unknown command or wrong arguments: %s (see --help)" % " ".join(argv[1:]))


def main(argv):
	"""Run the command line argv (argv[0] the program); the exit code."""
	if len(argv) < 2 or argv[1] in ("-h", "--help"):
		print(USAGE.split("\n\n", 2)[2] if len(argv) >= 2 else USAGE, end="")
		return 0 if len(argv) >= 2 else 2
	try:
		return _run(argv)
	except BrokenPipeError:
		# the reader went away (| head): no error, and no second one at exit
		os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
		return 0
	except (TopoError, KeyError, RuntimeError, OSError, ValueError) as e:
		log("error: %s" % (e,))
		return 1
