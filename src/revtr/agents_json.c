// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agents_json.c - turn measurement records into what the reverse-traceroute
 * core reads (struct revtr_result): agents send one scamper-style JSON object
 * per record (exactly what `rtrace-probe -j` prints: "type":"ping" with
 * "responses" carrying "RR" / "tsandaddr", "type":"trace" with "hops" per
 * probe), and the client's own traceroutes come as struct
 * probe_trace_result. Traces become one hop per TTL (the first reply of the
 * TTL, 0 for silence), like traceroute's lines. Parsing uses libjansson.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "backend_int.h"

static uint32_t j_addr(json_t *v)
{
	struct in_addr a;
	const char *s = json_string_value(v);

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return 0;
	return a.s_addr;
}

/* RTTs are milliseconds with decimals ("rtt":0.052). */
static uint32_t j_rtt_us(json_t *v)
{
	double ms = json_number_value(v);

	if (ms <= 0 || ms > 3.6e6)
		return 0;
	return (uint32_t)(ms * 1000.0 + 0.5);
}

static json_t *load(const char *text, size_t len, const char *type)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	const char *t;

	if (!root)
		return NULL;
	t = json_string_value(json_object_get(root, "type"));
	if (!json_is_object(root) || !t || strcmp(t, type)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int rtb_json_ping(const char *text, size_t len, struct revtr_result *res)
{
	json_t *root = load(text, len, "ping"), *resp, *r, *v;
	size_t i, k;
	int found = 0;

	if (!root)
		return -EBADMSG;
	v = json_object_get(root, "ping_sent");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		res->probes = (uint32_t)json_integer_value(v);
	resp = json_object_get(root, "responses");
	json_array_foreach(resp, i, r)
	{
		json_t *rr = json_object_get(r, "RR"), *ts = json_object_get(r, "tsandaddr");

		if (json_integer_value(json_object_get(r, "icmp_type")) != 0)
			continue;
		res->rtt_us = j_rtt_us(json_object_get(r, "rtt"));
		res->rr_count = 0;
		json_array_foreach(rr, k, v)
		{
			if (k >= REVTR_RR_SLOTS)
				break;
			res->rr[res->rr_count++] = j_addr(v);
		}
		res->ts_count = json_is_array(ts) ? (uint8_t)json_array_size(ts) : 0;
		if (res->ts_count > REVTR_TS_MAX)
			res->ts_count = REVTR_TS_MAX;
		found = 1;
		break;
	}
	json_decref(root);
	return found;
}

int rtb_json_trace(const char *text, size_t len, struct revtr_trace_hop *hops,
		   struct revtr_result *res)
{
	json_t *root = load(text, len, "trace"), *arr, *h, *v;
	const char *stop;
	int n = 0, ttl;
	size_t i;

	if (!root)
		return -EBADMSG;
	memset(hops, 0, REVTR_MAX_HOPS * sizeof(*hops));
	arr = json_object_get(root, "hops");
	json_array_foreach(arr, i, h)
	{
		ttl = (int)json_integer_value(json_object_get(h, "probe_ttl"));
		if (ttl < 1 || ttl > REVTR_MAX_HOPS)
			continue;
		if (!hops[ttl - 1].addr) {
			hops[ttl - 1].addr = j_addr(json_object_get(h, "addr"));
			hops[ttl - 1].rtt_us = j_rtt_us(json_object_get(h, "rtt"));
		}
		if (ttl > n)
			n = ttl;
	}
	v = json_object_get(root, "hop_count");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= REVTR_MAX_HOPS)
		n = (int)json_integer_value(v);
	stop = json_string_value(json_object_get(root, "stop_reason"));
	res->trace_reached = stop && !strcmp(stop, "COMPLETED");
	v = json_object_get(root, "probe_count");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		res->probes = (uint32_t)json_integer_value(v);
	res->trace_n = (uint16_t)n;
	res->trace = hops;
	json_decref(root);
	return 0;
}

void rtb_trace_hops(const struct probe_trace_result *t, struct revtr_trace_hop *hops,
		    struct revtr_result *res)
{
	int n = 0;
	uint32_t i;

	memset(hops, 0, REVTR_MAX_HOPS * sizeof(*hops));
	for (i = 0; i < t->nhops; i++) {
		const struct probe_trace_hop *h = &t->hops[i];
		int ttl = h->probe_ttl;

		if (ttl < 1 || ttl > REVTR_MAX_HOPS)
			continue;
		if (!hops[ttl - 1].addr) {
			hops[ttl - 1].addr = h->addr;
			hops[ttl - 1].rtt_us = (uint32_t)((h->rtt_ns + 500) / 1000);
		}
		if (ttl > n)
			n = ttl;
	}
	if (t->hop_count && t->hop_count <= REVTR_MAX_HOPS)
		n = t->hop_count;
	res->trace_n = (uint16_t)n;
	res->trace = hops;
	res->trace_reached = t->stop_reason == PROBE_STOP_COMPLETED;
	res->probes = t->probe_count;
}
