/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * engine_netns.h - network-namespace fixtures for the engine I/O unit tests
 * (test_txring, test_netinfo, test_rx). Criterion runs every test in its own
 * process; tns_setup() moves that process into a fresh, private network
 * namespace (unshare(CLONE_NEWNET)) and makes a second anonymous one for the
 * "peer", joined by a veth pair va (here) <-> vb (peer). The namespaces are
 * held only by file descriptors of the test process, so they, the veth pair
 * and everything in them vanish when the test process exits, pass or fail:
 * nothing is ever created in the root namespace and nothing is left behind.
 * Tests skip (cr_skip_test) when not root.
 */
#ifndef RTRACE_TESTS_ENGINE_NETNS_H
#define RTRACE_TESTS_ENGINE_NETNS_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct tns {
	int self; /* fd of the test's own namespace */
	int peer; /* fd of the peer namespace */
};

static inline int tns_vsh(const char *fmt, va_list ap)
{
	char cmd[512];

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	return system(cmd);
}

/* Run a shell command in the test's namespace; it must succeed. */
static inline __attribute__((format(printf, 1, 2))) void tns_sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tns_vsh(fmt, ap);
	va_end(ap);
	cr_assert_eq(rc, 0, "command failed (rc %d): %s", rc, fmt);
}

/* Enter the peer namespace (sockets created now live there) / come back. */
static inline void tns_enter_peer(struct tns *t)
{
	cr_assert_eq(setns(t->peer, CLONE_NEWNET), 0, "setns peer: %m");
}

static inline void tns_leave_peer(struct tns *t)
{
	cr_assert_eq(setns(t->self, CLONE_NEWNET), 0, "setns self: %m");
}

/* Run a shell command in the peer namespace; it must succeed. */
static inline __attribute__((format(printf, 2, 3))) void tns_peer_sh(struct tns *t, const char *fmt,
								     ...)
{
	va_list ap;
	int rc;

	tns_enter_peer(t);
	va_start(ap, fmt);
	rc = tns_vsh(fmt, ap);
	va_end(ap);
	tns_leave_peer(t);
	cr_assert_eq(rc, 0, "peer command failed (rc %d): %s", rc, fmt);
}

/*
 * Private namespace with lo up, a peer namespace, and veth va <-> vb (vb in
 * the peer), both up, no addresses. Skips the test unless root.
 */
static inline void tns_setup(struct tns *t)
{
	int p[2];
	char c;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root (network namespaces, AF_PACKET, XDP)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %m");
	t->self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(t->self, 0);
	/* the peer namespace: a child makes it, we keep an fd, the child exits */
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause(); /* until killed */
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(c, 'y', "peer unshare failed");
	close(p[0]);
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		t->peer = open(path, O_RDONLY | O_CLOEXEC);
		cr_assert_geq(t->peer, 0);
		tns_sh("ip link set lo up && ip link add va type veth peer name vb netns %d",
		       (int)pid);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	tns_sh("ip link set va up");
	tns_peer_sh(t, "ip link set lo up && ip link set vb up");
}

/* Addresses 10.9.0.1/24 (va) and 10.9.0.2/24 (vb); the peer also owns 10.99.0.0/24. */
static inline void tns_addresses(struct tns *t)
{
	tns_sh("ip addr add 10.9.0.1/24 dev va && ip route add 10.99.0.0/24 via 10.9.0.2");
	tns_peer_sh(t, "ip addr add 10.9.0.2/24 dev vb && ip route add local 10.99.0.0/24 dev lo"
		       " && sysctl -qw net.ipv4.icmp_ratelimit=0");
}

#endif /* RTRACE_TESTS_ENGINE_NETNS_H */
