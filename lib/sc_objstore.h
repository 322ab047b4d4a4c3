/* sc_objstore: objects at s3:// and http(s):// locations (HEAD, ranged GET,
 * PUT of a local file), signed with libcurl's AWS SigV4. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_OBJSTORE_H
#define SC_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"
#include "sc_hash.h"
#include "sc_http.h"

/*
 * An object location: "s3://BUCKET/KEY" or an "http://" / "https://" URL.
 *
 * An s3:// location is sent to the endpoint of SC_S3_ENDPOINT, else
 * AWS_ENDPOINT_URL ("http://127.0.0.1:9000": path-style addressing,
 * ENDPOINT/BUCKET/KEY, as local servers want), else to AWS
 * (https://BUCKET.s3.REGION.amazonaws.com/KEY; path-style for a bucket
 * whose name holds a '.'). The region is AWS_REGION, else
 * AWS_DEFAULT_REGION, else us-east-1. Credentials are AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), else the profile
 * AWS_PROFILE ("default") of AWS_SHARED_CREDENTIALS_FILE
 * (~/.aws/credentials); without any, requests go unsigned (a public
 * bucket). Requests are signed by libcurl (CURLOPT_AWS_SIGV4) with an
 * unsigned payload. The key is percent-encoded except '/' and the
 * unreserved characters. An http(s) URL is used as given and never signed.
 */
typedef struct sc_obj sc_obj;

/* 1 when S names an object location (s3://, http://, https://), else 0. */
int sc_obj_is_remote(const char *s);

/* Parse URI and resolve its endpoint, region and credentials (read once,
 * here). *OUT owns the result: sc_obj_free(). Returns 0, SC_EINVAL
 * ("'s3://B': no key"; a bad bucket name, endpoint or region), SC_ECONFIG
 * (a credentials file that cannot be read or lacks the secret of its key
 * id), SC_ENOMEM. */
SC_MUST_CHECK int sc_obj_open(const char *uri, sc_obj **out);

/* The location NAME inside the "directory" PREFIX (a location ending in
 * '/'): "s3://b/p/" + "x.h5ad". SC_EINVAL when PREFIX does not end in '/'
 * or NAME is empty or holds a '/'. */
SC_MUST_CHECK int sc_obj_child(const char *prefix, const char *name,
                               sc_obj **out);

void sc_obj_free(sc_obj *ob);

/* The location as given ("s3://b/k"), for messages; and the http(s) URL
 * the requests go to. Borrowed until sc_obj_free(). */
const char *sc_obj_uri(const sc_obj *ob);
const char *sc_obj_url(const sc_obj *ob);

/* Longest ETag kept (with its quotes). */
#define SC_OBJ_ETAG_MAX 130

/*
 * HEAD: the object's size (*SIZE) and ETag (ETAG, SC_OBJ_ETAG_MAX bytes,
 * "" when the server gave none; may be NULL). Returns 0; SC_ENOTFOUND (HTTP
 * 404); SC_ENET (other HTTP errors, network failures after O's retries, an
 * answer without a size); SC_ENOMEM. Messages name the location.
 * Thread-safe (OB is only read).
 */
SC_MUST_CHECK int sc_obj_head(const sc_http_opts *o, const sc_obj *ob,
                              int64_t *size, char *etag);

/*
 * GET bytes [OFF, OFF + LEN) of the object into BUF (LEN bytes). The answer
 * must be a 206 with exactly that Content-Range (or a 200 of exactly LEN
 * bytes when OFF is 0): a shorter or longer answer, or another range, is
 * refused with SC_ENET ("'s3://b/k': short answer: 10 of 4096 bytes").
 * The total size the server names in Content-Range is stored in *TOTAL
 * when not NULL (-1: not named). Retries as O says. Returns 0, SC_ENOTFOUND,
 * SC_ENET, SC_ENOMEM. Thread-safe.
 */
SC_MUST_CHECK int sc_obj_get(const sc_http_opts *o, const sc_obj *ob,
                             uint64_t off, size_t len, void *buf,
                             int64_t *total);

/*
 * PUT the regular file PATH as the object (one request, streamed from the
 * file; no multipart upload, so the object is at most 5 GiB on AWS). The
 * ETag the server answered goes to ETAG (may be NULL). Returns 0; SC_EIO (PATH
 * cannot be read, or changed size while sent); SC_ENET (HTTP error or network
 * failure after the retries); SC_ENOMEM.
 */
SC_MUST_CHECK int sc_obj_put_file(const sc_http_opts *o, const sc_obj *ob,
                                  const char *path, char *etag);

/* The callback of sc_obj_read: N bytes at P; non-zero stops the read
 * (returned by sc_obj_read). */
typedef int (*sc_obj_sink_fn)(void *ud, const void *p, size_t n);

/*
 * Read the whole object of SIZE bytes (from sc_obj_head) in ranged GETs of
 * CHUNK bytes, up to PARALLEL of them in flight at once (curl multi, as
 * sc_obj_get_many), handing each range to SINK in order: a streaming read
 * (memory stays at PARALLEL * CHUNK). Each answer is checked as sc_obj_get
 * checks one, and a Content-Range total other than SIZE fails ("the object
 * changed size"): no more than SIZE bytes are ever read. Returns 0, what
 * sc_obj_get returns, or SINK's non-zero value.
 */
SC_MUST_CHECK int sc_obj_read(const sc_http_opts *o, const sc_obj *ob,
                              int64_t size, size_t chunk, size_t parallel,
                              sc_obj_sink_fn sink, void *ud);

/*
 * The SHA-256 (DIGEST), size and ETag (ETAG, may be NULL) of the object,
 * from its bytes read with sc_obj_read: 4 ranged GETs in flight, of 8 MiB
 * at most (less for an object under 32 MiB, down to 256 KiB), so memory
 * stays at 32 MiB.
 * Returns 0 or what sc_obj_head and sc_obj_get return.
 */
SC_MUST_CHECK int sc_obj_hash(const sc_http_opts *o, const sc_obj *ob,
                              int64_t *size, char digest[SC_HASH_HEX_SIZE],
                              char *etag);

/*
 * Copy the object to the local file PATH (a temporary file beside it,
 * renamed into place once whole and checked: nothing at PATH otherwise):
 * its size must be SIZE (when >= 0) and at most O->max_size (when set),
 * its SHA-256 SHA256 (when not NULL). *GOT and DIGEST receive what was
 * written. Not resumable: a failed copy starts again. Returns 0,
 * SC_ECORRUPT (size or digest), SC_EIO, or what sc_obj_get returns.
 */
SC_MUST_CHECK int sc_obj_download(const sc_http_opts *o, const sc_obj *ob,
                                  const char *path, int64_t size,
                                  const char *sha256, int64_t *got,
                                  char digest[SC_HASH_HEX_SIZE]);

/*
 * GET the N ranges [OFF[i], OFF[i] + LEN[i]) into BUF[i] at once (curl
 * multi: N requests in flight), each checked as sc_obj_get checks one; a
 * range whose answer failed in a way that may pass is asked again alone,
 * with O's retries. Returns 0 or the first failure.
 */
SC_MUST_CHECK int sc_obj_get_many(const sc_http_opts *o, const sc_obj *ob,
                                  size_t n, const uint64_t *off,
                                  const size_t *len, void *const *buf);

/*
 * A reader of one object through a bounded block cache on disk: blocks of
 * BLOCK bytes are fetched with ranged GETs by a thread of the reader, up to
 * PARALLEL in flight: the block a read waits for first, then read-ahead
 * (after a miss, and when a read first reaches a block that came ahead,
 * the PARALLEL blocks after that one, so that a sequential reader keeps
 * PARALLEL GETs in flight ahead of it). Each block is written to its file
 * as it arrives, and kept in DIR/<key>/ (key: a hash of the URL, size and
 * ETag, so that a changed object never meets its old blocks), at most
 * BYTES of them, blocks on their way included; the least
 * recently used block is removed first. Blocks left by an earlier run are
 * used again. Blocks on disk carry no checksum of their own: readers check
 * what they decode (the pack's header CRC, indices).
 */
typedef struct sc_obj_cache_opts {
    const char *dir;
    uint64_t bytes;
    size_t block;
    int parallel;
} sc_obj_cache_opts;

#define SC_OBJ_CACHE_OPTS_INIT                                                 \
    {                                                                          \
        NULL, (uint64_t)1 << 30, (size_t)8 << 20, 4                            \
    }

/* What a reader did: blocks read from the cache (HITS) or not (MISSES),
 * blocks FETCHED and their BYTES, blocks EVICTED. */
typedef struct sc_obj_reader_stats {
    uint64_t hits, misses, fetched, bytes, evicted;
} sc_obj_reader_stats;

typedef struct sc_obj_reader sc_obj_reader;

/* Open URI (sc_obj_open, then HEAD for its size and ETag) with the cache
 * of CO. *OUT: sc_obj_reader_close(). Returns 0, SC_EINVAL, or what
 * sc_obj_open, sc_obj_head and sc_io_mkdir_p return. */
SC_MUST_CHECK int sc_obj_reader_open(const sc_http_opts *o, const char *uri,
                                     const sc_obj_cache_opts *co,
                                     sc_obj_reader **out);

/* N bytes at OFF into DST, from the cache or fetched. Thread-safe: reads
 * run at once, no lock is held during a transfer or a copy, and a read
 * whose block is on its way waits for it to land. 0, SC_EIO (past the end,
 * cache I/O), or what the fetch of a block failed with (SC_ENOTFOUND,
 * SC_ENET, SC_EIO "interrupted"). */
SC_MUST_CHECK int sc_obj_reader_pread(sc_obj_reader *r, void *dst, size_t n,
                                      uint64_t off);

int64_t sc_obj_reader_size(const sc_obj_reader *r);
const char *sc_obj_reader_etag(const sc_obj_reader *r);
void sc_obj_reader_stats_get(sc_obj_reader *r, sc_obj_reader_stats *st);
void sc_obj_reader_close(sc_obj_reader *r);

/* The default cache directory: $SC_OBJECT_CACHE, else
 * $XDG_CACHE_HOME/sc/objects, else ~/.cache/sc/objects. 0 or SC_ECONFIG. */
SC_MUST_CHECK int sc_obj_default_cache(char *buf, size_t size);

#endif
