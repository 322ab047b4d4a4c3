/* sc_pack: the packed, pre-shuffled cell file of sc-stream pack
 * (sc-pack(5)). */
/* SPDX-License-Identifier: MIT */
#include "sc_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_io.h"
#include "sc_varint.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sc_pack maps little-endian arrays in place"
#endif

/* The fixed header: 128 bytes at offset 0 (sc-pack(5)). */
#define MAGIC    "SCPACK\0\0"
#define FIXED    128
#define ALIGN    4096
#define META_OFF ALIGN
/* cell records per read when the arrays are written */
#define REC_CHUNK 65536
/* mapped entry bytes read between drops from the resident set */
#define WINDOW_DEFAULT ((uint64_t)64 << 20)
#define WINDOW_MIN     ((uint64_t)1 << 20)

/* u64 words of the fixed header, from byte 16; in version 2, H_INDICES
 * is where the cell records start, H_VALUES where their offsets do and
 * H_RECLEN the records' bytes */
enum {
    H_CELLS = 2,
    H_NNZ,
    H_META_OFF,
    H_META_LEN,
    H_INDPTR,
    H_INDICES,
    H_VALUES,
    H_LABELS,
    H_DATASET,
    H_ROW,
    H_SIZE,
    H_RECLEN,
    H_WORDS = 16
};

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

/* ------------------------------------------------------------------------ */
/* The record of a cell (version 2)                                         */

/* The mode byte: the indices as zigzag deltas (they do not ascend), the
 * values as raw f32 (they are not all small non-negative integers). */
#define M_ZIGZAG 1u
#define M_RAWVAL 2u

size_t sc_pack_record_bound(uint64_t m)
{
    return 1 + 9 * (size_t)m;
}

/* Whether F is stored as a varint: a non-negative integer below 2^32. */
static int count_like(float f)
{
    return f >= 0 && f < 4294967296.0f && !signbit(f) &&
           (float)(uint32_t)f == f;
}

size_t sc_pack_record_encode(const int32_t *idx, const float *val, uint64_t m,
                             unsigned char *out)
{
    unsigned mode = 0;
    size_t vbytes = 0;
    for (uint64_t k = 0; k < m; k++) {
        if (k > 0 && idx[k] <= idx[k - 1])
            mode |= M_ZIGZAG;
        if (!(mode & M_RAWVAL)) {
            if (count_like(val[k]))
                vbytes += sc_varint_len((uint32_t)val[k]);
            else
                mode |= M_RAWVAL;
        }
    }
    if (vbytes > 4 * m)
        mode |= M_RAWVAL;
    size_t n = 0;
    out[n++] = (unsigned char)mode;
    int64_t prev = -1;
    for (uint64_t k = 0; k < m; k++) {
        int64_t d = (int64_t)idx[k] - prev - 1;
        uint64_t z = mode & M_ZIGZAG ? ((uint64_t)d << 1) ^ (uint64_t)(d >> 63)
                                     : (uint64_t)d;
        n += sc_varint_put(out + n, z);
        prev = idx[k];
    }
    if (mode & M_RAWVAL) {
        memcpy(out + n, val, 4 * (size_t)m);
        n += 4 * (size_t)m;
    } else {
        for (uint64_t k = 0; k < m; k++)
            n += sc_varint_put(out + n, (uint32_t)val[k]);
    }
    return n;
}

/* The next varint of *P (before END) into *V: one byte inline, else
 * sc_varint_get, at most 5 bytes (35 bits). 0, or -1 past END or 5. */
static inline int next_varint(const unsigned char **p, const unsigned char *end,
                              uint64_t *v)
{
    const unsigned char *q = *p;
    if (q < end && *q < 0x80) {
        *v = *q;
        *p = q + 1;
        return 0;
    }
    const unsigned char *e = end - q > 5 ? q + 5 : end;
    if (!(q = sc_varint_get(q, e, v)))
        return -1;
    *p = q;
    return 0;
}

/* Whether the 8 bytes at P are 8 one-byte varints (into *W). */
static inline int eight_small(const unsigned char *p, const unsigned char *end,
                              uint64_t *w)
{
    if (end - p < 8)
        return 0;
    memcpy(w, p, 8);
    return !(*w & 0x8080808080808080ull);
}

const char *sc_pack_record_decode(const unsigned char *rec, size_t len,
                                  uint64_t m, uint64_t n_genes, int32_t *idx,
                                  float *val)
{
    const unsigned char *p = rec, *end = rec + len;
    uint64_t v, w, k = 0;

    if (len < 1)
        return "empty record";
    unsigned mode = *p++;
    if (mode & ~(M_ZIGZAG | M_RAWVAL))
        return "unknown record mode";
    if (mode & M_ZIGZAG) {
        int64_t prev = -1;
        for (; k < m; k++) {
            if (next_varint(&p, end, &v) < 0)
                return "record cut short or malformed";
            int64_t g = prev + 1 + ((int64_t)(v >> 1) ^ -(int64_t)(v & 1));
            if (g < 0 || (uint64_t)g >= n_genes)
                return "gene index out of range";
            idx[k] = (int32_t)(prev = g);
        }
    } else {
        /* ascending: only the last index can be out of range; G + 1 is
         * the next index before its gap (unsigned: -1 + 1 is 0) */
        uint64_t g = 0;
        while (k < m) {
            if (end - p >= 8) {
                /* the one-byte varints among the next 8 bytes, then one
                 * longer varint */
                memcpy(&w, p, 8);
                uint64_t hi = w & 0x8080808080808080ull;
                uint64_t n = hi ? (uint64_t)__builtin_ctzll(hi) >> 3 : 8;
                if (n > m - k)
                    n = m - k;
                for (uint64_t j = 0; j < n; j++) {
                    g += (w >> (8 * j)) & 0xff;
                    idx[k + j] = (int32_t)g++;
                }
                k += n;
                p += n;
                if (n == 8 || k == m)
                    continue;
            }
            if (next_varint(&p, end, &v) < 0)
                return "record cut short or malformed";
            if ((g += v) >= n_genes)
                return "gene index out of range";
            idx[k++] = (int32_t)g++;
        }
        if (m > 0 && g > n_genes)
            return "gene index out of range";
    }
    if (mode & M_RAWVAL) {
        if ((size_t)(end - p) < 4 * (size_t)m)
            return "record cut short";
        memcpy(val, p, 4 * (size_t)m);
        p += 4 * (size_t)m;
    } else {
        for (k = 0; k < m;) {
            if (m - k >= 8 && eight_small(p, end, &w)) {
                for (int j = 0; j < 8; j++)
                    val[k + (uint64_t)j] = (float)((w >> (8 * j)) & 0xff);
                k += 8;
                p += 8;
                continue;
            }
            if (next_varint(&p, end, &v) < 0)
                return "record cut short or malformed";
            if (v > UINT32_MAX)
                return "value out of range";
            val[k++] = (float)v;
        }
    }
    return p == end ? NULL : "record longer than its entries";
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

struct sc_pack {
    char *path;
    int fd;
    unsigned char *map;
    size_t size;
    FILE *mf; /* the header frame, read through sc_batch_reader */
    sc_batch_reader *r;
    sc_pack_arrays a;
    int version;
    uint64_t n_genes;
    uint64_t off_indices, off_values; /* version 2: records, offsets */
    const uint64_t *roff;             /* version 2: record offsets */
    uint64_t data_lo, data_hi;        /* the entries' bytes in the file */
    uint64_t window;
    _Atomic uint64_t touched; /* mapped entry bytes read since a drop */
    sc_obj_reader *rem;       /* an s3:// or http(s):// pack, else NULL */
};

/* How remote packs are read (sc_pack_set_remote). */
static sc_http_opts remote_http = SC_HTTP_OPTS_INIT;
static sc_obj_cache_opts remote_cache = SC_OBJ_CACHE_OPTS_INIT;
static char remote_dir[4096];

void sc_pack_set_remote(const sc_http_opts *o, const sc_obj_cache_opts *co)
{
    remote_http = *o;
    remote_cache = *co;
    if (co->dir) {
        snprintf(remote_dir, sizeof remote_dir, "%s", co->dir);
        remote_cache.dir = remote_dir;
    }
}

int sc_pack_probe(const char *path)
{
    unsigned char m[8];
    if (sc_obj_is_remote(path))
        return 1; /* only packs are read from there: sc_pack_open says */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, m, sizeof m, 0);
    close(fd);
    return n == (ssize_t)sizeof m && !memcmp(m, MAGIC, sizeof m);
}

static int read_at(const sc_pack *p, void *dst, size_t n, uint64_t off);

static int corrupt(const sc_pack *p, const char *what)
{
    return sc_fail(SC_ECORRUPT, "'%s': damaged pack: %s", p->path, what);
}

/* Whether the array of COUNT elements of SIZE bytes at OFF fits in P. */
static int fits(const sc_pack *p, uint64_t off, uint64_t count, size_t size)
{
    if (off % 8 || off < META_OFF || off > p->size)
        return 0;
    return count <= (p->size - off) / size;
}

static int check_arrays(sc_pack *p, const uint64_t *w)
{
    sc_pack_arrays *a = &p->a;
    const sc_batch_header *h = sc_batch_reader_header(p->r);
    uint64_t n = a->n_cells;

    int v2 = p->version == 2;
    if (!fits(p, w[H_INDPTR], n + 1, 8) ||
        !fits(p, w[H_INDICES], v2 ? w[H_RECLEN] : a->nnz, v2 ? 1 : 4) ||
        !fits(p, w[H_VALUES], v2 ? n + 1 : a->nnz, v2 ? 8 : 4) ||
        !fits(p, w[H_DATASET], n, 4) || !fits(p, w[H_ROW], n, 8) ||
        (a->n_labels && (n > UINT64_MAX / a->n_labels ||
                         !fits(p, w[H_LABELS], n * a->n_labels, 4))))
        return corrupt(p, "an array reaches past the end of the file");
    p->off_indices = w[H_INDICES];
    p->off_values = w[H_VALUES];
    a->indptr = (const int64_t *)(p->map + w[H_INDPTR]);
    if (v2) {
        p->roff = (const uint64_t *)(p->map + w[H_VALUES]);
        p->data_lo = w[H_INDICES];
        p->data_hi = w[H_INDICES] + w[H_RECLEN];
    } else {
        a->indices = (const int32_t *)(p->map + w[H_INDICES]);
        a->values = (const float *)(p->map + w[H_VALUES]);
        /* both arrays (and what lies between them) */
        int vfirst = w[H_VALUES] < w[H_INDICES];
        p->data_lo = vfirst ? w[H_VALUES] : w[H_INDICES];
        p->data_hi = (vfirst ? w[H_INDICES] : w[H_VALUES]) + a->nnz * 4;
    }
    a->dataset = (const int32_t *)(p->map + w[H_DATASET]);
    a->row = (const int64_t *)(p->map + w[H_ROW]);
    a->labels = (const int32_t *)(p->map + w[H_LABELS]);
    if (h->n_labels != a->n_labels)
        return corrupt(p, "label columns disagree with the header frame");
    if (h->n_genes > INT32_MAX)
        return corrupt(p, "too many genes");
    p->n_genes = h->n_genes;
    /* the small per-cell arrays, so that a reader can trust them */
    if (a->indptr[0] != 0 || (uint64_t)a->indptr[n] != a->nnz)
        return corrupt(p, "cell offsets do not span the entries");
    for (uint64_t i = 0; i < n; i++) {
        if (a->indptr[i + 1] < a->indptr[i] ||
            a->indptr[i + 1] - a->indptr[i] > (int64_t)h->n_genes)
            return corrupt(p, "cell offsets out of order");
        if (a->dataset[i] < 0 || (size_t)a->dataset[i] >= h->n_datasets ||
            a->row[i] < 0)
            return corrupt(p, "a cell's dataset or row is out of range");
    }
    if (v2) {
        /* each record at least its mode byte, in order, ending at the end */
        if (p->roff[0] != 0 || p->roff[n] != w[H_RECLEN])
            return corrupt(p, "cell records do not span their bytes");
        for (uint64_t i = 0; i < n; i++)
            if (p->roff[i + 1] <= p->roff[i])
                return corrupt(p, "cell records out of order");
    }
    for (size_t k = 0; k < a->n_labels; k++)
        for (uint64_t i = 0; i < n; i++) {
            int32_t c = a->labels[k * n + i];
            if (c < -1 || (c >= 0 && (size_t)c >= h->labels[k].n))
                return corrupt(p, "a label code is out of range");
        }
    return 0;
}

/* A remote pack: its size (in ST) and the first FIXED bytes (or fewer:
 * *GOT) through a reader with the cache of sc_pack_set_remote. */
static int remote_open(sc_pack *p, struct stat *st, unsigned char *fx,
                       ssize_t *got)
{
    sc_obj_cache_opts co = remote_cache;
    char dir[4096];
    int64_t size;
    int rc;

    if (!co.dir) {
        if ((rc = sc_obj_default_cache(dir, sizeof dir)) < 0)
            return rc;
        co.dir = dir;
    }
    if ((rc = sc_obj_reader_open(&remote_http, p->path, &co, &p->rem)) < 0)
        return rc;
    size = sc_obj_reader_size(p->rem);
    memset(st, 0, sizeof *st);
    st->st_size = (off_t)size;
    *got = size < FIXED ? (ssize_t)size : FIXED;
    return read_at(p, fx, (size_t)*got, 0);
}

/* Fetch the header frame and the per-cell arrays of a remote pack into its
 * memory at their offsets (what lies outside the file is left for
 * check_arrays to refuse). */
static int remote_fill(sc_pack *p, const uint64_t *w)
{
    uint64_t n = w[H_CELLS], nl = p->a.n_labels;
    struct {
        uint64_t off, count, size;
    } r[] = {{META_OFF, w[H_META_LEN], 1},
             {w[H_INDPTR], n + 1, 8},
             {w[H_DATASET], n, 4},
             {w[H_ROW], n, 8},
             {w[H_LABELS], nl && n <= UINT64_MAX / nl ? n * nl : 0, 4},
             {w[H_VALUES], p->version == 2 ? n + 1 : 0, 8}};
    int rc;

    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        if (!r[i].count || r[i].off > p->size ||
            r[i].count > (p->size - r[i].off) / r[i].size)
            continue;
        if ((rc = read_at(p, p->map + r[i].off, r[i].count * r[i].size,
                          r[i].off)) < 0)
            return rc;
    }
    return 0;
}

int sc_pack_open(const char *path, sc_pack **out)
{
    unsigned char fx[FIXED];
    uint64_t w[H_WORDS];
    struct stat st;
    sc_pack *p;
    int rc;

    *out = NULL;
    if (!(p = calloc(1, sizeof *p)) || !(p->path = strdup(path))) {
        free(p);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    ssize_t got;
    if (sc_obj_is_remote(path)) {
        p->fd = -1;
        if ((rc = remote_open(p, &st, fx, &got)) < 0)
            goto fail;
    } else {
        p->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (p->fd < 0 || fstat(p->fd, &st) != 0) {
            rc = sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
            goto fail;
        }
        got = pread(p->fd, fx, FIXED, 0);
    }
    if (got < 0) {
        rc = sc_fail(SC_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (got < 8 || memcmp(fx, MAGIC, 8)) {
        rc = sc_fail(SC_EFORMAT, "'%s': not an sc-stream pack", path);
        goto fail;
    }
    if (got < FIXED) {
        rc = corrupt(p, "the file ends inside its header");
        goto fail;
    }
    uint32_t version, n_labels, crc;
    memcpy(&version, fx + 8, 4);
    memcpy(&n_labels, fx + 12, 4);
    memcpy(w, fx, sizeof w);
    memcpy(&crc, fx + FIXED - 4, 4);
    if (crc != crc_of(fx, FIXED - 4)) {
        rc = corrupt(p, "header checksum mismatch");
        goto fail;
    }
    if (version != 1 && version != SC_PACK_VERSION) {
        rc = sc_fail(SC_EFORMAT,
                     "'%s': pack version %u (this sc-stream reads %d)", path,
                     version, SC_PACK_VERSION);
        goto fail;
    }
    if ((uint64_t)st.st_size != w[H_SIZE]) {
        rc = sc_fail(SC_ECORRUPT,
                     "'%s': damaged pack: %jd bytes, its header says %" PRIu64
                     " (cut short?)",
                     path, (intmax_t)st.st_size, w[H_SIZE]);
        goto fail;
    }
    p->size = (size_t)st.st_size;
    p->version = (int)version;
    p->window = WINDOW_DEFAULT;
    p->a.n_cells = w[H_CELLS];
    p->a.nnz = w[H_NNZ];
    p->a.n_labels = n_labels;
    if (w[H_META_OFF] != META_OFF || w[H_META_LEN] > p->size - META_OFF) {
        rc = corrupt(p, "bad header frame place");
        goto fail;
    }
    if (p->rem)
        p->map = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    else
        p->map = mmap(NULL, p->size, PROT_READ, MAP_SHARED, p->fd, 0);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        rc = sc_fail(SC_EIO, "cannot map '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (p->rem && (rc = remote_fill(p, w)) < 0)
        goto fail;
    if (!(p->mf = fmemopen(p->map + META_OFF, (size_t)w[H_META_LEN], "rb"))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = sc_batch_reader_open(p->mf, path, &p->r)) < 0 ||
        (rc = check_arrays(p, w)) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    sc_pack_close(p);
    return rc;
}

const sc_batch_header *sc_pack_header(const sc_pack *p)
{
    return sc_batch_reader_header(p->r);
}

const sc_pack_arrays *sc_pack_data(const sc_pack *p)
{
    return &p->a;
}

int sc_pack_version(const sc_pack *p)
{
    return p->version;
}

uint64_t sc_pack_entry_bytes(const sc_pack *p)
{
    return p->version == 2 ? (p->data_hi - p->data_lo) + 8 * (p->a.n_cells + 1)
                           : 8 * p->a.nnz;
}

void sc_pack_set_window(sc_pack *p, uint64_t bytes)
{
    p->window = bytes < WINDOW_MIN ? WINDOW_MIN : bytes;
}

/* At least NEED bytes in B. */
static int buf_reserve(sc_pack_buf *b, size_t need)
{
    if (need > b->cap) {
        size_t cap = need + need / 2 + 4096;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            return sc_fail(SC_ENOMEM, "out of memory");
        *b = (sc_pack_buf){q, cap};
    }
    return 0;
}

void sc_pack_buf_release(sc_pack_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

/* N bytes at OFF of P into DST. */
static int read_at(const sc_pack *p, void *dst, size_t n, uint64_t off)
{
    unsigned char *d = dst;
    if (p->rem)
        return sc_obj_reader_pread(p->rem, dst, n, off);
    while (n > 0) {
        ssize_t got = pread(p->fd, d, n, (off_t)off);
        if (got <= 0) {
            if (got < 0 && errno == EINTR)
                continue;
            return sc_fail(SC_EIO, "cannot read '%s': %s", p->path,
                           got < 0 ? strerror(errno) : "file shrank");
        }
        d += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

int sc_pack_check_indices(const sc_pack *p, const int32_t *idx, size_t n)
{
    uint32_t n_genes = (uint32_t)sc_batch_reader_header(p->r)->n_genes;
    uint32_t bad = 0;

    /* one unsigned compare per entry (-1 wraps), no branch in the loop */
    for (size_t k = 0; k < n; k++)
        bad |= (uint32_t)idx[k] >= n_genes;
    return bad ? corrupt(p, "a gene index is out of range") : 0;
}

/* N mapped bytes of entries were read: past the window, drop the pages of
 * the entries from the resident set (they stay in the page cache; a thread
 * reading them meanwhile faults them in again). */
static void touched(sc_pack *p, uint64_t n)
{
    uint64_t t =
        atomic_fetch_add_explicit(&p->touched, n, memory_order_relaxed) + n;
    if (t < p->window ||
        !atomic_compare_exchange_strong(&p->touched, &t, (uint64_t)0))
        return;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t lo =
        page > 0 ? p->data_lo / (uint64_t)page * (uint64_t)page : p->data_lo;
    if (p->data_hi > lo)
        (void)madvise(p->map + lo, (size_t)(p->data_hi - lo), MADV_DONTNEED);
}

/* Decode the records of cells [R0, R1), at REC (record R0's first byte),
 * into IDX and VAL. */
static int decode_cells(const sc_pack *p, uint64_t r0, uint64_t r1,
                        const unsigned char *rec, int32_t *idx, float *val)
{
    const int64_t *ip = p->a.indptr;
    const unsigned char *base = rec - p->roff[r0];
    int64_t e0 = ip[r0];
    for (uint64_t i = r0; i < r1; i++) {
        const char *why = sc_pack_record_decode(
            base + p->roff[i], (size_t)(p->roff[i + 1] - p->roff[i]),
            (uint64_t)(ip[i + 1] - ip[i]), p->n_genes, idx + (ip[i] - e0),
            val + (ip[i] - e0));
        if (why)
            return sc_fail(SC_ECORRUPT,
                           "'%s': damaged pack: cell %" PRIu64 ": %s", p->path,
                           i, why);
    }
    return 0;
}

int sc_pack_cells(sc_pack *p, uint64_t r0, uint64_t r1, int pread,
                  sc_pack_buf *buf, int32_t *idx, float *val)
{
    if (p->rem)
        pread = 1; /* only the small arrays are in memory */
    const sc_pack_arrays *a = &p->a;
    uint64_t e0 = (uint64_t)a->indptr[r0], n = (uint64_t)a->indptr[r1] - e0;
    int rc;

    if (p->version == 1) {
        if (pread) {
            if ((rc = read_at(p, idx, n * 4, p->off_indices + e0 * 4)) < 0 ||
                (rc = read_at(p, val, n * 4, p->off_values + e0 * 4)) < 0)
                return rc;
        } else {
            memcpy(idx, a->indices + e0, n * 4);
            memcpy(val, a->values + e0, n * 4);
            touched(p, n * 8);
        }
        return sc_pack_check_indices(p, idx, (size_t)n);
    }
    uint64_t b0 = p->roff[r0], nb = p->roff[r1] - b0;
    if (!pread) {
        rc = decode_cells(p, r0, r1, p->map + p->off_indices + b0, idx, val);
        touched(p, nb);
        return rc;
    }
    if ((rc = buf_reserve(buf, (size_t)nb)) < 0 ||
        (rc = read_at(p, buf->p, (size_t)nb, p->off_indices + b0)) < 0)
        return rc;
    return decode_cells(p, r0, r1, buf->p, idx, val);
}

void sc_pack_close(sc_pack *p)
{
    if (!p)
        return;
    sc_batch_reader_free(p->r);
    if (p->mf)
        fclose(p->mf);
    if (p->map)
        munmap(p->map, p->size);
    if (p->fd >= 0)
        close(p->fd);
    sc_obj_reader_close(p->rem);
    free(p->path);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Per cell, until the end: where its entries end, its row, its dataset,
 * its label codes and (version 2) where its record ends (a record of
 * rec_size bytes in the scratch file). */
struct sc_pack_writer {
    char *path;
    sc_atomic at;
    int codec;
    FILE *fp;   /* the pack: header, header frame, then the gene indices
                 * (version 2: the cells' records) */
    FILE *vals; /* scratch: the values (version 1) */
    FILE *recs; /* scratch: the cell records */
    size_t n_labels, n_genes, n_datasets, rec_size;
    uint64_t n_cells, nnz, meta_len, indices_off, rec_bytes;
    unsigned char *rec;
    sc_pack_buf enc; /* version 2: a cell's record */
    int done;
};

static int werr(sc_pack_writer *w)
{
    return sc_fail(SC_EIO, "cannot write '%s': %s", w->path,
                   strerror(errno ? errno : EIO));
}

/* Zero bytes up to the next multiple of ALIGN. */
static int pad(sc_pack_writer *w)
{
    static const unsigned char z[ALIGN];
    long at = ftell(w->fp);
    if (at < 0)
        return werr(w);
    size_t n = (size_t)((ALIGN - at % ALIGN) % ALIGN);
    return fwrite(z, 1, n, w->fp) == n ? 0 : werr(w);
}

static FILE *scratch(sc_pack_writer *w, const char *tag)
{
    int fd = sc_io_scratch(w->path, tag);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        close(fd);
        sc_fail(SC_EIO, "cannot write '%s': %s", w->path, strerror(errno));
    }
    return f;
}

int sc_pack_writer_open(const char *path, const sc_batch_header *h, int codec,
                        sc_pack_writer **out)
{
    sc_pack_writer *w;
    sc_batch_writer *bw = NULL;
    int rc;

    *out = NULL;
    if (!strcmp(path, "-"))
        return sc_fail(SC_EINVAL, "a pack is written to a file, not to "
                                  "standard output");
    if (codec != SC_PACK_RAW && codec != SC_PACK_VARINT)
        return sc_fail(SC_EINVAL, "unknown pack codec %d", codec);
    if (!(w = calloc(1, sizeof *w)) || !(w->path = strdup(path))) {
        free(w);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    w->codec = codec;
    w->n_labels = h->n_labels;
    w->n_genes = h->n_genes;
    w->n_datasets = h->n_datasets;
    w->rec_size = 20 + 4 * w->n_labels + (codec == SC_PACK_VARINT ? 8 : 0);
    if (!(w->rec = malloc(w->rec_size))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        rc = sc_fail(SC_EINVAL, "'%s': a pack must be a regular file", path);
        goto fail;
    }
    if ((rc = sc_io_atomic_open(path, &w->at, &w->fp)) < 0)
        goto fail;
    errno = 0;
    if (fseek(w->fp, META_OFF, SEEK_SET) != 0) {
        rc = sc_fail(SC_EINVAL, "'%s': a pack must be a regular file", path);
        goto fail;
    }
    if ((rc = sc_batch_writer_open(w->fp, 0, h, &bw)) < 0) {
        rc = sc_fail_ctx(rc, "'%s'", path); /* its message has no name */
        goto fail;
    }
    sc_batch_writer_free(bw); /* the header frame only */
    long at = ftell(w->fp);
    if (at < 0 || (rc = pad(w)) < 0) {
        rc = at < 0 ? werr(w) : rc;
        goto fail;
    }
    w->meta_len = (uint64_t)at - META_OFF;
    w->indices_off = (uint64_t)ftell(w->fp);
    if ((codec == SC_PACK_RAW && !(w->vals = scratch(w, "values"))) ||
        !(w->recs = scratch(w, "cells"))) {
        rc = SC_EIO;
        goto fail;
    }
    *out = w;
    return 0;
fail:
    sc_pack_writer_free(w);
    return rc;
}

/* The record of a cell of M entries to the pack (version 2). */
static int put_record(sc_pack_writer *w, const int32_t *idx, const float *val,
                      size_t m)
{
    int rc = buf_reserve(&w->enc, sc_pack_record_bound(m));
    if (rc < 0)
        return rc;
    size_t n = sc_pack_record_encode(idx, val, m, w->enc.p);
    if (fwrite(w->enc.p, 1, n, w->fp) != n)
        return werr(w);
    w->rec_bytes += n;
    return 0;
}

int sc_pack_writer_add(sc_pack_writer *w, const sc_batch *b)
{
    if (b->layout != SC_BATCH_CSR || b->n_labels != w->n_labels)
        return sc_fail(SC_EINVAL, "a pack holds CSR batches with %zu labels",
                       w->n_labels);
    uint32_t n = b->n_cells - b->n_pad;
    errno = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t lo = b->indptr[i], hi = b->indptr[i + 1];
        size_t m = (size_t)(hi - lo);
        for (size_t k = 0; k < m; k++)
            if (b->indices[lo + (int64_t)k] < 0 ||
                (size_t)b->indices[lo + (int64_t)k] >= w->n_genes)
                return sc_fail(SC_EINVAL, "gene index out of range");
        if (b->dataset[i] < 0 || (size_t)b->dataset[i] >= w->n_datasets)
            return sc_fail(SC_EINVAL, "dataset index out of range");
        if (w->codec == SC_PACK_VARINT) {
            int rc = put_record(w, b->indices + lo, b->values + lo, m);
            if (rc < 0)
                return rc;
        } else if (fwrite(b->indices + lo, 4, m, w->fp) != m ||
                   fwrite(b->values + lo, 4, m, w->vals) != m) {
            return werr(w);
        }
        w->nnz += m;
        w->n_cells++;
        int64_t end = (int64_t)w->nnz;
        memcpy(w->rec, &end, 8);
        memcpy(w->rec + 8, &b->row[i], 8);
        memcpy(w->rec + 16, &b->dataset[i], 4);
        for (size_t k = 0; k < w->n_labels; k++)
            memcpy(w->rec + 20 + 4 * k, &b->labels[k * b->n_cells + i], 4);
        if (w->codec == SC_PACK_VARINT)
            memcpy(w->rec + 20 + 4 * w->n_labels, &w->rec_bytes, 8);
        if (fwrite(w->rec, w->rec_size, 1, w->recs) != 1)
            return werr(w);
    }
    return 0;
}

/* Copy the scratch file F to the pack. */
static int copy_scratch(sc_pack_writer *w, FILE *f, unsigned char *buf,
                        size_t size)
{
    size_t n;
    errno = 0;
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        return werr(w);
    while ((n = fread(buf, 1, size, f)) > 0)
        if (fwrite(buf, 1, n, w->fp) != n)
            return werr(w);
    return ferror(f) ? werr(w) : 0;
}

/* Write the field of SIZE bytes at OFF of every cell record as an array
 * (with a leading zero of 8 bytes for indptr when LEAD). */
static int write_column(sc_pack_writer *w, size_t off, size_t size, int lead,
                        unsigned char *buf)
{
    unsigned char *col = buf + REC_CHUNK * w->rec_size;
    size_t n;
    errno = 0;
    if (lead && fwrite("\0\0\0\0\0\0\0", 1, 8, w->fp) != 8)
        return werr(w);
    if (fseek(w->recs, 0, SEEK_SET) != 0)
        return werr(w);
    while ((n = fread(buf, w->rec_size, REC_CHUNK, w->recs)) > 0) {
        for (size_t i = 0; i < n; i++)
            memcpy(col + i * size, buf + i * w->rec_size + off, size);
        if (fwrite(col, size, n, w->fp) != n)
            return werr(w);
    }
    return ferror(w->recs) ? werr(w) : 0;
}

int sc_pack_writer_finish(sc_pack_writer *w)
{
    uint64_t h[H_WORDS] = {0};
    unsigned char fx[FIXED] = {0};
    size_t bsize = REC_CHUNK * (w->rec_size + 8);
    unsigned char *buf = malloc(bsize);
    int rc;

    if (!buf)
        return sc_fail(SC_ENOMEM, "out of memory");
    errno = 0;
    if (fflush(w->recs) != 0) {
        rc = werr(w);
        goto out;
    }
#define AT(word)                                                               \
    do {                                                                       \
        if ((rc = pad(w)) < 0)                                                 \
            goto out;                                                          \
        h[word] = (uint64_t)ftell(w->fp);                                      \
    } while (0)
    h[H_INDICES] = w->indices_off;
    AT(H_VALUES);
    if (w->codec == SC_PACK_VARINT) { /* the records' offsets */
        if ((rc = write_column(w, 20 + 4 * w->n_labels, 8, 1, buf)) < 0)
            goto out;
        h[H_RECLEN] = w->rec_bytes;
    } else if ((rc = copy_scratch(w, w->vals, buf, bsize)) < 0) {
        goto out;
    }
    AT(H_INDPTR);
    if ((rc = write_column(w, 0, 8, 1, buf)) < 0)
        goto out;
    AT(H_LABELS);
    for (size_t k = 0; k < w->n_labels; k++)
        if ((rc = write_column(w, 20 + 4 * k, 4, 0, buf)) < 0)
            goto out;
    AT(H_DATASET);
    if ((rc = write_column(w, 16, 4, 0, buf)) < 0)
        goto out;
    AT(H_ROW);
    if ((rc = write_column(w, 8, 8, 0, buf)) < 0)
        goto out;
#undef AT
    long end = ftell(w->fp);
    h[H_CELLS] = w->n_cells;
    h[H_NNZ] = w->nnz;
    h[H_META_OFF] = META_OFF;
    h[H_META_LEN] = w->meta_len;
    h[H_SIZE] = (uint64_t)end;
    memcpy(fx, h, sizeof h);
    memcpy(fx, MAGIC, 8);
    uint32_t version = w->codec == SC_PACK_VARINT ? 2 : 1;
    uint32_t nl = (uint32_t)w->n_labels;
    memcpy(fx + 8, &version, 4);
    memcpy(fx + 12, &nl, 4);
    uint32_t crc = crc_of(fx, FIXED - 4);
    memcpy(fx + FIXED - 4, &crc, 4);
    if (end < 0 || fseek(w->fp, 0, SEEK_SET) != 0 ||
        fwrite(fx, 1, FIXED, w->fp) != FIXED) {
        rc = werr(w);
        goto out;
    }
    rc = sc_io_atomic_commit(&w->at);
    w->fp = NULL;
    if (rc == 0)
        w->done = 1;
out:
    free(buf);
    return rc;
}

void sc_pack_writer_free(sc_pack_writer *w)
{
    if (!w)
        return;
    if (!w->done)
        sc_io_atomic_abort(&w->at);
    if (w->vals)
        fclose(w->vals);
    if (w->recs)
        fclose(w->recs);
    free(w->rec);
    sc_pack_buf_release(&w->enc);
    free(w->path);
    free(w);
}
