// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * resume.c - continue an interrupted rtrace-batch run: read what the output
 * already holds (the "dst" of every complete record goes into a set the run
 * skips), and find how much of the file is sound. Plain files keep every
 * whole line; a torn last line is cut. Gzip files keep every finished member;
 * the whole records of an unfinished (or corrupt) last member, which zlib
 * still inflates up to the last sync flush, are handed back to be written
 * again as a proper member, so the file ends as valid gzip with nothing lost
 * and nothing twice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>
#include <zlib.h>

#include "rtrace/batch.h"
#include "rtrace/hash.h"
#include "rtrace/log.h"

/* ---- address set ----------------------------------------------------------------- */

static int grow(struct batch_addrset *s)
{
	uint32_t cap = s->cap ? 2 * s->cap : 1024, i, j;
	uint32_t *k = calloc(cap, sizeof(*k));

	if (!k)
		return -ENOMEM;
	for (i = 0; i < s->cap; i++) {
		if (!s->keys[i])
			continue;
		for (j = rt_hash32(s->keys[i]) & (cap - 1); k[j]; j = (j + 1) & (cap - 1))
			;
		k[j] = s->keys[i];
	}
	free(s->keys);
	s->keys = k;
	s->cap = cap;
	return 0;
}

int batch_addrset_add(struct batch_addrset *s, uint32_t a)
{
	uint32_t j;

	if (!a)
		return 0;
	if ((s->n + 1) * 2 > s->cap && grow(s))
		return -ENOMEM;
	for (j = rt_hash32(a) & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
		if (s->keys[j] == a)
			return 0;
	s->keys[j] = a;
	s->n++;
	return 1;
}

bool batch_addrset_has(const struct batch_addrset *s, uint32_t a)
{
	uint32_t j;

	if (!s->cap || !a)
		return false;
	for (j = rt_hash32(a) & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
		if (s->keys[j] == a)
			return true;
	return false;
}

void batch_addrset_free(struct batch_addrset *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

/* ---- scanning ---------------------------------------------------------------------- */

struct scan {
	struct batch_addrset *done;
	struct batch_resume_info *info;
	const char *path;
	uint64_t lineno;
	char *line; /* the line being assembled */
	size_t len, cap;
	bool in_tail; /* gzip: lines go to info->tail too */
	char *tail;   /* complete lines of the unfinished member */
	size_t tail_len, tail_cap;
	uint64_t tail_recs;
};

/* The "dst" of one record line, 0 if it is not a record. */
static uint32_t record_dst(const char *line, size_t len)
{
	json_t *j = json_loadb(line, len, 0, NULL);
	const char *d;
	struct in_addr a = {0};

	if (!j)
		return 0;
	d = json_string_value(json_object_get(j, "dst"));
	if (!d || inet_pton(AF_INET, d, &a) != 1)
		a.s_addr = 0;
	json_decref(j);
	return a.s_addr;
}

static int tail_append(struct scan *sc, const char *p, size_t n)
{
	if (sc->tail_len + n + 1 > sc->tail_cap) {
		size_t c = (sc->tail_len + n + 1) * 2;
		char *t = realloc(sc->tail, c);

		if (!t)
			return -ENOMEM;
		sc->tail = t;
		sc->tail_cap = c;
	}
	memcpy(sc->tail + sc->tail_len, p, n);
	sc->tail_len += n;
	sc->tail[sc->tail_len++] = '\n';
	sc->tail_recs++;
	return 0;
}

/* One complete line (without its newline). */
static int on_line(struct scan *sc, const char *p, size_t n)
{
	uint32_t dst;

	sc->lineno++;
	if (n == 0)
		return 0;
	dst = record_dst(p, n);
	if (!dst) {
		sc->info->bad++;
		rt_warn("%s: line %llu is not a JSON object with \"dst\", ignored", sc->path,
			(unsigned long long)sc->lineno);
		return 0;
	}
	if (batch_addrset_add(sc->done, dst) < 0)
		return -ENOMEM;
	sc->info->records++;
	return sc->in_tail ? tail_append(sc, p, n) : 0;
}

/* Feed bytes; complete lines are handled, the rest waits in sc->line. */
static int feed(struct scan *sc, const char *p, size_t n)
{
	const char *nl;
	int err;

	while (n) {
		nl = memchr(p, '\n', n);
		if (!nl) {
			if (sc->len + n > sc->cap) {
				size_t c = (sc->len + n) * 2;
				char *l = realloc(sc->line, c);

				if (!l)
					return -ENOMEM;
				sc->line = l;
				sc->cap = c;
			}
			memcpy(sc->line + sc->len, p, n);
			sc->len += n;
			return 0;
		}
		if (sc->len) {
			err = feed(sc, p, (size_t)(nl - p)); /* appends to line */
			if (err)
				return err;
			err = on_line(sc, sc->line, sc->len);
			sc->len = 0;
		} else {
			err = on_line(sc, p, (size_t)(nl - p));
		}
		if (err)
			return err;
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	return 0;
}

static int scan_plain(struct scan *sc, int fd)
{
	char buf[65536];
	off_t off = 0;
	ssize_t r;
	int err;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		err = feed(sc, buf, (size_t)r);
		if (err)
			return err;
		off += r;
		sc->info->keep = off - (off_t)sc->len;
	}
	if (sc->len)
		rt_warn("%s: last line is incomplete (%zu bytes), dropped", sc->path, sc->len);
	return 0;
}

static int scan_gz(struct scan *sc, int fd)
{
	unsigned char in[65536], out[131072];
	z_stream zs;
	off_t base = 0;
	ssize_t r;
	int rc = Z_OK, err = 0;
	bool started = false;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -ENOMEM;
	sc->in_tail = true;
	while (!err) {
		r = read(fd, in, sizeof(in));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		zs.next_in = in;
		zs.avail_in = (uInt)r;
		while (zs.avail_in && !err) {
			started = true; /* inside a member (or its header) */
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			rc = inflate(&zs, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
				rt_warn("%s: corrupt gzip data after byte %lld: %s; the rest is "
					"dropped",
					sc->path, (long long)sc->info->keep,
					zs.msg ? zs.msg : "inflate failed");
				goto out;
			}
			err = feed(sc, (char *)out, sizeof(out) - zs.avail_out);
			if (!err && rc == Z_STREAM_END) {
				/* a finished member: everything in it is on disk for good */
				sc->info->keep = base + (r - (off_t)zs.avail_in);
				sc->tail_len = 0;
				sc->tail_recs = 0;
				if (sc->len)
					rt_warn("%s: member ends inside a record, dropped",
						sc->path);
				sc->len = 0;
				inflateReset(&zs);
				started = false;
			}
			if (rc == Z_BUF_ERROR && zs.avail_out)
				break;
		}
		base += r;
	}
out:
	if (!err && (started || sc->tail_len))
		rt_info("%s: last gzip member unfinished: %llu whole records recovered", sc->path,
			(unsigned long long)sc->tail_recs);
	inflateEnd(&zs);
	return err;
}

int batch_resume_scan(const char *path, struct batch_addrset *done, struct batch_resume_info *info,
		      char *err, size_t errlen)
{
	struct scan sc = {.done = done, .info = info, .path = path};
	struct stat st;
	int fd, e;

	memset(info, 0, sizeof(*info));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	if (fstat(fd, &st) == 0)
		info->size = st.st_size;
	e = batch_out_is_gz(path) ? scan_gz(&sc, fd) : scan_plain(&sc, fd);
	close(fd);
	free(sc.line);
	if (e) {
		free(sc.tail);
		snprintf(err, errlen, "%s: reading for --resume: %s", path, strerror(-e));
		return e;
	}
	if (sc.tail_len) {
		info->tail = sc.tail;
		info->tail_len = sc.tail_len;
		info->tail_recs = sc.tail_recs;
	} else {
		free(sc.tail);
	}
	return 0;
}

int batch_resume_truncate(const char *path, const struct batch_resume_info *info)
{
	if (info->keep == info->size)
		return 0;
	if (truncate(path, info->keep))
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

void batch_resume_info_free(struct batch_resume_info *info)
{
	free(info->tail);
	memset(info, 0, sizeof(*info));
}

int batch_resume_open(const char *path, const struct batch_resume_info *info, bool resume,
		      struct batch_out **out, char *err, size_t errlen)
{
	const char *p, *nl;
	int e;

	if (resume) {
		e = batch_resume_truncate(path, info);
		if (e) {
			snprintf(err, errlen, "%s: cannot cut the torn end: %s", path,
				 strerror(-e));
			return e;
		}
	}
	e = batch_out_open(out, path, resume, err, errlen);
	if (e)
		return e;
	/* whole records of an unfinished gzip member go back in as a proper member */
	for (p = info->tail; p && (nl = memchr(p, '\n', info->tail_len - (size_t)(p - info->tail)));
	     p = nl + 1) {
		e = batch_out_write(*out, p, (size_t)(nl - p));
		if (e) {
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
			batch_out_close(*out);
			*out = NULL;
			return e;
		}
	}
	return 0;
}
