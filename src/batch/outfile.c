// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * outfile.c - the output of rtrace-batch: one JSON record per line, plain or
 * gzip (zlib), every record on disk (in the page cache) before the write
 * returns, so a kill -9 loses nothing that was reported done.
 *
 * Gzip: records are deflated into a member and sync-flushed one by one (a
 * truncated member still inflates up to the last whole record); the member is
 * finished (trailer written) once a second or every 1 MiB, because
 * concatenated members are one valid gzip file: after a crash only the last
 * second's records sit in an unfinished member, which --resume rewrites.
 * Plain: one write(2) per record, no stdio buffer in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "rtrace/batch.h"

#define ZBUF 65536

struct batch_out {
	int fd;			  /* the file */
	bool gz;		  /* gzip output */
	bool member_open;	  /* a member has a header and no trailer yet */
	z_stream zs;		  /* deflate state */
	uint64_t member_t0;	  /* when the open member began, ns */
	uint64_t member_bytes;	  /* uncompressed bytes in the open member */
	uint64_t records;	  /* records written */
	int err;		  /* first error, sticky */
	unsigned char zbuf[ZBUF]; /* deflate output */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool batch_out_is_gz(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && !strcmp(path + n - 3, ".gz");
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int batch_out_open(struct batch_out **out, const char *path, bool append, char *err, size_t errlen)
{
	struct batch_out *o = calloc(1, sizeof(*o));
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_EXCL);
	int e;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->fd = open(path, flags, 0644);
	if (o->fd < 0) {
		e = -errno;
		if (e == -EEXIST)
			snprintf(err, errlen,
				 "%s exists: use --resume to continue it, or remove it first",
				 path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		free(o);
		return e;
	}
	o->gz = batch_out_is_gz(path);
	if (o->gz) {
		/* windowBits 15 + 16: gzip wrapper; memLevel 8 */
		if (deflateInit2(&o->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			snprintf(err, errlen, "%s: zlib deflateInit2 failed", path);
			close(o->fd);
			free(o);
			return -ENOMEM;
		}
	}
	*out = o;
	return 0;
}

/* Run deflate with flush over the pending input and write what comes out. */
static int zpush(struct batch_out *o, int flush)
{
	int rc, err;

	do {
		o->zs.next_out = o->zbuf;
		o->zs.avail_out = ZBUF;
		rc = deflate(&o->zs, flush);
		if (rc == Z_STREAM_ERROR)
			return -EIO;
		err = write_all(o->fd, o->zbuf, ZBUF - o->zs.avail_out);
		if (err)
			return err;
	} while (o->zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return 0;
}

/* Finish the open member (gzip trailer) so that it stands alone. */
static int member_close(struct batch_out *o)
{
	int err;

	if (!o->member_open)
		return 0;
	o->zs.avail_in = 0;
	err = zpush(o, Z_FINISH);
	if (err)
		return err;
	deflateReset(&o->zs); /* the next record starts a new member with a header */
	o->member_open = false;
	o->member_bytes = 0;
	return 0;
}

int batch_out_write(struct batch_out *o, const char *rec, size_t len)
{
	char *line;
	int err;

	if (o->err)
		return o->err;
	if (!o->gz) {
		/* one write: a reader never sees a record without its newline unless
		 * the process dies inside write(2) itself */
		line = malloc(len + 1);
		if (!line)
			return -ENOMEM;
		memcpy(line, rec, len);
		line[len] = '\n';
		err = write_all(o->fd, line, len + 1);
		free(line);
	} else {
		if (!o->member_open) {
			o->member_open = true;
			o->member_t0 = now_ns();
		}
		o->zs.next_in = (unsigned char *)rec;
		o->zs.avail_in = (uInt)len;
		err = zpush(o, Z_NO_FLUSH);
		if (!err) {
			o->zs.next_in = (unsigned char *)"\n";
			o->zs.avail_in = 1;
			err = zpush(o, Z_SYNC_FLUSH);
		}
		o->member_bytes += len + 1;
		if (!err && o->member_bytes >= BATCH_GZ_MEMBER_BYTES)
			err = member_close(o);
	}
	if (err) {
		o->err = err;
		return err;
	}
	o->records++;
	return 0;
}

int batch_out_tick(struct batch_out *o, uint64_t now)
{
	int err;

	if (o->err || !o->member_open || now - o->member_t0 < BATCH_GZ_MEMBER_NS)
		return o->err;
	err = member_close(o);
	if (err)
		o->err = err;
	return err;
}

uint64_t batch_out_records(const struct batch_out *o)
{
	return o->records;
}

int batch_out_close(struct batch_out *o)
{
	int err, e;

	if (!o)
		return 0;
	err = o->err;
	if (o->gz) {
		e = o->err ? 0 : member_close(o);
		err = err ? err : e;
		deflateEnd(&o->zs);
	}
	if (fsync(o->fd) && !err && errno != EINVAL)
		err = -errno;
	if (close(o->fd) && !err)
		err = -errno;
	free(o);
	return err;
}
