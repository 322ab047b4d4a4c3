/* sc_batch: the framed binary stream of cell batches (sc-batch(5)). */
/* SPDX-License-Identifier: MIT */
#include "sc_batch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_log.h"

#define FRAME_HEAD   16
#define FRAME_TAIL   8
#define BATCH_FIXED  40
#define HEADER_FIXED 88
/* Refuse frames larger than this (a damaged length field). */
#define FRAME_MAX ((uint64_t)1 << 40)

enum { F_HEADER = 'H', F_BATCH = 'B', F_END = 'E', F_RING = 'R' };

/* The shared-memory ring (sc-batch(5)): a control page, then the data. */
#define RING_CTRL  4096
#define RING_ALIGN 64
#define RING_MAGIC "SCRING1\0"
enum { RING_SIZE = 1, RING_HEAD = 2, RING_TAIL = 3 }; /* u64 words */

/* A growable byte buffer for one payload. */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int fixed; /* memory not ours (the ring): never grown */
} buf;

static int buf_grow(buf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return 0;
    if (b->fixed)
        return sc_fail(SC_EINVAL, "batch larger than its place in the ring");
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return sc_fail(SC_ENOMEM, "out of memory");
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(buf *b, const void *src, size_t n)
{
    int rc = buf_grow(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

static int put_u32(buf *b, uint32_t v)
{
    unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24};
    return put(b, c, 4);
}

static int put_u64(buf *b, uint64_t v)
{
    int rc = put_u32(b, (uint32_t)v);
    return rc < 0 ? rc : put_u32(b, (uint32_t)(v >> 32));
}

static int put_str(buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    int rc = put_u32(b, (uint32_t)n);
    return rc < 0 ? rc : put(b, s, n);
}

static int put_pad8(buf *b)
{
    static const unsigned char z[8];
    return put(b, z, (8 - b->n % 8) % 8);
}

/* An array of host values; the format is little-endian, as every host we
 * build on is (checked at compile time below). */
static int put_arr(buf *b, const void *a, size_t n, size_t size)
{
    int rc = put(b, a, n * size);
    return rc < 0 ? rc : put_pad8(b);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sc_batch writes host arrays as little-endian"
#endif

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void sc_batch_header_release(sc_batch_header *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_info; i++) {
        free(h->info_key[i]);
        free(h->info_val[i]);
    }
    free(h->info_key);
    free(h->info_val);
    for (size_t i = 0; i < h->n_genes; i++)
        free(h->genes[i]);
    free(h->genes);
    for (size_t i = 0; i < h->n_labels; i++) {
        for (size_t j = 0; j < h->labels[i].n; j++)
            free(h->labels[i].terms[j]);
        free(h->labels[i].terms);
        free(h->labels[i].name);
    }
    free(h->labels);
    for (size_t i = 0; i < h->n_datasets; i++)
        free(h->datasets[i]);
    free(h->datasets);
    memset(h, 0, sizeof *h);
}

int sc_batch_header_info(sc_batch_header *h, const char *key, const char *val)
{
    char **k = realloc(h->info_key, (h->n_info + 1) * sizeof *k);
    if (k)
        h->info_key = k;
    char **v = realloc(h->info_val, (h->n_info + 1) * sizeof *v);
    if (v)
        h->info_val = v;
    if (!k || !v)
        return sc_fail(SC_ENOMEM, "out of memory");
    k[h->n_info] = strdup(key);
    v[h->n_info] = strdup(val ? val : "");
    if (!k[h->n_info] || !v[h->n_info]) {
        free(k[h->n_info]);
        free(v[h->n_info]);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    h->n_info++;
    return 0;
}

static int grow(void **p, size_t n, size_t size)
{
    void *q = realloc(*p, (n ? n : 1) * size);
    if (!q)
        return sc_fail(SC_ENOMEM, "out of memory");
    *p = q;
    return 0;
}

int sc_batch_reserve(sc_batch *b, size_t n_cells, size_t nnz, size_t n_labels)
{
    int rc;
    if (n_cells > b->cap_cells) {
        if ((rc = grow((void **)&b->indptr, n_cells + 1, 8)) < 0 ||
            (rc = grow((void **)&b->dataset, n_cells, 4)) < 0 ||
            (rc = grow((void **)&b->row, n_cells, 8)) < 0)
            return rc;
        b->cap_cells = n_cells;
    }
    if (nnz > b->cap_nnz || !b->indices) {
        if ((rc = grow((void **)&b->indices, nnz, 4)) < 0 ||
            (rc = grow((void **)&b->values, nnz, 4)) < 0)
            return rc;
        b->cap_nnz = nnz;
    }
    if (n_labels * n_cells > b->cap_labels || !b->labels) {
        if ((rc = grow((void **)&b->labels, n_labels * n_cells, 4)) < 0)
            return rc;
        b->cap_labels = n_labels * n_cells;
    }
    return 0;
}

void sc_batch_release(sc_batch *b)
{
    if (!b)
        return;
    free(b->indptr);
    free(b->indices);
    free(b->values);
    free(b->labels);
    free(b->dataset);
    free(b->row);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

struct sc_batch_writer {
    FILE *fp;
    unsigned flags;
    buf pl;
    const sc_batch_header *h; /* text: vocabularies for the labels */
    uint64_t n_batches, n_cells;
    unsigned char *ring; /* mapped ring, or NULL */
    size_t ring_bytes;   /* data bytes after the control page */
    uint64_t head;       /* bytes of the ring written, ever */
    /* the place of the batch being written (slot_open) */
    unsigned char *slot_base;
    size_t slot_len;
    int slot_ring;
    uint64_t slot_pos, slot_end;
};

static int wfail(void)
{
    return sc_fail(SC_EIO, "cannot write batches: %s", strerror(errno));
}

static int write_frame(sc_batch_writer *w, int type)
{
    unsigned char head[FRAME_HEAD] = {
        'S', 'C', 'B', 'F', (unsigned char)type, SC_BATCH_VERSION, 0, 0};
    unsigned char tail[FRAME_TAIL] = {0};
    uint64_t len = w->pl.n;
    uint32_t crc;

    for (int i = 0; i < 8; i++)
        head[8 + i] = (unsigned char)(len >> (8 * i));
    /* libdeflate's CRC-32 is zlib's (ISO-HDLC), several times faster */
    crc = libdeflate_crc32(0, head, FRAME_HEAD);
    crc = libdeflate_crc32(crc, w->pl.p, w->pl.n);
    for (int i = 0; i < 4; i++)
        tail[i] = (unsigned char)(crc >> (8 * i));
    errno = 0;
    if (fwrite(head, 1, FRAME_HEAD, w->fp) != FRAME_HEAD ||
        fwrite(w->pl.p, 1, w->pl.n, w->fp) != w->pl.n ||
        fwrite(tail, 1, FRAME_TAIL, w->fp) != FRAME_TAIL)
        return wfail();
    return 0;
}

/* The header payload; with KEY, one more info entry KEY=VAL. */
static int encode_header(buf *b, const sc_batch_header *h, const char *key,
                         const char *val)
{
    int rc = 0;
    uint32_t f32[8] = {SC_BATCH_VERSION, h->layout, h->row_len,
                       h->batch_size,    h->epoch,  h->rank,
                       h->world_size,    0};
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = put_u32(b, f32[i]);
    uint64_t f64[7] = {
        h->seed,    h->n_batches, h->n_cells,   h->n_info + (key != NULL),
        h->n_genes, h->n_labels,  h->n_datasets};
    for (int i = 0; i < 7 && rc == 0; i++)
        rc = put_u64(b, f64[i]);
    for (size_t i = 0; i < h->n_info && rc == 0; i++)
        if ((rc = put_str(b, h->info_key[i])) == 0)
            rc = put_str(b, h->info_val[i]);
    if (key && rc == 0 && (rc = put_str(b, key)) == 0)
        rc = put_str(b, val);
    for (size_t i = 0; i < h->n_genes && rc == 0; i++)
        rc = put_str(b, h->genes[i]);
    for (size_t i = 0; i < h->n_labels && rc == 0; i++) {
        if ((rc = put_str(b, h->labels[i].name)) == 0)
            rc = put_u64(b, h->labels[i].n);
        for (size_t j = 0; j < h->labels[i].n && rc == 0; j++)
            rc = put_str(b, h->labels[i].terms[j]);
    }
    for (size_t i = 0; i < h->n_datasets && rc == 0; i++)
        rc = put_str(b, h->datasets[i]);
    return rc < 0 ? rc : put_pad8(b);
}

static int text_header(sc_batch_writer *w)
{
    const sc_batch_header *h = w->h;
    static const char *layouts[] = {"csr", "padded", "dense"};
    FILE *fp = w->fp;

    fprintf(fp,
            "#sc-batch\t%d\tlayout=%s\tgenes=%zu\tdatasets=%zu\t"
            "cells=%" PRIu64 "\tbatches=%" PRIu64 "\n",
            SC_BATCH_VERSION, layouts[h->layout % 3], h->n_genes, h->n_datasets,
            h->n_cells, h->n_batches);
    fputs("#batch\tpad\tdataset\trow", fp);
    for (size_t k = 0; k < h->n_labels; k++)
        fprintf(fp, "\t%s", h->labels[k].name);
    fputs("\tn\tvalues\n", fp);
    return ferror(fp) ? wfail() : 0;
}

int sc_batch_writer_open(FILE *fp, unsigned flags, const sc_batch_header *h,
                         sc_batch_writer **out)
{
    return sc_batch_writer_open_ring(fp, flags, -1, 0, h, out);
}

/* Map the ring file FD, sized to BYTES of data after the control page. */
static int ring_map(sc_batch_writer *w, int fd, size_t bytes)
{
    struct stat st;
    if (fstat(fileno(w->fp), &st) != 0 ||
        !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return sc_fail(SC_EINVAL, "a shared-memory ring needs the output to "
                                  "be a pipe to its reader");
    if (bytes < 1u << 20 || bytes % RING_ALIGN)
        return sc_fail(SC_EINVAL,
                       "ring of %zu bytes: at least 1 MiB, in "
                       "multiples of %d",
                       bytes, RING_ALIGN);
    /* reserve the pages now: a full /dev/shm (64 MB in many containers)
     * must be an error here, not a SIGBUS at the first batch that reaches
     * past it */
    int e = posix_fallocate(fd, 0, (off_t)(RING_CTRL + bytes));
    if (e != 0 && e != EOPNOTSUPP && e != EINVAL) {
        /* give back what a partial reservation took */
        if (ftruncate(fd, 0) != 0)
            sc_log_debug("cannot empty the ring file: %s", strerror(errno));
        return sc_fail(SC_EIO,
                       "cannot reserve %zu bytes for the shared-memory ring: "
                       "%s (try a smaller --ring-size)",
                       RING_CTRL + bytes, strerror(e));
    }
    if (e != 0 && ftruncate(fd, (off_t)(RING_CTRL + bytes)) != 0)
        return sc_fail(SC_EIO, "cannot size the shared-memory ring: %s",
                       strerror(errno));
    void *p = mmap(NULL, RING_CTRL + bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd, 0);
    if (p == MAP_FAILED)
        return sc_fail(SC_EIO, "cannot map the shared-memory ring: %s",
                       strerror(errno));
    w->ring = p;
    w->ring_bytes = bytes;
    uint64_t *ctrl = p;
    memcpy(p, RING_MAGIC, 8);
    ctrl[RING_SIZE] = bytes;
    __atomic_store_n(&ctrl[RING_HEAD], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ctrl[RING_TAIL], 0, __ATOMIC_RELEASE);
    return 0;
}

int sc_batch_writer_open_ring(FILE *fp, unsigned flags, int ring_fd,
                              size_t ring_bytes, const sc_batch_header *h,
                              sc_batch_writer **out)
{
    sc_batch_writer *w;
    char size[32];
    int rc = 0;

    *out = NULL;
    if (!(w = calloc(1, sizeof *w)))
        return sc_fail(SC_ENOMEM, "out of memory");
    w->fp = fp;
    w->flags = flags;
    w->h = h;
    snprintf(size, sizeof size, "%zu", ring_bytes);
    if (flags & SC_BATCH_TEXT)
        rc = text_header(w);
    else if ((ring_fd < 0 || (rc = ring_map(w, ring_fd, ring_bytes)) == 0) &&
             (rc = encode_header(&w->pl, h, w->ring ? "ring" : NULL, size)) ==
                 0)
        rc = write_frame(w, F_HEADER);
    if (rc < 0) {
        sc_batch_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int text_batch(sc_batch_writer *w, const sc_batch *b)
{
    FILE *fp = w->fp;
    const sc_batch_header *h = w->h;

    for (uint32_t i = 0; i < b->n_cells; i++) {
        int64_t lo, hi;
        fprintf(fp, "%" PRIu64 "\t%d\t%" PRId32 "\t%" PRId64, b->index,
                i >= b->n_cells - b->n_pad, b->dataset[i], b->row[i]);
        for (uint32_t k = 0; k < b->n_labels; k++) {
            int32_t c = b->labels[(size_t)k * b->n_cells + i];
            const char *t = "NA";
            if (c >= 0 && k < h->n_labels && (size_t)c < h->labels[k].n)
                t = h->labels[k].terms[c];
            fprintf(fp, "\t%s", t);
        }
        if (b->layout == SC_BATCH_CSR) {
            lo = b->indptr[i];
            hi = b->indptr[i + 1];
        } else {
            lo = (int64_t)i * b->row_len;
            hi = lo + b->row_len;
        }
        fprintf(fp, "\t%" PRId64 "\t", hi - lo);
        for (int64_t j = lo; j < hi; j++) {
            if (b->layout == SC_BATCH_DENSE)
                fprintf(fp, "%s%.9g", j > lo ? "," : "", b->values[j]);
            else
                fprintf(fp, "%s%" PRId32 ":%.9g", j > lo ? "," : "",
                        b->indices[j], b->values[j]);
        }
        if (putc('\n', fp) == EOF)
            return wfail();
    }
    return ferror(fp) ? wfail() : 0;
}

/* The fixed part of a batch payload (BATCH_FIXED bytes) at the start of P. */
static int encode_fixed(buf *p, const sc_batch *b)
{
    int rc;
    p->n = 0;
    if ((rc = put_u64(p, b->index)) < 0 || (rc = put_u32(p, b->n_cells)) < 0 ||
        (rc = put_u32(p, b->n_pad)) < 0 || (rc = put_u64(p, b->nnz)) < 0 ||
        (rc = put_u32(p, b->n_labels)) < 0 ||
        (rc = put_u32(p, b->layout)) < 0 || (rc = put_u32(p, b->row_len)) < 0)
        return rc;
    return put_u32(p, 0);
}

static int encode_batch(buf *p, const sc_batch *b)
{
    int rc;
    size_t n = b->n_cells;

    if ((rc = encode_fixed(p, b)) < 0)
        return rc;
    if (b->layout == SC_BATCH_CSR && (rc = put_arr(p, b->indptr, n + 1, 8)) < 0)
        return rc;
    if (b->layout != SC_BATCH_DENSE &&
        (rc = put_arr(p, b->indices, b->nnz, 4)) < 0)
        return rc;
    if ((rc = put_arr(p, b->values, b->nnz, 4)) < 0 ||
        (rc = put_arr(p, b->labels, (size_t)b->n_labels * n, 4)) < 0 ||
        (rc = put_arr(p, b->dataset, n, 4)) < 0)
        return rc;
    return put_arr(p, b->row, n, 8);
}

/* Where the arrays of B's payload start (encode_batch's layout): indptr,
 * indices, values, labels, dataset, row, and the payload's length. */
enum { A_INDPTR, A_INDICES, A_VALUES, A_LABELS, A_DATASET, A_ROW, A_END };
static void batch_places(const sc_batch *b, size_t off[A_END + 1])
{
#define PAD8(x) (((x) + 7) / 8 * 8)
    size_t n = b->n_cells;
    off[A_INDPTR] = BATCH_FIXED;
    off[A_INDICES] =
        off[A_INDPTR] + (b->layout == SC_BATCH_CSR ? 8 * (n + 1) : 0);
    off[A_VALUES] =
        off[A_INDICES] + (b->layout != SC_BATCH_DENSE ? PAD8(4 * b->nnz) : 0);
    off[A_LABELS] = off[A_VALUES] + PAD8(4 * b->nnz);
    off[A_DATASET] = off[A_LABELS] + PAD8(4 * (size_t)b->n_labels * n);
    off[A_ROW] = off[A_DATASET] + PAD8(4 * n);
    off[A_END] = off[A_ROW] + 8 * n;
#undef PAD8
}

static size_t batch_bytes(const sc_batch *b)
{
    size_t off[A_END + 1];
    batch_places(b, off);
    return off[A_END];
}

/* Wait until the reader has released every byte written before END - R
 * (the ring bytes up to END, ever, are then free to write); SC_EIO when
 * the reader has gone away. */
static int ring_wait(sc_batch_writer *w, uint64_t end)
{
    const uint64_t *ctrl = (const uint64_t *)w->ring;
    struct pollfd pf = {fileno(w->fp), 0, 0};
    while (end - __atomic_load_n(&ctrl[RING_TAIL], __ATOMIC_ACQUIRE) >
           w->ring_bytes) {
        /* POLLERR: the reading end of the pipe is closed */
        if (poll(&pf, 1, 1) > 0 && (pf.revents & (POLLERR | POLLHUP))) {
            errno = EPIPE;
            return wfail();
        }
    }
    return 0;
}

/* The place of the next batch payload of LEN bytes: in the ring when
 * there is one and the batch takes at most half of it (waiting for the
 * reader to make room), else the writer's frame buffer. */
static int slot_open(sc_batch_writer *w, size_t len, unsigned char **base)
{
    int rc;
    w->slot_len = len;
    w->slot_ring = w->ring && len <= w->ring_bytes / 2;
    if (!w->slot_ring) {
        w->pl.n = 0;
        if ((rc = buf_grow(&w->pl, len)) < 0)
            return rc;
        *base = w->pl.p;
        return 0;
    }
    size_t size = w->ring_bytes;
    uint64_t pos = w->head % size;
    if (pos + len > size) /* does not fit before the end: wrap */
        w->head += size - pos, pos = 0;
    w->slot_pos = pos;
    w->slot_end = w->head + (len + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN;
    if ((rc = ring_wait(w, w->slot_end)) < 0)
        return rc;
    *base = w->ring + RING_CTRL + pos;
    return 0;
}

/* The payload at the place slot_open gave is written: send it (the
 * frame, or in the ring the frame saying where). */
static int slot_close(sc_batch_writer *w)
{
    int rc;
    if (!w->slot_ring) {
        w->pl.n = w->slot_len;
        return write_frame(w, F_BATCH);
    }
    w->head = w->slot_end;
    __atomic_store_n(&((uint64_t *)w->ring)[RING_HEAD], w->slot_end,
                     __ATOMIC_RELEASE);
    w->pl.n = 0;
    if ((rc = put_u64(&w->pl, RING_CTRL + w->slot_pos)) < 0 ||
        (rc = put_u64(&w->pl, w->slot_len)) < 0 ||
        (rc = put_u64(&w->pl, w->slot_end)) < 0)
        return rc;
    /* the reader waits for this frame: do not leave it in a buffer */
    if ((rc = write_frame(w, F_RING)) < 0)
        return rc;
    return fflush(w->fp) != 0 ? wfail() : 0;
}

int sc_batch_write(sc_batch_writer *w, const sc_batch *b)
{
    unsigned char *base;
    int rc;

    if (w->flags & SC_BATCH_TEXT) {
        rc = text_batch(w, b);
    } else if ((rc = slot_open(w, batch_bytes(b), &base)) == 0) {
        buf p = {base, 0, w->slot_len, 1};
        if ((rc = encode_batch(&p, b)) == 0)
            rc = slot_close(w);
    }
    if (rc == 0) {
        w->n_batches++;
        w->n_cells += b->n_cells;
    }
    return rc;
}

int sc_batch_writer_claim(sc_batch_writer *w, sc_batch *b)
{
    size_t off[A_END + 1];
    unsigned char *base;
    int rc;

    if (w->flags & SC_BATCH_TEXT)
        return SC_EUNSUP;
    batch_places(b, off);
    if ((rc = slot_open(w, off[A_END], &base)) < 0)
        return rc;
    w->slot_base = base;
    b->indptr =
        b->layout == SC_BATCH_CSR ? (int64_t *)(base + off[A_INDPTR]) : NULL;
    b->indices =
        b->layout != SC_BATCH_DENSE ? (int32_t *)(base + off[A_INDICES]) : NULL;
    b->values = (float *)(base + off[A_VALUES]);
    b->labels = (int32_t *)(base + off[A_LABELS]);
    b->dataset = (int32_t *)(base + off[A_DATASET]);
    b->row = (int64_t *)(base + off[A_ROW]);
    b->cap_cells = b->cap_nnz = b->cap_labels = 0; /* not the batch's own */
    /* the padding between arrays is zero */
    for (int a = A_INDPTR; a < A_END; a++)
        if (off[a + 1] > off[a] && off[a + 1] % 8 == 0)
            memset(base + off[a + 1] - 4, 0, 4);
    return 0;
}

int sc_batch_writer_commit(sc_batch_writer *w, sc_batch *b)
{
    buf p = {w->slot_base, 0, BATCH_FIXED, 1};
    int rc;

    if ((rc = encode_fixed(&p, b)) < 0 || (rc = slot_close(w)) < 0)
        return rc;
    w->n_batches++;
    w->n_cells += b->n_cells;
    return 0;
}

int sc_batch_writer_finish(sc_batch_writer *w)
{
    int rc = 0;

    if (!(w->flags & SC_BATCH_TEXT)) {
        w->pl.n = 0;
        if ((rc = put_u64(&w->pl, w->n_batches)) < 0 ||
            (rc = put_u64(&w->pl, w->n_cells)) < 0 ||
            (rc = write_frame(w, F_END)) < 0)
            return rc;
    }
    errno = 0;
    if (fflush(w->fp) != 0 || ferror(w->fp))
        return wfail();
    return 0;
}

void sc_batch_writer_free(sc_batch_writer *w)
{
    if (!w)
        return;
    if (w->ring)
        munmap(w->ring, RING_CTRL + w->ring_bytes);
    free(w->pl.p);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

struct sc_batch_reader {
    FILE *fp;
    char *name;
    buf pl;
    uint64_t frames;
    sc_batch_header h;
    uint64_t end_batches, end_cells;
};

/* Read one frame: its type in *TYPE and its payload in R->pl. */
static int read_frame(sc_batch_reader *r, int *type)
{
    unsigned char head[FRAME_HEAD], tail[FRAME_TAIL];
    size_t got;
    uint64_t len;
    uint32_t crc;
    int rc;

    got = fread(head, 1, FRAME_HEAD, r->fp);
    if (got != FRAME_HEAD) {
        if (ferror(r->fp))
            return sc_fail(SC_EIO, "cannot read '%s': %s", r->name,
                           strerror(errno));
        return sc_fail(SC_ECORRUPT, "'%s': %s", r->name,
                       got == 0 ? "stream ends without an end frame"
                                : "stream ends inside a frame");
    }
    if (memcmp(head, "SCBF", 4) != 0)
        return sc_fail(r->frames ? SC_ECORRUPT : SC_EFORMAT, "'%s': %s",
                       r->name,
                       r->frames ? "bad frame marker (damaged stream)"
                                 : "not an sc-batch stream");
    if (head[5] != SC_BATCH_VERSION)
        return sc_fail(SC_EFORMAT, "'%s': unsupported sc-batch version %d",
                       r->name, head[5]);
    len = get_u64(head + 8);
    if (len > FRAME_MAX || len % 8)
        return sc_fail(SC_ECORRUPT, "'%s': frame %" PRIu64 ": bad length",
                       r->name, r->frames);
    r->pl.n = 0;
    if ((rc = buf_grow(&r->pl, (size_t)len)) < 0)
        return rc;
    if (fread(r->pl.p, 1, (size_t)len, r->fp) != len ||
        fread(tail, 1, FRAME_TAIL, r->fp) != FRAME_TAIL) {
        if (ferror(r->fp))
            return sc_fail(SC_EIO, "cannot read '%s': %s", r->name,
                           strerror(errno));
        return sc_fail(SC_ECORRUPT, "'%s': stream ends inside a frame",
                       r->name);
    }
    r->pl.n = (size_t)len;
    crc = libdeflate_crc32(0, head, FRAME_HEAD);
    crc = libdeflate_crc32(crc, r->pl.p, r->pl.n);
    if (crc != get_u32(tail))
        return sc_fail(SC_ECORRUPT,
                       "'%s': frame %" PRIu64 ": checksum mismatch", r->name,
                       r->frames);
    r->frames++;
    *type = head[4];
    return 0;
}

/* A cursor over a payload that fails instead of running past its end. */
typedef struct cur {
    const unsigned char *p;
    size_t n, off;
    int bad;
} cur;

static const unsigned char *take(cur *c, size_t n)
{
    if (c->bad || n > c->n - c->off) {
        c->bad = 1;
        return NULL;
    }
    c->off += n;
    return c->p + c->off - n;
}

static uint32_t take_u32(cur *c)
{
    const unsigned char *p = take(c, 4);
    return p ? get_u32(p) : 0;
}

static uint64_t take_u64(cur *c)
{
    const unsigned char *p = take(c, 8);
    return p ? get_u64(p) : 0;
}

static char *take_str(cur *c)
{
    uint32_t n = take_u32(c);
    const unsigned char *p = take(c, n);
    char *s;
    if (!p || !(s = malloc((size_t)n + 1)))
        return c->bad = 1, NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* An array of COUNT strings (calloc'd so that release works half-way). */
static char **take_strs(cur *c, uint64_t count)
{
    char **v;
    if (count > c->n || !(v = calloc(count ? count : 1, sizeof *v)))
        return c->bad = 1, NULL;
    for (uint64_t i = 0; i < count && !c->bad; i++)
        v[i] = take_str(c);
    return v;
}

static int decode_header(sc_batch_reader *r)
{
    cur c = {r->pl.p, r->pl.n, 0, 0};
    sc_batch_header *h = &r->h;
    uint32_t f32[8];
    uint64_t n_info, n_genes, n_labels, n_ds;

    for (int i = 0; i < 8; i++)
        f32[i] = take_u32(&c);
    h->layout = f32[1];
    h->row_len = f32[2];
    h->batch_size = f32[3];
    h->epoch = f32[4];
    h->rank = f32[5];
    h->world_size = f32[6];
    h->seed = take_u64(&c);
    h->n_batches = take_u64(&c);
    h->n_cells = take_u64(&c);
    n_info = take_u64(&c);
    n_genes = take_u64(&c);
    n_labels = take_u64(&c);
    n_ds = take_u64(&c);
    if (!c.bad) {
        h->info_key = calloc(n_info ? n_info : 1, sizeof(char *));
        h->info_val = calloc(n_info ? n_info : 1, sizeof(char *));
        if (n_info > c.n || !h->info_key || !h->info_val)
            c.bad = 1;
        for (uint64_t i = 0; i < n_info && !c.bad; i++) {
            h->info_key[i] = take_str(&c);
            h->info_val[i] = take_str(&c);
            h->n_info = i + 1;
        }
    }
    if (!c.bad && (h->genes = take_strs(&c, n_genes)))
        h->n_genes = n_genes;
    if (!c.bad && n_labels <= c.n &&
        (h->labels = calloc(n_labels ? n_labels : 1, sizeof *h->labels))) {
        for (uint64_t i = 0; i < n_labels && !c.bad; i++) {
            sc_batch_vocab *v = &h->labels[i];
            h->n_labels = i + 1;
            v->name = take_str(&c);
            uint64_t n = take_u64(&c);
            if (!c.bad && (v->terms = take_strs(&c, n)))
                v->n = n;
        }
    } else {
        c.bad = 1;
    }
    if (!c.bad && (h->datasets = take_strs(&c, n_ds)))
        h->n_datasets = n_ds;
    if (c.bad)
        return sc_fail(SC_ECORRUPT, "'%s': malformed header frame", r->name);
    return 0;
}

int sc_batch_reader_open(FILE *fp, const char *name, sc_batch_reader **out)
{
    sc_batch_reader *r;
    int type, rc;

    *out = NULL;
    if (!(r = calloc(1, sizeof *r)) || !(r->name = strdup(name))) {
        free(r);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    r->fp = fp;
    if ((rc = read_frame(r, &type)) < 0)
        goto fail;
    if (type != F_HEADER) {
        rc = sc_fail(SC_EFORMAT, "'%s': stream does not start with a header",
                     name);
        goto fail;
    }
    if ((rc = decode_header(r)) < 0)
        goto fail;
    *out = r;
    return 0;
fail:
    sc_batch_reader_free(r);
    return rc;
}

const sc_batch_header *sc_batch_reader_header(const sc_batch_reader *r)
{
    return &r->h;
}

/* Copy an array of COUNT elements of SIZE bytes and skip its padding. */
static void take_arr(cur *c, void *dst, uint64_t count, size_t size)
{
    uint64_t bytes = count * size;
    const unsigned char *p;
    if (count && bytes / count != size) {
        c->bad = 1;
        return;
    }
    if ((p = take(c, (size_t)bytes)) && bytes)
        memcpy(dst, p, (size_t)bytes);
    take(c, (8 - bytes % 8) % 8);
}

static int bad_batch(const sc_batch_reader *r, const sc_batch *b,
                     const char *what)
{
    return sc_fail(SC_ECORRUPT, "'%s': batch %" PRIu64 ": %s", r->name,
                   b->index, what);
}

/* The arrays of a decoded batch agree with each other and with the header
 * (a frame damaged before its CRC was computed passes read_frame): cell
 * offsets span the entries in order, gene indices are columns of the
 * header (-1 only as padding), label codes are terms of their vocabulary
 * or -1, datasets are the header's. Linear in the batch. */
static int check_batch(const sc_batch_reader *r, const sc_batch *b)
{
    const sc_batch_header *h = &r->h;
    uint64_t n = b->n_cells;

    if (b->layout == SC_BATCH_CSR) {
        if (b->indptr[0] != 0 || (uint64_t)b->indptr[n] != b->nnz)
            return bad_batch(r, b, "cell offsets do not span the entries");
        for (uint64_t i = 0; i < n; i++)
            if (b->indptr[i + 1] < b->indptr[i])
                return bad_batch(r, b, "cell offsets out of order");
    } else if (b->row_len && n > UINT64_MAX / b->row_len) {
        return bad_batch(r, b, "row length out of range");
    } else if (n * b->row_len != b->nnz) {
        return bad_batch(r, b, "entries do not match cells x row length");
    }
    if (b->layout != SC_BATCH_DENSE)
        for (uint64_t k = 0; k < b->nnz; k++) {
            int32_t j = b->indices[k];
            if (j < (b->layout == SC_BATCH_PADDED ? -1 : 0) ||
                (j >= 0 && (uint64_t)j >= h->n_genes))
                return bad_batch(r, b, "gene index out of range");
        }
    for (uint64_t k = 0; k < b->n_labels; k++)
        for (uint64_t i = 0; i < n; i++) {
            int32_t c = b->labels[k * n + i];
            if (c < -1 ||
                (c >= 0 && (k >= h->n_labels || (uint64_t)c >= h->labels[k].n)))
                return bad_batch(r, b, "label code out of range");
        }
    for (uint64_t i = 0; i < n; i++)
        if (b->dataset[i] < -1 ||
            (b->dataset[i] >= 0 && (uint64_t)b->dataset[i] >= h->n_datasets))
            return bad_batch(r, b, "dataset index out of range");
    return 0;
}

static int decode_batch(sc_batch_reader *r, sc_batch *b)
{
    cur c = {r->pl.p, r->pl.n, 0, 0};
    int rc;

    b->index = take_u64(&c);
    b->n_cells = take_u32(&c);
    b->n_pad = take_u32(&c);
    b->nnz = take_u64(&c);
    b->n_labels = take_u32(&c);
    b->layout = take_u32(&c);
    b->row_len = take_u32(&c);
    take_u32(&c);
    if (c.bad || b->nnz > c.n || b->n_cells > c.n || b->n_pad > b->n_cells ||
        b->layout > SC_BATCH_DENSE || (uint64_t)b->n_labels > c.n)
        return sc_fail(SC_ECORRUPT, "'%s': malformed batch frame", r->name);
    if ((rc = sc_batch_reserve(b, b->n_cells, b->nnz, b->n_labels)) < 0)
        return rc;
    if (b->layout == SC_BATCH_CSR)
        take_arr(&c, b->indptr, (uint64_t)b->n_cells + 1, 8);
    if (b->layout != SC_BATCH_DENSE)
        take_arr(&c, b->indices, b->nnz, 4);
    take_arr(&c, b->values, b->nnz, 4);
    take_arr(&c, b->labels, (uint64_t)b->n_labels * b->n_cells, 4);
    take_arr(&c, b->dataset, b->n_cells, 4);
    take_arr(&c, b->row, b->n_cells, 8);
    if (c.bad)
        return sc_fail(SC_ECORRUPT, "'%s': malformed batch frame", r->name);
    return check_batch(r, b);
}

int sc_batch_read(sc_batch_reader *r, sc_batch *b)
{
    int type, rc;

    if ((rc = read_frame(r, &type)) < 0)
        return rc;
    if (type == F_END) {
        if (r->pl.n < 16)
            return sc_fail(SC_ECORRUPT, "'%s': malformed end frame", r->name);
        r->end_batches = get_u64(r->pl.p);
        r->end_cells = get_u64(r->pl.p + 8);
        return 0;
    }
    if (type == F_RING)
        return sc_fail(SC_EUNSUP,
                       "'%s': batches in a shared-memory ring: only the "
                       "process that gave the ring reads them",
                       r->name);
    if (type != F_BATCH)
        return sc_fail(SC_ECORRUPT, "'%s': unexpected frame type '%c'", r->name,
                       type);
    if ((rc = decode_batch(r, b)) < 0)
        return rc;
    return 1;
}

void sc_batch_reader_end(const sc_batch_reader *r, uint64_t *n_batches,
                         uint64_t *n_cells)
{
    *n_batches = r->end_batches;
    *n_cells = r->end_cells;
}

void sc_batch_reader_free(sc_batch_reader *r)
{
    if (!r)
        return;
    sc_batch_header_release(&r->h);
    free(r->pl.p);
    free(r->name);
    free(r);
}
