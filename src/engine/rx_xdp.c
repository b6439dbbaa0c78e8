// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rx_xdp.c - the XDP receive backend: loads the classifier (classify.skel.h,
 * built from bpf/classify.bpf.c) with our struct rtrace_match in its rodata,
 * attaches it to the interface in native or generic mode and reads its BPF
 * ring buffer.
 *
 * Attachment is a bpf_link (BPF_LINK_CREATE, kernel >= 5.9): the kernel
 * refuses it while any other XDP program is attached in any mode, so a
 * foreign program is never replaced, and the link goes away with the last
 * fd, so our program is detached even when the process is killed. On
 * kernels without XDP links the netlink attach is used instead, with
 * XDP_FLAGS_UPDATE_IF_NOEXIST, and detached with the expected program fd
 * (bpf_xdp_detach() with old_prog_fd: only if it is still ours).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/log.h"
#include "rtrace/wire.h"
#include "classify.skel.h"
#include "rx_int.h"

/* libbpf's messages go through our log: warnings at info level, the rest at debug. */
static int rx_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	rt_log(level == LIBBPF_WARN ? RT_LOG_INFO : RT_LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

static int rx_rb_record(void *ctx, void *data, size_t size)
{
	struct rx *rx = ctx;

	if (size < sizeof(struct rtrace_reply))
		return 0;
	rx->cb(rx->ctx, data);
	rx->delivered++;
	return 0;
}

uint32_t rx_xdp_foreign(int ifindex, char *name, size_t namelen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	uint32_t id;
	int fd;

	if (namelen)
		name[0] = '\0';
	if (bpf_xdp_query(ifindex, 0, &q))
		return 0;
	id = q.prog_id ? q.prog_id : q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (!id || !namelen)
		return id;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			snprintf(name, namelen, "%s", info.name);
		close(fd);
	}
	return id;
}

/* Attach @prog_fd in @flags mode: a bpf_link, or netlink on kernels without XDP links. */
static int rx_xdp_attach(struct rx *rx, int prog_fd, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
	int fd, err;

	fd = bpf_link_create(prog_fd, rx->ifindex, BPF_XDP, &lo);
	if (fd >= 0) {
		rx->link_fd = fd;
		return 0;
	}
	err = fd < 0 ? fd : -errno;
	if (err != -EINVAL)
		return err;
	/* no XDP links here: netlink attach, never replacing anything */
	err = bpf_xdp_attach(rx->ifindex, prog_fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err)
		return err;
	rx->xdp_flags = flags;
	return 0;
}

int rx_xdp_open(struct rx *rx, enum rx_mode mode, const struct rx_opts *o, const char **step)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int err, prog_fd;

	libbpf_set_print(rx_libbpf_print);
	rx->link_fd = -1;
	*step = "opening the XDP classifier";
	rx->skel = classify_bpf__open();
	if (!rx->skel)
		return -errno;
	rx->skel->rodata->match_cfg = rx->match;
	*step = "sizing the ring buffer";
	err = bpf_map__set_max_entries(rx->skel->maps.rb, o->ringbuf_bytes);
	if (err)
		goto out_destroy;
	*step = "loading the XDP classifier";
	err = classify_bpf__load(rx->skel);
	if (err)
		goto out_destroy;
	prog_fd = bpf_program__fd(rx->skel->progs.rtrace_xdp);
	if (!bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		rx->prog_id = info.id;
	*step = "creating the ring buffer reader";
	rx->rb = ring_buffer__new(bpf_map__fd(rx->skel->maps.rb), rx_rb_record, rx, NULL);
	if (!rx->rb) {
		err = -errno;
		goto out_destroy;
	}
	*step = "XDP attach";
	err = rx_xdp_attach(rx, prog_fd,
			    mode == RX_MODE_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
	if (err)
		goto out_free_rb;
	rx->mode = mode;
	return 0;

out_free_rb:
	ring_buffer__free(rx->rb);
	rx->rb = NULL;
out_destroy:
	classify_bpf__destroy(rx->skel);
	rx->skel = NULL;
	return err < 0 ? err : -EINVAL;
}

int rx_xdp_poll(struct rx *rx, int timeout_ms)
{
	return ring_buffer__poll(rx->rb, timeout_ms);
}

int rx_xdp_consume(struct rx *rx)
{
	return ring_buffer__consume(rx->rb);
}

int rx_xdp_stats(struct rx *rx, struct rx_stats *s)
{
	int ncpu = libbpf_num_possible_cpus(), fd, cpu;
	uint64_t *sum[RTRACE_CNT_MAX] = {&s->seen, &s->ours, &s->ringfull, &s->malformed};
	__u64 *vals;
	__u32 key;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(rx->skel->maps.counters);
	for (key = 0; key < RTRACE_CNT_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		*sum[key] = 0;
		for (cpu = 0; cpu < ncpu; cpu++)
			*sum[key] += vals[cpu];
	}
	free(vals);
	return 0;
}

void rx_xdp_close(struct rx *rx)
{
	ring_buffer__free(rx->rb);
	rx->rb = NULL;
	if (rx->link_fd >= 0) {
		close(rx->link_fd); /* the kernel detaches with the last link fd */
		rx->link_fd = -1;
	} else if (rx->xdp_flags && rx->skel) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, d,
			    .old_prog_fd = bpf_program__fd(rx->skel->progs.rtrace_xdp));
		int err = bpf_xdp_detach(rx->ifindex, rx->xdp_flags, &d);

		if (err)
			rt_warn("rx: %s: XDP detach failed: %s (the attached program is not ours "
				"any more: left alone)",
				rx->ifname, strerror(-err));
	}
	classify_bpf__destroy(rx->skel);
	rx->skel = NULL;
}
