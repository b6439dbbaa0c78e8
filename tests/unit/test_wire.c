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

#define OFF(t, f, o) _Static_assert(offsetof(struct t, f) == (o), #t "." #f " moved")
#define SIZE(t, s) _Static_assert(sizeof(struct t) == (s), #t " resized")

SIZE(rtrace_rr, 40);
OFF(rtrace_rr, len, 0);
OFF(rtrace_rr, ptr, 1);
OFF(rtrace_rr, count, 2);
OFF(rtrace_rr, pad, 3);
OFF(rtrace_rr, addr, 4);

SIZE(rtrace_ts, 60);
OFF(rtrace_ts, len, 0);
OFF(rtrace_ts, ptr, 1);
OFF(rtrace_ts, flags, 2);
OFF(rtrace_ts, overflow, 3);
OFF(rtrace_ts, count, 4);
OFF(rtrace_ts, slots, 5);
OFF(rtrace_ts, pad, 6);
OFF(rtrace_ts, addr, 8);
OFF(rtrace_ts, stamp, 24);

SIZE(rtrace_quote, 24);
OFF(rtrace_quote, saddr, 0);
OFF(rtrace_quote, daddr, 4);
OFF(rtrace_quote, ip_id, 8);
OFF(rtrace_quote, tot_len, 10);
OFF(rtrace_quote, ttl, 12);
OFF(rtrace_quote, proto, 13);
OFF(rtrace_quote, ihl, 14);
OFF(rtrace_quote, pad, 15);
OFF(rtrace_quote, l4, 16);

SIZE(rtrace_cookie, 16);
OFF(rtrace_cookie, magic, 0);
OFF(rtrace_cookie, spoofer, 4);
OFF(rtrace_cookie, req, 8);
OFF(rtrace_cookie, aux, 12);

SIZE(rtrace_reply, 176);
OFF(rtrace_reply, rx_ns, 0);
OFF(rtrace_reply, saddr, 8);
OFF(rtrace_reply, daddr, 12);
OFF(rtrace_reply, ifindex, 16);
OFF(rtrace_reply, flags, 20);
OFF(rtrace_reply, ip_id, 22);
OFF(rtrace_reply, tot_len, 24);
OFF(rtrace_reply, ttl, 26);
OFF(rtrace_reply, tos, 27);
OFF(rtrace_reply, kind, 28);
OFF(rtrace_reply, icmp_type, 29);
OFF(rtrace_reply, icmp_code, 30);
OFF(rtrace_reply, pad0, 31);
OFF(rtrace_reply, icmp_id, 32);
OFF(rtrace_reply, icmp_seq, 34);
OFF(rtrace_reply, rr, 36);
OFF(rtrace_reply, ts, 76);
OFF(rtrace_reply, q, 136);
OFF(rtrace_reply, cookie, 160);
/* ring buffer records are 8-byte aligned: no tail padding to lose */
_Static_assert(sizeof(struct rtrace_reply) % 8 == 0, "rtrace_reply not a multiple of 8");

SIZE(rtrace_match, 12);
OFF(rtrace_match, addr, 0);
OFF(rtrace_match, icmp_id, 4);
OFF(rtrace_match, udp_sport, 6);
OFF(rtrace_match, accept_spoofed, 8);
OFF(rtrace_match, pad, 9);

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

#define M(t, f)                                                                                    \
	{                                                                                          \
#f, offsetof(struct t, f)                                                          \
	}

Test(wire, bpf_object_sees_the_same_layout)
{
	static const struct member reply[] = {
		M(rtrace_reply, rx_ns),	  M(rtrace_reply, saddr),     M(rtrace_reply, daddr),
		M(rtrace_reply, ifindex), M(rtrace_reply, flags),     M(rtrace_reply, ip_id),
		M(rtrace_reply, tot_len), M(rtrace_reply, ttl),	      M(rtrace_reply, tos),
		M(rtrace_reply, kind),	  M(rtrace_reply, icmp_type), M(rtrace_reply, icmp_code),
		M(rtrace_reply, pad0),	  M(rtrace_reply, icmp_id),   M(rtrace_reply, icmp_seq),
		M(rtrace_reply, rr),	  M(rtrace_reply, ts),	      M(rtrace_reply, q),
		M(rtrace_reply, cookie),
	};
	static const struct member match[] = {
		M(rtrace_match, addr),	    M(rtrace_match, icmp_id),
		M(rtrace_match, udp_sport), M(rtrace_match, accept_spoofed),
		M(rtrace_match, pad),
	};
	static const struct member ts[] = {
		M(rtrace_ts, len),	M(rtrace_ts, ptr),   M(rtrace_ts, flags),
		M(rtrace_ts, overflow), M(rtrace_ts, count), M(rtrace_ts, slots),
		M(rtrace_ts, pad),	M(rtrace_ts, addr),  M(rtrace_ts, stamp),
	};
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
