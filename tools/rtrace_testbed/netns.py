# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel plumbing for the testbed: move this thread into a named network
namespace and back (setns), run `ip`/`nft` with their input on stdin, and list
the named namespaces under /run/netns."""
import ctypes
import os
import subprocess

from . import NETNS_DIR

_libc = ctypes.CDLL(None, use_errno=True)


class InNetns:
	"""Context manager: move this thread into /run/netns/NAME and back."""

	def __init__(self, name):
		self.name = name

	def __enter__(self):
		self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
		fd = os.open(os.path.join(NETNS_DIR, self.name), os.O_RDONLY)
		try:
			if _libc.setns(fd, 0x40000000) != 0:	# CLONE_NEWNET
				e = ctypes.get_errno()
				raise OSError(e, "setns %s: %s" % (self.name, os.strerror(e)))
		finally:
			os.close(fd)
		return self

	def __exit__(self, *exc):
		if _libc.setns(self.home, 0x40000000) != 0:
			raise OSError(ctypes.get_errno(), "setns back to the root namespace")
		os.close(self.home)


def run(argv, text=None):
	"""Run argv with text on stdin; its stdout, or RuntimeError with its stderr."""
	r = subprocess.run(argv, input=text, capture_output=True, text=True)
	if r.returncode != 0:
		raise RuntimeError("%s failed (%d): %s" % (" ".join(argv[:4]), r.returncode,
							   r.stderr.strip()[-2000:]))
	return r.stdout


def ip_batch(cmds, ns=None):
	"""Run the `ip` command lines cmds in one `ip -batch` (inside ns if given)."""
	run(["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"], "\n".join(cmds) + "\n")


def list_netns():
	"""Sorted names of the named network namespaces."""
	try:
		return sorted(os.listdir(NETNS_DIR))
	except FileNotFoundError:
		return []
