/* sc_stream_raw: row blocks of a CSR h5ad matrix read without HDF5 on the
 * hot path (issue 9): pread at the dataset or chunk address, libdeflate
 * for deflate chunks, a small cache of inflated chunks, types converted
 * in C to float32 values and int32 column indices. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_h5.h"
#include "sc_progress.h"
#include "sc_stream_int.h"

/*
 * HDF5 is asked once per file for the layout, the type and the address of
 * each dataset (contiguous) or of each chunk (chunked: the table is read at
 * open in one walk of the chunk index, sc_h5_chunk_table, or when that
 * cannot, filled as chunks are first touched, H5Dget_chunk_info_by_coord).
 * After that a read is pread + (deflate) libdeflate + a conversion loop,
 * with no lock and no conversion buffer. Datasets with other filters,
 * big-endian or unusual types are left to sc_mat (SC_EUNSUP).
 */

enum { K_F32, K_F64, K_I8, K_U8, K_I16, K_U16, K_I32, K_U32, K_I64, K_U64 };

/* Inflated chunks kept per dataset: the rows of a buffer are read in file
 * order, so neighbouring blocks share the chunk on their boundary. */
#define CACHE_N 4
#define NO_ADDR UINT64_MAX

typedef struct rds {
    int kind;
    size_t isz;
    int64_t n;     /* elements */
    int chunked;   /* else contiguous at off */
    int deflate;   /* chunks pass through deflate */
    uint64_t off;  /* contiguous */
    int64_t chunk; /* elements per chunk */
    int64_t n_chunks;
    uint64_t *addr; /* per chunk, NO_ADDR: not looked up yet */
    int lazy;       /* chunks are looked up through HDF5 as touched */
    uint32_t *size; /* stored bytes, 0: never written (fill value 0) */
    uint32_t *mask; /* filter mask */
    int64_t cidx[CACHE_N];
    size_t cvalid[CACHE_N]; /* bytes of the chunk inflated (a prefix) */
    unsigned char *cbuf[CACHE_N];
    unsigned next; /* round-robin victim */
    unsigned char *z;
    size_t zcap;
} rds;

struct ss_raw {
    int fd;
    /* the reader's indptr and chunk tables are OWNER's (a skeleton,
     * ss_raw_skeleton), which outlives it; NULL: its own */
    const ss_raw *owner;
    struct stat st; /* the file when the tables were read (skeletons) */
    uint64_t base;  /* the user block: HDF5 1.10's chunk addresses omit it */
    hid_t file;
    const char *label;
    char *label_own; /* a skeleton's copy of its label */
    hid_t d_data, d_idx;
    int64_t n_rows, n_cols;
    int64_t *indptr;
    rds data, idx;
    struct libdeflate_decompressor *dec;
    z_stream zs; /* for a chunk's beginning only */
    int zs_ready;
    unsigned char *stage;
    size_t stage_cap;
};

/* Process-wide counters for -v (ss_raw_stats): compressed bytes read,
 * bytes inflated, bytes of inflated chunks used, nanoseconds inflating. */
static uint64_t st_in, st_out, st_used, st_ns;

void ss_raw_stats(uint64_t *in, uint64_t *out, uint64_t *used, double *secs)
{
    *in = __atomic_load_n(&st_in, __ATOMIC_RELAXED);
    *out = __atomic_load_n(&st_out, __ATOMIC_RELAXED);
    *used = __atomic_load_n(&st_used, __ATOMIC_RELAXED);
    *secs = (double)__atomic_load_n(&st_ns, __ATOMIC_RELAXED) * 1e-9;
}

static int kind_of(hid_t type, int *kind, size_t *isz)
{
    H5T_class_t cl = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    if (H5Tget_order(type) != H5T_ORDER_LE && sz > 1)
        return SC_EUNSUP;
    *isz = sz;
    if (cl == H5T_FLOAT) {
        if (sz == 4)
            *kind = K_F32;
        else if (sz == 8)
            *kind = K_F64;
        else
            return SC_EUNSUP;
        return 0;
    }
    if (cl != H5T_INTEGER)
        return SC_EUNSUP;
    int sgn = H5Tget_sign(type) == H5T_SGN_2;
    switch (sz) {
    case 1: *kind = sgn ? K_I8 : K_U8; return 0;
    case 2: *kind = sgn ? K_I16 : K_U16; return 0;
    case 4: *kind = sgn ? K_I32 : K_U32; return 0;
    case 8: *kind = sgn ? K_I64 : K_U64; return 0;
    default: return SC_EUNSUP;
    }
}

static void rds_release(rds *d, int borrowed)
{
    if (!borrowed) {
        free(d->addr);
        free(d->size);
        free(d->mask);
    }
    for (int i = 0; i < CACHE_N; i++)
        free(d->cbuf[i]);
    free(d->z);
}

/* Describe dataset DS of N elements (in the file open as FD), or
 * SC_EUNSUP. */
static int rds_init(rds *d, hid_t ds, int fd)
{
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds), dcpl = -1;
    hsize_t dims[2], cdims[2];
    int rc = SC_EUNSUP;

    memset(d, 0, sizeof *d);
    for (int i = 0; i < CACHE_N; i++)
        d->cidx[i] = -1;
    if (type < 0 || space < 0 || H5Sget_simple_extent_ndims(space) != 1)
        goto out;
    H5Sget_simple_extent_dims(space, dims, NULL);
    d->n = (int64_t)dims[0];
    if (kind_of(type, &d->kind, &d->isz) < 0)
        goto out;
    if ((dcpl = H5Dget_create_plist(ds)) < 0)
        goto out;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    if (lay == H5D_CONTIGUOUS) {
        haddr_t a = H5Dget_offset(ds);
        if (d->n > 0 && a == HADDR_UNDEF)
            goto out;
        d->off = (uint64_t)a;
        rc = 0;
        goto out;
    }
    if (lay != H5D_CHUNKED || H5Pget_chunk(dcpl, 1, cdims) != 1 ||
        cdims[0] == 0)
        goto out;
    int nf = H5Pget_nfilters(dcpl);
    if (nf == 1) {
        unsigned flags;
        size_t ne = 0;
        if (H5Pget_filter2(dcpl, 0, &flags, &ne, NULL, 0, NULL, NULL) !=
            H5Z_FILTER_DEFLATE)
            goto out;
        d->deflate = 1;
    } else if (nf != 0) {
        goto out;
    }
    d->chunked = 1;
    d->chunk = (int64_t)cdims[0];
    if ((uint64_t)d->chunk * d->isz > UINT32_MAX / 2)
        goto out;
    d->n_chunks = (d->n + d->chunk - 1) / d->chunk;
    size_t nc = d->n_chunks ? (size_t)d->n_chunks : 1;
    d->addr = malloc(nc * sizeof *d->addr);
    d->size = malloc(nc * sizeof *d->size);
    d->mask = malloc(nc * sizeof *d->mask);
    if (!d->addr || !d->size || !d->mask) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    /* the whole chunk table at once, else chunk by chunk as touched */
    rc = sc_h5_chunk_table(ds, fd, d->chunk, d->n_chunks, d->addr, d->size,
                           d->mask);
    if (rc == SC_ENOMEM) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (rc < 0) {
        for (size_t i = 0; i < nc; i++)
            d->addr[i] = NO_ADDR;
        d->lazy = 1;
    }
    rc = 0;
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int pread_all(ss_raw *r, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pread(r->fd, p, n, (off_t)off);
        if (k <= 0)
            return sc_fail(SC_EIO, "%s: short read at offset %llu", r->label,
                           (unsigned long long)off);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Where chunk C of D is stored (looked up once). */
static int locate(ss_raw *r, rds *d, hid_t ds, int64_t c)
{
    if (d->addr[c] != NO_ADDR)
        return 0;
    hsize_t coord = (hsize_t)(c * d->chunk), sz = 0;
    haddr_t a = HADDR_UNDEF;
    unsigned mask = 0;
    if (H5Dget_chunk_info_by_coord(ds, &coord, &mask, &a, &sz) < 0)
        return sc_h5_fail(SC_EHDF5, "%s: cannot locate chunk %lld", r->label,
                          (long long)c);
    if (a == HADDR_UNDEF || sz == 0) {
        d->size[c] = 0;
        d->addr[c] = 0;
        return 0;
    }
    if (sz > UINT32_MAX)
        return sc_fail(SC_ECORRUPT, "%s: chunk %lld too large", r->label,
                       (long long)c);
    d->size[c] = (uint32_t)sz;
    d->mask[c] = mask;
    d->addr[c] = (uint64_t)a + r->base;
    return 0;
}

/* Inflate the first NEED bytes of the zlib stream Z of SZ bytes into OUT
 * with zlib, which stops when the output is full: the cost follows NEED,
 * not the chunk. */
static int inflate_prefix(ss_raw *r, const unsigned char *z, uint32_t sz,
                          unsigned char *out, size_t need)
{
    int zr;
    if (!r->zs_ready) {
        if (inflateInit(&r->zs) != Z_OK)
            return -1;
        r->zs_ready = 1;
    } else if (inflateReset(&r->zs) != Z_OK) {
        return -1;
    }
    r->zs.next_in = (unsigned char *)z;
    r->zs.avail_in = sz;
    r->zs.next_out = out;
    r->zs.avail_out = (uInt)need;
    do
        zr = inflate(&r->zs, Z_NO_FLUSH);
    while (zr == Z_OK && r->zs.avail_out > 0);
    return r->zs.avail_out == 0 &&
                   (zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR)
               ? 0
               : -1;
}

/* The inflated chunk C of D (deflate datasets only), at least its first
 * NEED bytes, from the cache. A read that ends early in a chunk inflates
 * only that beginning of it (the next block of the epoch starts there, at
 * another time). */
static int inflated(ss_raw *r, rds *d, hid_t ds, int64_t c, size_t need,
                    const unsigned char **out)
{
    size_t cb = (size_t)d->chunk * d->isz;
    int rc, v = -1;

    for (int i = 0; i < CACHE_N; i++)
        if (d->cidx[i] == c) {
            if (d->cvalid[i] >= need) {
                *out = d->cbuf[i];
                return 0;
            }
            v = i; /* a beginning only: inflate it again, further */
        }
    if (v < 0)
        v = (int)(d->next++ % CACHE_N);
    if (!d->cbuf[v] && !(d->cbuf[v] = malloc(cb)))
        return sc_fail(SC_ENOMEM, "out of memory");
    d->cidx[v] = -1;
    if ((rc = locate(r, d, ds, c)) < 0)
        return rc;
    uint32_t sz = d->size[c];
    size_t got = cb;
    if (sz == 0) {
        memset(d->cbuf[v], 0, cb);
    } else if (d->mask[c] & 1) { /* deflate skipped for this chunk */
        if (sz != cb)
            return sc_fail(SC_ECORRUPT, "%s: chunk %lld of %u bytes", r->label,
                           (long long)c, sz);
        if ((rc = pread_all(r, d->cbuf[v], cb, d->addr[c])) < 0)
            return rc;
    } else {
        if (sz > d->zcap) {
            unsigned char *z = realloc(d->z, sz);
            if (!z)
                return sc_fail(SC_ENOMEM, "out of memory");
            d->z = z;
            d->zcap = sz;
        }
        /* a beginning needs only the compressed bytes that hold it: read
         * in proportion, with a margin, and all of it when that fails */
        uint64_t t0 = (uint64_t)sc_mono_ns();
        int part = need < cb / 4;
        uint32_t zn = sz;
        if (part) {
            uint64_t want = (uint64_t)sz * need / cb * 2 + 4096;
            zn = want < sz ? (uint32_t)want : sz;
        }
        if ((rc = pread_all(r, d->z, zn, d->addr[c])) < 0)
            return rc;
        if (part && inflate_prefix(r, d->z, zn, d->cbuf[v], need) < 0 &&
            (zn == sz ||
             (rc = pread_all(r, d->z + zn, sz - zn, d->addr[c] + zn)) < 0 ||
             (zn = sz, inflate_prefix(r, d->z, sz, d->cbuf[v], need) < 0)))
            return rc < 0
                       ? rc
                       : sc_fail(SC_ECORRUPT, "%s: chunk %lld does not inflate",
                                 r->label, (long long)c);
        if (part) {
            got = need;
        } else if (libdeflate_zlib_decompress(r->dec, d->z, sz, d->cbuf[v], cb,
                                              &got) != LIBDEFLATE_SUCCESS ||
                   got != cb) {
            return sc_fail(SC_ECORRUPT, "%s: chunk %lld does not inflate",
                           r->label, (long long)c);
        }
        __atomic_fetch_add(&st_ns, (uint64_t)sc_mono_ns() - t0,
                           __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_in, zn, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_out, got, __ATOMIC_RELAXED);
    }
    d->cidx[v] = c;
    d->cvalid[v] = got;
    *out = d->cbuf[v];
    return 0;
}

/* Elements [S, S + N) of D, in the file's layout, into OUT. */
static int rds_read(ss_raw *r, rds *d, hid_t ds, int64_t s, int64_t n,
                    unsigned char *out)
{
    int rc;

    if (n <= 0)
        return 0;
    if (s < 0 || s + n > d->n)
        return sc_fail(SC_EFORMAT, "%s: entries [%lld, %lld) beyond %lld",
                       r->label, (long long)s, (long long)(s + n),
                       (long long)d->n);
    if (!d->chunked)
        return pread_all(r, out, (size_t)n * d->isz,
                         d->off + (uint64_t)s * d->isz);
    for (int64_t c = s / d->chunk; n > 0; c++) {
        int64_t in = s - c * d->chunk, k = d->chunk - in;
        if (k > n)
            k = n;
        size_t bytes = (size_t)k * d->isz;
        if (d->deflate) {
            const unsigned char *p = NULL;
            if ((rc = inflated(r, d, ds, c, (size_t)(in + k) * d->isz, &p)) < 0)
                return rc;
            memcpy(out, p + (size_t)in * d->isz, bytes);
            __atomic_fetch_add(&st_used, bytes, __ATOMIC_RELAXED);
        } else {
            if ((rc = locate(r, d, ds, c)) < 0)
                return rc;
            if (d->size[c] == 0)
                memset(out, 0, bytes);
            else if ((rc = pread_all(r, out, bytes,
                                     d->addr[c] + (uint64_t)in * d->isz)) < 0)
                return rc;
        }
        out += bytes;
        s += k;
        n -= k;
    }
    return 0;
}

#define CONVERT(T, DST, SRC, N, CAST)                                          \
    do {                                                                       \
        const T *src_ = (const T *)(SRC);                                      \
        for (int64_t k_ = 0; k_ < (N); k_++)                                   \
            (DST)[k_] = CAST src_[k_];                                         \
    } while (0)

static void convert(int kind, const void *src, int64_t n, float *fv,
                    int32_t *iv)
{
#define CASE(K, T)                                                             \
    case K:                                                                    \
        if (fv)                                                                \
            CONVERT(T, fv, src, n, (float));                                   \
        else                                                                   \
            CONVERT(T, iv, src, n, (int32_t));                                 \
        break
    switch (kind) {
        CASE(K_F32, float);
        CASE(K_F64, double);
        CASE(K_I8, int8_t);
        CASE(K_U8, uint8_t);
        CASE(K_I16, int16_t);
        CASE(K_U16, uint16_t);
        CASE(K_I32, int32_t);
        CASE(K_U32, uint32_t);
        CASE(K_I64, int64_t);
        CASE(K_U64, uint64_t);
    }
#undef CASE
}

int ss_raw_threadsafe(const ss_raw *r)
{
    return r && !r->data.lazy && !r->idx.lazy;
}

void ss_raw_close(ss_raw *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->d_data >= 0)
        H5Dclose(r->d_data);
    if (r->d_idx >= 0)
        H5Dclose(r->d_idx);
    if (!r->owner)
        free(r->indptr);
    free(r->label_own);
    rds_release(&r->data, r->owner != NULL);
    rds_release(&r->idx, r->owner != NULL);
    if (r->dec)
        libdeflate_free_decompressor(r->dec);
    if (r->zs_ready)
        inflateEnd(&r->zs);
    free(r->stage);
    free(r);
}

int ss_raw_detach(ss_raw *r)
{
    if (!ss_raw_threadsafe(r))
        return SC_EUNSUP;
    if (r->d_data >= 0)
        H5Dclose(r->d_data);
    if (r->d_idx >= 0)
        H5Dclose(r->d_idx);
    r->d_data = r->d_idx = H5I_INVALID_HID;
    r->file = H5I_INVALID_HID;
    return 0;
}

/* *DST: a copy of the N elements of SIZE bytes at SRC (NULL for NULL). */
static int dup_array(void *dst, const void *src, size_t n, size_t size)
{
    void **d = dst;
    *d = NULL;
    if (!src)
        return 0;
    if (!(*d = malloc((n ? n : 1) * size)))
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy(*d, src, n * size);
    return 0;
}

/* D: the description of dataset S without its chunk cache; with BORROW,
 * D uses S's chunk table rather than a copy. */
static int rds_clone(rds *d, const rds *s, int borrow)
{
    size_t nc = s->n_chunks ? (size_t)s->n_chunks : 1;
    int rc;

    memset(d, 0, sizeof *d);
    d->kind = s->kind;
    d->isz = s->isz;
    d->n = s->n;
    d->chunked = s->chunked;
    d->deflate = s->deflate;
    d->off = s->off;
    d->chunk = s->chunk;
    d->n_chunks = s->n_chunks;
    for (int i = 0; i < CACHE_N; i++)
        d->cidx[i] = -1;
    if (borrow) {
        d->addr = s->addr;
        d->size = s->size;
        d->mask = s->mask;
        return 0;
    }
    if ((rc = dup_array(&d->addr, s->addr, nc, sizeof *d->addr)) < 0 ||
        (rc = dup_array(&d->size, s->size, nc, sizeof *d->size)) < 0 ||
        (rc = dup_array(&d->mask, s->mask, nc, sizeof *d->mask)) < 0)
        return rc;
    return 0;
}

/* A reader of R's file on the descriptor FD (taken over): R's tables
 * copied, or borrowed from R's owner (or R itself when SHARE), with its
 * own chunk cache and inflater. */
static int raw_copy(const ss_raw *r, int fd, int share, ss_raw **out)
{
    const ss_raw *o = r->owner ? r->owner : share ? r : NULL;
    ss_raw *c;
    int rc;

    *out = NULL;
    if (!(c = calloc(1, sizeof *c))) {
        if (fd >= 0)
            close(fd);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    c->fd = fd;
    c->owner = o;
    c->d_data = c->d_idx = c->file = H5I_INVALID_HID;
    c->base = r->base;
    c->label = r->label;
    c->n_rows = r->n_rows;
    c->n_cols = r->n_cols;
    c->st = r->st;
    if ((rc = rds_clone(&c->data, &r->data, o != NULL)) < 0 ||
        (rc = rds_clone(&c->idx, &r->idx, o != NULL)) < 0)
        goto fail;
    if (o)
        c->indptr = o->indptr;
    else if ((rc = dup_array(&c->indptr, r->indptr, (size_t)r->n_rows + 1,
                             sizeof *c->indptr)) < 0)
        goto fail;
    if (fd >= 0 && !(c->dec = libdeflate_alloc_decompressor())) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    ss_raw_close(c);
    return rc;
}

int ss_raw_clone(const ss_raw *r, ss_raw **out)
{
    int fd;

    *out = NULL;
    if (r->file >= 0 || !ss_raw_threadsafe(r))
        return SC_EUNSUP;
    if ((fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return sc_fail(SC_EIO, "%s: %s", r->label, strerror(errno));
    return raw_copy(r, fd, 0, out);
}

int ss_raw_skeleton(const ss_raw *r, ss_raw **out)
{
    int rc;

    *out = NULL;
    if (r->file >= 0 || r->owner || !ss_raw_threadsafe(r))
        return SC_EUNSUP;
    if ((rc = raw_copy(r, -1, 0, out)) < 0)
        return rc;
    /* its own label: the path R borrows may go before it */
    if (!((*out)->label_own = strdup(r->label))) {
        ss_raw_close(*out);
        *out = NULL;
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    (*out)->label = (*out)->label_own;
    return 0;
}

int ss_raw_fits(const ss_raw *r, const struct stat *st, int64_t n_rows,
                int64_t n_cols, const uint32_t *nnz)
{
    if (r->st.st_dev != st->st_dev || r->st.st_ino != st->st_ino ||
        r->st.st_size != st->st_size ||
        r->st.st_mtim.tv_sec != st->st_mtim.tv_sec ||
        r->st.st_mtim.tv_nsec != st->st_mtim.tv_nsec || r->n_rows != n_rows ||
        r->n_cols != n_cols)
        return 0;
    for (int64_t i = 0; i < n_rows; i++)
        if (r->indptr[i + 1] - r->indptr[i] != (int64_t)nnz[i])
            return 0;
    return 1;
}

/*
 * A skeleton as bytes (ss_raw_layout_save), in the byte order of the
 * machine: the file's device, inode, size and mtime (s, ns), the user
 * block, rows, columns; per dataset (data, indices) its kind, elements,
 * chunked, deflate, offset, chunk, chunks; then per chunked dataset the
 * chunks' addresses (u64), sizes and filter masks (u32); then indptr.
 * Every field is 8 bytes but the chunk sizes and masks. The chunk
 * addresses are offsets in the file, the user block already added
 * (locate), so the load checks each one against the file's size as it is.
 */
enum { LAYOUT_HEAD = 8, LAYOUT_RDS = 7 };

static size_t layout_bytes(const ss_raw *r)
{
    size_t n = (LAYOUT_HEAD + 2 * LAYOUT_RDS) * 8 +
               ((size_t)r->n_rows + 1) * sizeof *r->indptr;
    const rds *d[2] = {&r->data, &r->idx};
    for (int i = 0; i < 2; i++)
        if (d[i]->chunked)
            n += (size_t)d[i]->n_chunks * 16;
    return n;
}

static unsigned char *put8(unsigned char *p, int64_t v)
{
    memcpy(p, &v, 8);
    return p + 8;
}

int ss_raw_layout_save(const ss_raw *r, unsigned char **out, size_t *n)
{
    const rds *d[2] = {&r->data, &r->idx};
    unsigned char *p;

    *out = NULL;
    *n = 0;
    if (r->fd >= 0 || r->file >= 0 || r->owner || !ss_raw_threadsafe(r))
        return SC_EUNSUP;
    *n = layout_bytes(r);
    if (!(*out = p = malloc(*n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    p = put8(p, (int64_t)r->st.st_dev);
    p = put8(p, (int64_t)r->st.st_ino);
    p = put8(p, (int64_t)r->st.st_size);
    p = put8(p, (int64_t)r->st.st_mtim.tv_sec);
    p = put8(p, (int64_t)r->st.st_mtim.tv_nsec);
    p = put8(p, (int64_t)r->base);
    p = put8(p, r->n_rows);
    p = put8(p, r->n_cols);
    for (int i = 0; i < 2; i++) {
        p = put8(p, d[i]->kind);
        p = put8(p, d[i]->n);
        p = put8(p, d[i]->chunked);
        p = put8(p, d[i]->deflate);
        p = put8(p, (int64_t)d[i]->off);
        p = put8(p, d[i]->chunk);
        p = put8(p, d[i]->n_chunks);
    }
    for (int i = 0; i < 2; i++) {
        size_t nc = d[i]->chunked ? (size_t)d[i]->n_chunks : 0;
        if (!nc) /* contiguous: no tables (and no pointers to copy from) */
            continue;
        memcpy(p, d[i]->addr, nc * 8);
        p += nc * 8;
        memcpy(p, d[i]->size, nc * 4);
        p += nc * 4;
        memcpy(p, d[i]->mask, nc * 4);
        p += nc * 4;
    }
    memcpy(p, r->indptr, ((size_t)r->n_rows + 1) * sizeof *r->indptr);
    return 0;
}

/* Bytes of an element of KIND, 0 when KIND is not one. */
static size_t kind_size(int64_t kind)
{
    static const size_t sz[] = {4, 8, 1, 1, 2, 2, 4, 4, 8, 8};
    return kind >= 0 && kind <= K_U64 ? sz[kind] : 0;
}

typedef struct lrd {
    const unsigned char *p;
    size_t n, off;
} lrd;

/* The next 8 bytes of L as an int64 into *V; 0, or -1 past the end. */
static int get8(lrd *l, int64_t *v)
{
    if (l->n - l->off < 8)
        return -1;
    memcpy(v, l->p + l->off, 8);
    l->off += 8;
    return 0;
}

/* The description of one dataset from L, checked against the file's SIZE
 * (the tables are read later). */
static int layout_rds(lrd *l, rds *d, int64_t size)
{
    int64_t v[LAYOUT_RDS];
    for (int i = 0; i < LAYOUT_RDS; i++)
        if (get8(l, &v[i]) < 0)
            return -1;
    memset(d, 0, sizeof *d);
    for (int i = 0; i < CACHE_N; i++)
        d->cidx[i] = -1;
    d->kind = (int)v[0];
    d->isz = kind_size(v[0]);
    d->n = v[1];
    d->chunked = (int)v[2];
    d->deflate = (int)v[3];
    d->off = (uint64_t)v[4];
    d->chunk = v[5];
    d->n_chunks = v[6];
    if (!d->isz || d->n < 0 || (v[2] != 0 && v[2] != 1) ||
        (v[3] != 0 && v[3] != 1) || (d->deflate && !d->chunked))
        return -1;
    if (!d->chunked) /* the whole dataset inside the file */
        return d->n == 0 || (v[4] >= 0 && v[4] <= size &&
                             (uint64_t)d->n <= (uint64_t)(size - v[4]) / d->isz)
                   ? 0
                   : -1;
    if (d->chunk < 1 || (uint64_t)d->chunk * d->isz > UINT32_MAX / 2 ||
        d->n_chunks != d->n / d->chunk + (d->n % d->chunk != 0) ||
        (uint64_t)d->n_chunks > (l->n - l->off) / 16)
        return -1;
    return 0;
}

/* The chunk table of D from L: every chunk located inside the file's SIZE
 * bytes (or never written). */
static int layout_chunks(lrd *l, rds *d, int64_t size)
{
    size_t nc = d->chunked ? (size_t)d->n_chunks : 0;
    if (!d->chunked)
        return 0;
    if ((l->n - l->off) / 16 < nc)
        return -1;
    if (!(d->addr = malloc((nc ? nc : 1) * 8)) ||
        !(d->size = malloc((nc ? nc : 1) * 4)) ||
        !(d->mask = malloc((nc ? nc : 1) * 4)))
        return SC_ENOMEM;
    memcpy(d->addr, l->p + l->off, nc * 8);
    memcpy(d->size, l->p + l->off + nc * 8, nc * 4);
    memcpy(d->mask, l->p + l->off + nc * 12, nc * 4);
    l->off += nc * 16;
    for (size_t c = 0; c < nc; c++)
        if (d->size[c] != 0 && (d->addr[c] > (uint64_t)size ||
                                d->size[c] > (uint64_t)size - d->addr[c]))
            return -1;
    return 0;
}

int ss_raw_layout_load(const void *p, size_t n, const char *path, ss_raw **out)
{
    lrd l = {p, n, 0};
    int64_t h[LAYOUT_HEAD];
    ss_raw *r;
    int rc = SC_EFORMAT;

    *out = NULL;
    for (int i = 0; i < LAYOUT_HEAD; i++)
        if (get8(&l, &h[i]) < 0)
            return SC_EFORMAT;
    if (h[2] < 0 || h[4] < 0 || h[4] >= 1000000000 || h[5] < 0 || h[5] > h[2] ||
        h[6] < 0 || h[7] < 0 || h[7] > INT32_MAX || (uint64_t)h[6] >= n / 8)
        return SC_EFORMAT;
    if (!(r = calloc(1, sizeof *r)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->fd = -1;
    r->file = r->d_data = r->d_idx = H5I_INVALID_HID;
    r->st.st_dev = (dev_t)h[0];
    r->st.st_ino = (ino_t)h[1];
    r->st.st_size = (off_t)h[2];
    r->st.st_mtim.tv_sec = (time_t)h[3];
    r->st.st_mtim.tv_nsec = (long)h[4];
    r->base = (uint64_t)h[5];
    r->n_rows = h[6];
    r->n_cols = h[7];
    if (layout_rds(&l, &r->data, h[2]) < 0 ||
        layout_rds(&l, &r->idx, h[2]) < 0 || r->data.n != r->idx.n ||
        r->idx.kind == K_F32 || r->idx.kind == K_F64)
        goto fail;
    if ((rc = layout_chunks(&l, &r->data, h[2])) < 0 ||
        (rc = layout_chunks(&l, &r->idx, h[2])) < 0) {
        if (rc == SC_ENOMEM)
            goto nomem;
        rc = SC_EFORMAT;
        goto fail;
    }
    rc = SC_EFORMAT;
    if ((l.n - l.off) / 8 != (size_t)r->n_rows + 1 || (l.n - l.off) % 8)
        goto fail;
    if (!(r->indptr = malloc(((size_t)r->n_rows + 1) * sizeof *r->indptr)))
        goto nomem;
    memcpy(r->indptr, l.p + l.off, ((size_t)r->n_rows + 1) * 8);
    for (int64_t i = 0; i < r->n_rows; i++)
        if (r->indptr[i + 1] < r->indptr[i])
            goto fail;
    if (r->indptr[0] < 0 || r->indptr[r->n_rows] > r->data.n)
        goto fail;
    if (!(r->label_own = strdup(path)))
        goto nomem;
    r->label = r->label_own;
    *out = r;
    return 0;
nomem:
    rc = sc_fail(SC_ENOMEM, "out of memory");
fail:
    ss_raw_close(r);
    return rc;
}

size_t ss_raw_table_bytes(const ss_raw *r)
{
    size_t per = sizeof(uint64_t) + 2 * sizeof(uint32_t);
    return sizeof *r + (size_t)(r->n_rows + 1) * sizeof *r->indptr +
           (size_t)(r->data.chunked ? r->data.n_chunks : 0) * per +
           (size_t)(r->idx.chunked ? r->idx.n_chunks : 0) * per;
}

int ss_raw_reopen(const ss_raw *skel, const char *path, ss_raw **out)
{
    struct stat st;
    int fd;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sc_fail(SC_EIO, "%s: %s", path, strerror(errno));
    /* the same file as when its tables were read, else HDF5 reads it */
    if (fstat(fd, &st) != 0 || st.st_dev != skel->st.st_dev ||
        st.st_ino != skel->st.st_ino || st.st_size != skel->st.st_size ||
        st.st_mtim.tv_sec != skel->st.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != skel->st.st_mtim.tv_nsec) {
        close(fd);
        return SC_EUNSUP;
    }
    return raw_copy(skel, fd, 1, out);
}

int ss_raw_open(const char *path, int64_t file, const char *gpath,
                int64_t n_rows, int64_t n_cols, ss_raw **out)
{
    char p[600];
    ss_raw *r;
    int rc = SC_EUNSUP;

    *out = NULL;
    if (getenv("SC_STREAM_NO_RAW"))
        return SC_EUNSUP;
    if (!(r = calloc(1, sizeof *r)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->fd = -1;
    r->d_data = r->d_idx = H5I_INVALID_HID;
    r->file = (hid_t)file;
    r->label = path;
    r->n_rows = n_rows;
    r->n_cols = n_cols;
    snprintf(p, sizeof p, "%s/data", gpath);
    if ((r->d_data = H5Dopen2(r->file, p, H5P_DEFAULT)) < 0)
        goto fail;
    snprintf(p, sizeof p, "%s/indices", gpath);
    if ((r->d_idx = H5Dopen2(r->file, p, H5P_DEFAULT)) < 0)
        goto fail;
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(r->fd, &r->st) != 0)
        goto fail;
    hid_t fcpl = H5Fget_create_plist(r->file);
    hsize_t ub = 0;
    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) < 0)
            ub = 0;
        H5Pclose(fcpl);
    }
    r->base = (uint64_t)ub;
    if ((rc = rds_init(&r->data, r->d_data, r->fd)) < 0 ||
        (rc = rds_init(&r->idx, r->d_idx, r->fd)) < 0)
        goto fail;
    rc = SC_EUNSUP;
    if (r->idx.kind == K_F32 || r->idx.kind == K_F64 || r->data.n != r->idx.n)
        goto fail;
    if (!(r->indptr = malloc((size_t)(n_rows + 1) * sizeof *r->indptr))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(p, sizeof p, "%s/indptr", gpath);
    hid_t dp = H5Dopen2(r->file, p, H5P_DEFAULT);
    if (dp < 0)
        goto fail;
    rc = sc_h5_read_1d(dp, 0, n_rows + 1, SC_DT_I64, r->indptr, path);
    H5Dclose(dp);
    if (rc < 0)
        goto fail;
    rc = SC_EUNSUP;
    for (int64_t i = 0; i < n_rows; i++)
        if (r->indptr[i + 1] < r->indptr[i])
            goto fail;
    if (r->indptr[0] < 0 || r->indptr[n_rows] > r->data.n)
        goto fail;
    if (!(r->dec = libdeflate_alloc_decompressor()))
        goto fail;
    *out = r;
    return 0;
fail:
    ss_raw_close(r);
    if (rc == SC_EUNSUP)
        sc_err_clear();
    return rc;
}

static int grow(void *pp, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    void **p = pp, *q = realloc(*p, n * size);
    if (!q)
        return sc_fail(SC_ENOMEM, "out of memory for a row block");
    *p = q;
    *cap = n;
    return 0;
}

int ss_rows_reserve(ss_rows *b, int64_t n_rows, int64_t nnz)
{
    int rc;
    if ((rc = grow(&b->indptr, &b->cap_rows, (size_t)n_rows + 1,
                   sizeof *b->indptr)) < 0 ||
        (rc = grow(&b->indices, &b->cap_idx, (size_t)(nnz ? nnz : 1),
                   sizeof *b->indices)) < 0 ||
        (rc = grow(&b->vals, &b->cap_vals, (size_t)(nnz ? nnz : 1),
                   sizeof *b->vals)) < 0)
        return rc;
    return 0;
}

void ss_rows_release(ss_rows *b)
{
    free(b->indptr);
    free(b->indices);
    free(b->vals);
}

int ss_raw_read(ss_raw *r, int64_t r0, int64_t r1, ss_rows *b)
{
    int64_t s = r->indptr[r0], n = r->indptr[r1] - s;
    int rc;

    if ((rc = ss_rows_reserve(b, r1 - r0, n)) < 0)
        return rc;
    b->dense = 0;
    b->n_rows = r1 - r0;
    b->n_cols = r->n_cols;
    for (int64_t i = 0; i <= r1 - r0; i++)
        b->indptr[i] = r->indptr[r0 + i] - s;
    if (r->data.kind == K_F32) {
        rc = rds_read(r, &r->data, r->d_data, s, n, (unsigned char *)b->vals);
    } else if ((rc = grow(&r->stage, &r->stage_cap, (size_t)n * r->data.isz,
                          1)) == 0 &&
               (rc = rds_read(r, &r->data, r->d_data, s, n, r->stage)) == 0) {
        convert(r->data.kind, r->stage, n, b->vals, NULL);
    }
    if (rc < 0)
        return rc;
    if (r->idx.kind == K_I32 || r->idx.kind == K_U32) {
        rc = rds_read(r, &r->idx, r->d_idx, s, n, (unsigned char *)b->indices);
    } else if ((rc = grow(&r->stage, &r->stage_cap, (size_t)n * r->idx.isz,
                          1)) == 0 &&
               (rc = rds_read(r, &r->idx, r->d_idx, s, n, r->stage)) == 0) {
        if (r->idx.kind == K_I64 || r->idx.kind == K_U64) {
            /* out-of-range 64-bit indices become -1 (caught by the caller) */
            const int64_t *q = (const int64_t *)r->stage;
            for (int64_t k = 0; k < n; k++)
                b->indices[k] =
                    q[k] >= 0 && q[k] < INT32_MAX ? (int32_t)q[k] : -1;
        } else {
            convert(r->idx.kind, r->stage, n, NULL, b->indices);
        }
    }
    return rc;
}
