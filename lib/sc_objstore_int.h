/* sc_objstore_int.h: private to sc_objstore*.c: a location, one request
 * and its handle, and the read-ahead plan of the block cache. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_OBJSTORE_INT_H
#define SC_OBJSTORE_INT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_objstore.h"

struct sc_obj {
    char *uri;
    char *url;
    char *userpwd;   /* "id:secret", NULL: unsigned */
    char *sigv4;     /* "aws:amz:REGION:s3" */
    char *token_hdr; /* "x-amz-security-token: ..." or NULL */
};

/* One request and what came back. */
struct obj_req {
    const sc_http_opts *o;
    const sc_obj *ob;
    /* range GET: LEN bytes from OFF into BUF, or (TO_FILE) written at
     * their place in OUT_FD */
    unsigned char *buf;
    int to_file, out_fd, wr_err;
    size_t len, got;
    uint64_t off;
    int too_long;
    /* PUT */
    int fd;
    int64_t put_size, sent;
    int read_err;
    /* answer */
    long status;
    int64_t clen; /* Content-Length, -1: none */
    int64_t range_start, range_end, range_total;
    char etag[SC_OBJ_ETAG_MAX];
    char errbuf[CURL_ERROR_SIZE];
};

/* What became of a finished request. */
enum { SC_OBJ_OK, SC_OBJ_RETRY, SC_OBJ_FATAL };

/* A new handle for the request R (method set by the caller), its headers
 * in *HDRS (curl_slist_free_all after the handle); NULL: out of memory. */
CURL *sc_obj_req_easy(struct obj_req *r, struct curl_slist **hdrs);

/* Make R's handle C a GET of R's range. */
void sc_obj_req_setup_get(struct obj_req *r, CURL *c);

/* The outcome of R's finished transfer on C (CC), then of its answer as a
 * range GET: SC_OBJ_*; *RC and the message are set unless SC_OBJ_OK. */
int sc_obj_req_get_outcome(struct obj_req *r, CURL *c, CURLcode cc, int *rc);

/* Seconds to wait before retry K (1, 2, ...) as O says. */
double sc_obj_retry_wait(const sc_http_opts *o, int k);

/* Block states of the cache. */
enum { SC_OBJ_B_ABSENT, SC_OBJ_B_QUEUED, SC_OBJ_B_FETCHING, SC_OBJ_B_PRESENT };

/*
 * The read-ahead of a reader at block B of N blocks whose states are STATE:
 * the blocks among B + 1 .. B + WINDOW (before N) that are
 * SC_OBJ_B_ABSENT, in order, into OUT (room for WINDOW). Returns how many.
 */
size_t sc_obj_ra_plan(const unsigned char *state, uint64_t n, uint64_t b,
                      unsigned window, uint64_t *out);

#endif
