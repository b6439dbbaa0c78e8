// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rx.c - the receive path's public functions (include/rtrace/rx.h): choose
 * the backend (XDP native, XDP generic, AF_PACKET ring) and dispatch to
 * rx_xdp.c or rx_ring.c. Every failure becomes one log line a person can
 * act on: the interface, what failed, why, and for EPERM the capabilities
 * to grant; a foreign XDP program is named by id and never replaced.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/log.h"
#include "rx_int.h"

const char *rx_mode_name(enum rx_mode m)
{
	switch (m) {
	case RX_MODE_AUTO:
		return "auto";
	case RX_MODE_XDP_NATIVE:
		return "xdp-native";
	case RX_MODE_XDP_GENERIC:
		return "xdp-generic";
	case RX_MODE_RING:
		return "ring";
	}
	return "?";
}

static const char *rx_hint(int err)
{
	return err == -EPERM ? " — run as root or grant cap_net_admin,cap_bpf" : "";
}

/*
 * Try XDP in @mode. On failure, *why gets a short explanation and a foreign
 * program is reported through *foreign (its id).
 */
static int rx_try_xdp(struct rx *rx, enum rx_mode mode, const struct rx_opts *o, char *why,
		      size_t whylen, uint32_t *foreign)
{
	const char *step = "";
	char name[64];
	int err = rx_xdp_open(rx, mode, o, &step);

	if (!err)
		return 0;
	if (err == -EBUSY || err == -EEXIST) {
		*foreign = rx_xdp_foreign(rx->ifindex, name, sizeof(name));
		if (*foreign) {
			snprintf(why, whylen,
				 "XDP program id %u (%s) is already attached and is not ours: not "
				 "replacing it (remove it with 'ip link set dev %s xdp off' if it "
				 "is "
				 "stale)",
				 *foreign, name[0] ? name : "unnamed", rx->ifname);
			return -EBUSY;
		}
	}
	snprintf(why, whylen, "%s failed (%s): %s", step, rx_mode_name(mode), strerror(-err));
	return err;
}

static int rx_defaults(struct rx_opts *o)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!o->ringbuf_bytes)
		o->ringbuf_bytes = RX_DEF_RINGBUF_BYTES;
	if (!o->block_size)
		o->block_size = RX_DEF_BLOCK_SIZE;
	if (!o->block_nr)
		o->block_nr = RX_DEF_BLOCK_NR;
	if (!o->block_tov_ms)
		o->block_tov_ms = RX_DEF_BLOCK_TOV_MS;
	if (!o->match || !o->cb || o->mode > RX_MODE_RING ||
	    (o->ringbuf_bytes & (o->ringbuf_bytes - 1)) || o->ringbuf_bytes < page ||
	    o->block_size % page)
		return -EINVAL;
	return 0;
}

/* XDP as @o->mode asks. 0, or -errno after logging (forced modes) / filling @why (auto). */
static int rx_open_xdp(struct rx *rx, const struct rx_opts *o, char *why, size_t whylen)
{
	char wn[256] = "", wg[256] = "";
	uint32_t foreign = 0;
	int err = -EOPNOTSUPP;

	if (o->mode == RX_MODE_AUTO || o->mode == RX_MODE_XDP_NATIVE) {
		err = rx_try_xdp(rx, RX_MODE_XDP_NATIVE, o, wn, sizeof(wn), &foreign);
		if (!err || foreign || o->mode == RX_MODE_XDP_NATIVE) {
			if (err && o->mode != RX_MODE_AUTO)
				rt_err("rx: %s: %s%s", rx->ifname, wn, rx_hint(err));
			snprintf(why, whylen, "%s", wn);
			return err;
		}
	}
	if (o->mode == RX_MODE_AUTO || o->mode == RX_MODE_XDP_GENERIC) {
		int gerr = rx_try_xdp(rx, RX_MODE_XDP_GENERIC, o, wg, sizeof(wg), &foreign);

		if (!gerr)
			return 0;
		if (foreign || o->mode == RX_MODE_XDP_GENERIC) {
			if (o->mode != RX_MODE_AUTO)
				rt_err("rx: %s: %s%s", rx->ifname, wg, rx_hint(gerr));
			snprintf(why, whylen, "%s", wg);
			return gerr;
		}
		if (gerr == err && err == -EPERM)
			snprintf(why, whylen, "XDP attach failed (native and generic): %s%s",
				 strerror(-err), rx_hint(err));
		else
			snprintf(why, whylen, "%s; %s", wn, wg);
		err = gerr;
	}
	return err;
}

struct rx *rx_open(int ifindex, const struct rx_opts *opts)
{
	struct rx_opts o = opts ? *opts : (struct rx_opts){0};
	char why[600] = "";
	const char *step;
	struct rx *rx;
	int err;

	if (rx_defaults(&o)) {
		rt_err("rx: ifindex %d: bad options (match, callback, sizes)", ifindex);
		errno = EINVAL;
		return NULL;
	}
	rx = calloc(1, sizeof(*rx));
	if (!rx)
		return NULL;
	rx->fd = rx->link_fd = -1;
	rx->ifindex = ifindex;
	rx->match = *o.match;
	rx->cb = o.cb;
	rx->ctx = o.ctx;
	if (ifindex <= 0 || !if_indextoname(ifindex, rx->ifname)) {
		rt_err("rx: ifindex %d: no such interface", ifindex);
		err = -ENODEV;
		goto out_free;
	}
	if (o.mode != RX_MODE_RING) {
		err = rx_open_xdp(rx, &o, why, sizeof(why));
		if (!err)
			return rx;
		if (o.mode != RX_MODE_AUTO)
			goto out_free;
	}
	err = rx_ring_open(rx, &o, &step);
	if (err) {
		rt_err("rx: %s: %s%sAF_PACKET RX ring: %s failed: %s%s", rx->ifname, why,
		       why[0] ? "; " : "", step, strerror(-err),
		       err == -EPERM ? " — run as root or grant cap_net_raw" : "");
		goto out_free;
	}
	if (why[0])
		rt_warn("rx: %s: %s; using the AF_PACKET RX ring instead", rx->ifname, why);
	return rx;

out_free:
	free(rx);
	errno = -err;
	return NULL;
}

int rx_fd(const struct rx *rx)
{
	return rx->mode == RX_MODE_RING ? rx->fd : ring_buffer__epoll_fd(rx->rb);
}

int rx_poll(struct rx *rx, int timeout_ms)
{
	return rx->mode == RX_MODE_RING ? rx_ring_poll(rx, timeout_ms)
					: rx_xdp_poll(rx, timeout_ms);
}

int rx_consume(struct rx *rx)
{
	return rx->mode == RX_MODE_RING ? rx_ring_consume(rx) : rx_xdp_consume(rx);
}

int rx_stats(struct rx *rx, struct rx_stats *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = rx->mode == RX_MODE_RING ? rx_ring_stats(rx, s) : rx_xdp_stats(rx, s);
	s->delivered = rx->delivered;
	return err;
}

enum rx_mode rx_mode_used(const struct rx *rx)
{
	return rx->mode;
}

void rx_close(struct rx *rx)
{
	if (!rx)
		return;
	if (rx->mode == RX_MODE_RING)
		rx_ring_close(rx);
	else
		rx_xdp_close(rx);
	free(rx);
}
