# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reading a stored manifest: load it by prefix or file, and pick values out
of it with a dotted path (`rtrace-testbed query`, tb_q in tests/netns/lib.sh),
so shell tests need no jq."""
import json
import os

from .testbed import norm_prefix, state_file


def query(man, expr):
	"""Dotted path into the manifest; a key may itself contain dots (an
	address): the longest matching join wins; a last part `keys` lists a
	dict's keys, `items` prints "key<TAB>value" lines. Scalars print bare,
	lists of scalars space-separated (None as *), everything else as JSON."""
	cur, parts = man, expr.split(".") if expr else []
	while parts:
		if isinstance(cur, list):
			cur, parts = cur[int(parts[0])], parts[1:]
			continue
		for k in range(len(parts), 0, -1):
			key = ".".join(parts[:k])
			if isinstance(cur, dict) and key in cur:
				cur, parts = cur[key], parts[k:]
				break
		else:
			if parts == ["keys"] and isinstance(cur, dict):
				cur, parts = list(cur), []
			elif parts == ["items"] and isinstance(cur, dict):
				return "\n".join("%s\t%s" % (k, query(v, "")) for k, v in cur.items())
			else:
				raise KeyError(expr)
	if cur is None:
		return ""
	if isinstance(cur, bool):
		return "true" if cur else "false"
	if isinstance(cur, (str, int, float)):
		return str(cur)
	if isinstance(cur, list) and all(isinstance(x, (str, int)) or x is None for x in cur):
		return " ".join("*" if x is None else str(x) for x in cur)
	return json.dumps(cur, indent=1)


def load_manifest(arg):
	"""The manifest in file arg, or else the stored one of prefix arg."""
	path = arg if os.path.isfile(arg) else state_file(norm_prefix(arg))
	with open(path) as f:
		return json.load(f)
