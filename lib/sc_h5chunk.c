/* sc_h5chunk: 1-D HDF5 datasets written and read chunk by chunk, with
 * the deflate work done by libdeflate in worker threads. */
/* SPDX-License-Identifier: MIT */
#include "sc_h5chunk.h"

#include <hdf5.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "sc_pool.h"

/* Chunks compressed or inflated per batch and thread. */
#define PER_THREAD 2

/* One chunk's work: IN (IN_N bytes) to OUT (OUT_N bytes). */
typedef struct job {
    const unsigned char *in;
    size_t in_n;
    unsigned char *out;
    size_t out_cap, out_n;
    struct libdeflate_compressor *cmp;
    struct libdeflate_decompressor *dec;
    int bad;
} job;

static void compress_job(void *arg)
{
    job *j = arg;

    j->out_n =
        libdeflate_zlib_compress(j->cmp, j->in, j->in_n, j->out, j->out_cap);
    j->bad = j->out_n == 0;
}

static void inflate_job(void *arg)
{
    job *j = arg;
    size_t got = 0;

    j->bad =
        libdeflate_zlib_decompress(j->dec, j->in, j->in_n, j->out, j->out_cap,
                                   &got) != LIBDEFLATE_SUCCESS ||
        got != j->out_cap;
}

static int little_endian(void)
{
    const uint16_t one = 1;

    return *(const unsigned char *)&one == 1;
}

/* Whether DS is a chunked 1-D dataset with deflate as its only filter and
 * ITEMSIZE-byte little-endian (or single-byte) values; *CHUNK gets the
 * chunk length in values. */
static int qualifies(hid_t ds, size_t itemsize, hsize_t *chunk)
{
    hid_t dcpl = H5Dget_create_plist(ds), t = H5Dget_type(ds);
    int ok = 0;

    if (dcpl >= 0 && t >= 0 && little_endian() &&
        H5Pget_layout(dcpl) == H5D_CHUNKED &&
        H5Pget_chunk(dcpl, 1, chunk) == 1 && H5Pget_nfilters(dcpl) == 1 &&
        H5Tget_size(t) == itemsize &&
        (itemsize == 1 || H5Tget_order(t) == H5T_ORDER_LE)) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;

        ok = H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL) ==
             H5Z_FILTER_DEFLATE;
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (t >= 0)
        H5Tclose(t);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

struct sc_h5chunk {
    hid_t ds;
    size_t isz, cb; /* value size, chunk bytes */
    hsize_t chunk;  /* values per chunk */
    sc_pool *pool;
    int nslots, n_full;
    size_t part; /* bytes in slot n_full of the buffer being filled */
    /* two batches: one is filled while the workers compress the other */
    unsigned char *stage[2]; /* nslots chunks each */
    job *jobs[2];
    int cur;         /* the batch being filled */
    int pending;     /* chunks of batch !cur submitted, not stored yet */
    hsize_t written; /* values stored */
};

int sc_h5chunk_open(int64_t ds, size_t itemsize, int level, int threads,
                    sc_h5chunk **out)
{
    sc_h5chunk *c;
    hsize_t chunk;
    int rc;

    *out = NULL;
    if (itemsize == 0 || level < 1 || level > 9 ||
        !qualifies((hid_t)ds, itemsize, &chunk))
        return sc_fail(SC_EUNSUP, "dataset does not qualify for chunk writes");
    if (!(c = calloc(1, sizeof *c)))
        return sc_fail(SC_ENOMEM, "out of memory");
    c->ds = (hid_t)ds;
    c->isz = itemsize;
    c->chunk = chunk;
    c->cb = (size_t)chunk * itemsize;
    c->nslots = (threads > 1 ? (threads < 64 ? threads : 64) : 1) * PER_THREAD;
    if ((rc = sc_pool_new(threads, &c->pool)) < 0) {
        free(c);
        return rc;
    }
    for (int b = 0; b < 2; b++) {
        c->stage[b] = malloc((size_t)c->nslots * c->cb);
        c->jobs[b] = calloc((size_t)c->nslots, sizeof(job));
        if (!c->stage[b] || !c->jobs[b])
            goto nomem;
        for (int i = 0; i < c->nslots; i++) {
            job *j = &c->jobs[b][i];

            j->in = c->stage[b] + (size_t)i * c->cb;
            j->in_n = c->cb;
            if (!(j->cmp = libdeflate_alloc_compressor(level)))
                goto nomem;
            j->out_cap = libdeflate_zlib_compress_bound(j->cmp, c->cb);
            if (!(j->out = malloc(j->out_cap)))
                goto nomem;
        }
    }
    *out = c;
    return 0;
nomem:
    (void)sc_h5chunk_close(c, -1);
    return sc_fail(SC_ENOMEM, "out of memory");
}

/* Store chunk J holding N values at the end of the dataset. */
static int store(sc_h5chunk *c, const job *j, hsize_t n)
{
    hsize_t off = c->written, end = c->written + n;

    if (j->bad)
        return sc_fail(SC_EIO, "cannot compress a chunk");
    if (H5Dset_extent(c->ds, &end) < 0 ||
        H5Dwrite_chunk(c->ds, H5P_DEFAULT, 0, &off, j->out_n, j->out) < 0)
        return sc_fail(SC_EHDF5, "cannot write a compressed chunk");
    c->written = end;
    return 0;
}

/* Wait for the batch being compressed and store it, in order; chunk
 * SLOT of it (if not -1) holds only PART bytes. */
static int drain_last(sc_h5chunk *c, int slot, size_t part)
{
    int rc = 0;

    if (!c->pending)
        return 0;
    sc_pool_wait(c->pool);
    for (int i = 0; i < c->pending && rc == 0; i++)
        rc = store(c, &c->jobs[!c->cur][i],
                   i == slot && part > 0 ? (hsize_t)(part / c->isz) : c->chunk);
    c->pending = 0;
    return rc;
}

static int drain(sc_h5chunk *c)
{
    return drain_last(c, -1, 0);
}

/* Hand the full slots of the current batch to the workers and switch to
 * the other batch (whose chunks are stored first). */
static int submit_full(sc_h5chunk *c)
{
    int rc;

    if ((rc = drain(c)) < 0)
        return rc;
    for (int i = 0; i < c->n_full; i++)
        sc_pool_submit(c->pool, compress_job, &c->jobs[c->cur][i]);
    c->pending = c->n_full;
    c->n_full = 0;
    c->cur = !c->cur;
    return 0;
}

int sc_h5chunk_append(sc_h5chunk *c, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    size_t left = n * c->isz;
    int rc;

    while (left > 0) {
        size_t room = c->cb - c->part, k = left < room ? left : room;

        memcpy(c->stage[c->cur] + (size_t)c->n_full * c->cb + c->part, p, k);
        c->part += k;
        p += k;
        left -= k;
        if (c->part == c->cb) {
            c->part = 0;
            if (++c->n_full == c->nslots && (rc = submit_full(c)) < 0)
                return rc;
        }
    }
    return 0;
}

int sc_h5chunk_close(sc_h5chunk *c, int rc)
{
    if (!c)
        return rc;
    if (rc >= 0 && c->jobs[0] && c->jobs[1]) {
        int slot = c->n_full; /* where the partial chunk is */
        int b = c->cur;

        /* the full chunks of this batch, then the partial one with them */
        if (c->part > 0) {
            memset(c->stage[b] + (size_t)slot * c->cb + c->part, 0,
                   c->cb - c->part);
            c->n_full++;
        }
        if ((rc = submit_full(c)) >= 0)
            rc = drain_last(c, slot, c->part);
    }
    if (c->pool) {
        sc_pool_wait(c->pool);
        sc_pool_free(c->pool);
    }
    for (int b = 0; b < 2; b++) {
        if (c->jobs[b])
            for (int i = 0; i < c->nslots; i++) {
                libdeflate_free_compressor(c->jobs[b][i].cmp);
                free(c->jobs[b][i].out);
            }
        free(c->jobs[b]);
        free(c->stage[b]);
    }
    free(c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* Room for NEED bytes in *BUF (*CAP of them): 0 or SC_ENOMEM. */
static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    unsigned char *p;

    if (need <= *cap)
        return 0;
    if (!(p = realloc(*buf, need * 2)))
        return sc_fail(SC_ENOMEM, "out of memory");
    *buf = p;
    *cap = need * 2;
    return 0;
}

int sc_h5chunk_read(int64_t ds64, int64_t start, int64_t n, size_t itemsize,
                    void *buf, int threads, const char *label)
{
    hid_t ds = (hid_t)ds64;
    hsize_t chunk;
    sc_pool *pool = NULL;
    job *jobs = NULL;
    unsigned char *raw = NULL, *plain = NULL;
    size_t cb, raw_cap = 0;
    int nslots, rc = 0;
    int64_t c0, c1;

    if (n <= 0)
        return 0;
    if (!qualifies(ds, itemsize, &chunk))
        return sc_fail(SC_EUNSUP, "'%s': not a deflate-only chunked dataset",
                       label);
    cb = (size_t)chunk * itemsize;
    c0 = start / (int64_t)chunk;
    c1 = (start + n - 1) / (int64_t)chunk + 1;
    nslots = (threads > 1 ? (threads < 64 ? threads : 64) : 1) * PER_THREAD;
    if (nslots > c1 - c0)
        nslots = (int)(c1 - c0);
    if ((rc = sc_pool_new(c1 - c0 > 1 ? threads : 1, &pool)) < 0)
        return rc;
    jobs = calloc((size_t)nslots, sizeof *jobs);
    plain = malloc((size_t)nslots * cb);
    if (!jobs || !plain) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nslots; i++)
        if (!(jobs[i].dec = libdeflate_alloc_decompressor())) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    for (int64_t c = c0; c < c1 && rc == 0; c += nslots) {
        int m = (int)(c1 - c < nslots ? c1 - c : nslots);
        size_t used = 0, offs[64 * PER_THREAD];
        int nm = m;

        /* fetch the stored chunks of this batch (under HDF5's lock) */
        for (int i = 0; i < nm; i++) {
            hsize_t off = (hsize_t)(c + i) * chunk, sz = 0;
            uint32_t mask = 0;

            if (H5Dget_chunk_storage_size(ds, &off, &sz) < 0) {
                rc = sc_fail(SC_EHDF5, "'%s': cannot locate chunk %lld", label,
                             (long long)(c + i));
                break;
            }
            if ((rc = grow(&raw, &raw_cap, used + sz)) < 0)
                break;
            offs[i] = used;
            jobs[i].in_n = sz;
            if (sz == 0) {
                /* never written: HDF5 reads it as the fill value (0) */
                jobs[i].bad = -1;
                continue;
            }
            if (H5Dread_chunk(ds, H5P_DEFAULT, &off, &mask, raw + used) < 0) {
                rc = sc_fail(SC_EHDF5, "'%s': cannot read chunk %lld", label,
                             (long long)(c + i));
                break;
            }
            if (mask != 0) {
                rc = sc_fail(SC_EUNSUP, "'%s': chunk stored unfiltered", label);
                break;
            }
            used += sz;
        }
        if (rc < 0)
            break;
        for (int i = 0; i < nm; i++) {
            jobs[i].in = raw + offs[i];
            jobs[i].out = plain + (size_t)i * cb;
            jobs[i].out_cap = cb;
            if (jobs[i].bad == -1)
                memset(jobs[i].out, 0, cb);
        }
        for (int i = 0; i < nm; i++)
            if (jobs[i].bad != -1)
                sc_pool_submit(pool, inflate_job, &jobs[i]);
        sc_pool_wait(pool);
        for (int i = 0; i < nm; i++) {
            int64_t cs = (c + i) * (int64_t)chunk, ce = cs + (int64_t)chunk;
            int64_t a = cs > start ? cs : start;
            int64_t e = ce < start + n ? ce : start + n;

            if (jobs[i].bad == 1) {
                rc = sc_fail(SC_ECORRUPT, "'%s': chunk %lld does not inflate",
                             label, (long long)(c + i));
                break;
            }
            jobs[i].bad = 0;
            if (e > a)
                memcpy((unsigned char *)buf + (size_t)(a - start) * itemsize,
                       jobs[i].out + (size_t)(a - cs) * itemsize,
                       (size_t)(e - a) * itemsize);
        }
    }
out:
    if (jobs)
        for (int i = 0; i < nslots; i++)
            libdeflate_free_decompressor(jobs[i].dec);
    free(jobs);
    free(plain);
    free(raw);
    sc_pool_free(pool);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Checking chunks before libhdf5 reads them                                */

/* Whether DS is chunked (RANK dims into CHUNK) with deflate alone, of
 * fixed-size values of *ISZ bytes. */
static int deflate_only(hid_t ds, int rank, hsize_t *chunk, size_t *isz)
{
    hid_t dcpl = H5Dget_create_plist(ds), t = H5Dget_type(ds);
    int ok = 0;

    if (dcpl >= 0 && t >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
        H5Pget_chunk(dcpl, rank, chunk) == rank && H5Pget_nfilters(dcpl) == 1 &&
        H5Tget_class(t) != H5T_VLEN && H5Tis_variable_str(t) == 0) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;

        *isz = H5Tget_size(t);
        ok = *isz > 0 && H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL,
                                        NULL) == H5Z_FILTER_DEFLATE;
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (t >= 0)
        H5Tclose(t);
    return ok;
}

/* The number of chunks of DS (RANK dims, CHUNK values each) and the
 * stride of each dimension in chunks (STRIDE); 0 when unknown or over
 * 2^32 chunks. */
static uint64_t grid(hid_t ds, int rank, const hsize_t *chunk, uint64_t *stride)
{
    hsize_t dims[8];
    hid_t sp = H5Dget_space(ds);
    uint64_t n = 1;
    int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == rank &&
             H5Sget_simple_extent_dims(sp, dims, NULL) == rank;

    if (sp >= 0)
        H5Sclose(sp);
    for (int d = rank - 1; ok && d >= 0; d--) {
        uint64_t g = dims[d] / chunk[d] + (dims[d] % chunk[d] != 0);

        stride[d] = n;
        ok = g > 0 && n <= ((uint64_t)1 << 32) / g;
        n *= g;
    }
    return ok ? n : 0;
}

int sc_h5chunk_check_box(int64_t ds64, int rank, const int64_t *start,
                         const int64_t *count, const char *label,
                         unsigned char **seen)
{
    hid_t ds = (hid_t)ds64;
    hsize_t chunk[8], lo[8], hi[8], at[8];
    uint64_t stride[8] = {0}, n_grid = 0;
    struct libdeflate_decompressor *dec = NULL;
    unsigned char *raw = NULL, *out = NULL;
    size_t isz = 0, cb, raw_cap = 0;
    int rc = 0;

    if (rank < 1 || rank > 8 || !deflate_only(ds, rank, chunk, &isz))
        return 0;
    cb = isz;
    for (int d = 0; d < rank; d++) {
        if (count[d] <= 0)
            return 0;
        if (chunk[d] == 0 || cb > ((size_t)1 << 32) / chunk[d])
            return 0; /* beyond what HDF5 allows a chunk: it refuses it */
        cb *= chunk[d];
        lo[d] = at[d] = (hsize_t)start[d] / chunk[d];
        hi[d] = ((hsize_t)start[d] + (hsize_t)count[d] - 1) / chunk[d];
    }
    if (seen && (n_grid = grid(ds, rank, chunk, stride)) && !*seen)
        *seen = calloc((size_t)(n_grid + 7) / 8, 1);
    if (!seen || !n_grid || !*seen)
        seen = NULL; /* nothing remembered */
    if (!(dec = libdeflate_alloc_decompressor()) || !(out = malloc(cb))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        hsize_t off[8], sz = 0;
        uint32_t mask = 0;
        size_t got = 0;
        uint64_t bit = 0;
        int d, bad;

        for (d = 0; d < rank; d++) {
            off[d] = at[d] * chunk[d];
            bit += at[d] * stride[d];
        }
        if (bit >= n_grid)
            seen = NULL; /* (not in the grid: never remembered) */
        if (seen && ((*seen)[bit / 8] >> (bit % 8) & 1))
            goto next; /* checked by an earlier call */
        if (H5Dget_chunk_storage_size(ds, off, &sz) < 0) {
            rc = sc_fail(SC_EHDF5, "'%s': cannot locate the chunk at row %llu",
                         label, (unsigned long long)off[0]);
            break;
        }
        if (sz > 0) {
            if ((rc = grow(&raw, &raw_cap, sz)) < 0)
                break;
            if (H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, raw) < 0) {
                rc =
                    sc_fail(SC_EHDF5, "'%s': cannot read the chunk at row %llu",
                            label, (unsigned long long)off[0]);
                break;
            }
            /* stored as is (the filter skipped), else inflated */
            if (mask & 1)
                bad = sz != cb;
            else
                bad = libdeflate_zlib_decompress(dec, raw, sz, out, cb, &got) !=
                          LIBDEFLATE_SUCCESS ||
                      got != cb;
            if (bad) {
                rc = sc_fail(SC_ECORRUPT,
                             "'%s': the chunk at row %llu, column %llu does "
                             "not inflate to its %zu bytes",
                             label, (unsigned long long)off[0],
                             (unsigned long long)(rank > 1 ? off[1] : 0), cb);
                break;
            }
        }
        if (seen)
            (*seen)[bit / 8] |= (unsigned char)(1u << (bit % 8));
    next:
        /* the next chunk of the box, the last dimension fastest */
        for (d = rank - 1; d >= 0 && at[d] == hi[d]; d--)
            at[d] = lo[d];
        if (d < 0)
            break;
        at[d]++;
    }
out:
    if (dec)
        libdeflate_free_decompressor(dec);
    free(raw);
    free(out);
    return rc;
}
