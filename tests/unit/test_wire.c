// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_wire.c - the layout of the BPF <-> user-space ABI (wire.h): static
 * asserts on every size and offset, no implicit padding, and the same
 * layout as the BPF compiler saw it (read back from the BTF of
 * build/bpf/classify.bpf.o).
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "rtrace/wire.h"
#include "classify.skel.h"

/*
 * Each struct's members with their offsets, once: X(struct, member, offset).
 * They give the static asserts below and the member tables the BTF of the
 * BPF object is compared with.
 */
/* clang-format off */
#define RR_MEMBERS(X, t)                                                                           \
	X(t, len, 0) X(t, ptr, 1) X(t, count, 2) X(t, pad, 3)                                      \
	X(t, addr, 4)
#define TS_MEMBERS(X, t)                                                                           \
	X(t, len, 0) X(t, ptr, 1) X(t, flags, 2)                                                   \
	X(t, overflow, 3) X(t, count, 4) X(t, slots, 5)                                            \
	X(t, pad, 6) X(t, addr, 8) X(t, stamp, 24)
#define QUOTE_MEMBERS(X, t)                                                                        \
	X(t, saddr, 0) X(t, daddr, 4) X(t, ip_id, 8)                                               \
	X(t, tot_len, 10) X(t, ttl, 12) X(t, proto, 13)                                            \
	X(t, ihl, 14) X(t, pad, 15) X(t, l4, 16)
#define COOKIE_MEMBERS(X, t)                                                                       \
	X(t, magic, 0) X(t, spoofer, 4) X(t, req, 8)                                               \
	X(t, aux, 12)
#define REPLY_MEMBERS(X, t)                                                                        \
	X(t, rx_ns, 0) X(t, saddr, 8) X(t, daddr, 12)                                              \
	X(t, ifindex, 16) X(t, flags, 20) X(t, ip_id, 22)                                          \
	X(t, tot_len, 24) X(t, ttl, 26) X(t, tos, 27)                                              \
	X(t, kind, 28) X(t, icmp_type, 29) X(t, icmp_code, 30)                                     \
	X(t, pad0, 31) X(t, icmp_id, 32) X(t, icmp_seq, 34)                                        \
	X(t, rr, 36) X(t, ts, 76) X(t, q, 136)                                                     \
	X(t, cookie, 160)
#define MATCH_MEMBERS(X, t)                                                                        \
	X(t, addr, 0) X(t, icmp_id, 4) X(t, udp_sport, 6)                                          \
	X(t, accept_spoofed, 8) X(t, pad, 9)
/* clang-format on */

#define OFF(t, f, o) _Static_assert(offsetof(struct t, f) == (o), #t "." #f " moved");
#define SIZE(t, s) _Static_assert(sizeof(struct t) == (s), #t " resized")

SIZE(rtrace_rr, 40);
RR_MEMBERS(OFF, rtrace_rr)
SIZE(rtrace_ts, 60);
TS_MEMBERS(OFF, rtrace_ts)
SIZE(rtrace_quote, 24);
QUOTE_MEMBERS(OFF, rtrace_quote)
SIZE(rtrace_cookie, 16);
COOKIE_MEMBERS(OFF, rtrace_cookie)
SIZE(rtrace_reply, 176);
REPLY_MEMBERS(OFF, rtrace_reply)
/* ring buffer records are 8-byte aligned: no tail padding to lose */
_Static_assert(sizeof(struct rtrace_reply) % 8 == 0, "rtrace_reply not a multiple of 8");
SIZE(rtrace_match, 12);
MATCH_MEMBERS(OFF, rtrace_match)

_Static_assert(RTRACE_CNT_MAX == 4, "counter added: update the classifier and readers");

struct member {
	const char *name;
	unsigned off;
};

/* Compare one struct's size and member offsets with the BTF of the BPF object. */
static void check_btf(const struct btf *btf, const char *name, unsigned size,
		      const struct member *m, int n)
{
	const struct btf_type *t;
	const struct btf_member *bm;
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	cr_assert_gt(id, 0, "struct %s not in the BTF of classify.bpf.o", name);
	t = btf__type_by_id(btf, id);
	cr_assert_eq(t->size, size, "struct %s: BPF size %u, C size %u", name, t->size, size);
	cr_assert_eq(btf_vlen(t), n, "struct %s: member count differs", name);
	bm = btf_members(t);
	for (int i = 0; i < n; i++) {
		cr_assert_str_eq(btf__name_by_offset(btf, bm[i].name_off), m[i].name);
		cr_assert_eq(btf_member_bit_offset(t, i), m[i].off * 8, "%s.%s", name, m[i].name);
	}
}

#define M(t, f, o) {#f, o},

Test(wire, bpf_object_sees_the_same_layout)
{
	static const struct member reply[] = {REPLY_MEMBERS(M, rtrace_reply)};
	static const struct member match[] = {MATCH_MEMBERS(M, rtrace_match)};
	static const struct member ts[] = {TS_MEMBERS(M, rtrace_ts)};
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "classify");
	struct bpf_object *obj;
	const void *elf;
	struct btf *btf;
	size_t sz;

	/* the object file as the skeleton embeds it; opening needs no privilege */
	elf = classify_bpf__elf_bytes(&sz);
	obj = bpf_object__open_mem(elf, sz, &oo);
	cr_assert_not_null(obj, "cannot open the classifier object: %d", -errno);
	btf = bpf_object__btf(obj);
	cr_assert_not_null(btf, "the classifier object has no BTF");
	check_btf(btf, "rtrace_reply", sizeof(struct rtrace_reply), reply,
		  sizeof(reply) / sizeof(reply[0]));
	check_btf(btf, "rtrace_match", sizeof(struct rtrace_match), match,
		  sizeof(match) / sizeof(match[0]));
	check_btf(btf, "rtrace_ts", sizeof(struct rtrace_ts), ts, sizeof(ts) / sizeof(ts[0]));
	btf__free(btf);
}
