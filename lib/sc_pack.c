/* sc_pack: the packed, pre-shuffled cell file of sc-stream pack
 * (sc-pack(5)). */
/* SPDX-License-Identifier: MIT */
#include "sc_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_io.h"

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

enum { /* u64 words of the fixed header, from byte 16 */
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
       H_WORDS = 16
};

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
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
    uint64_t off_indices, off_values;
};

int sc_pack_probe(const char *path)
{
    unsigned char m[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, m, sizeof m, 0);
    close(fd);
    return n == (ssize_t)sizeof m && !memcmp(m, MAGIC, sizeof m);
}

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

    if (!fits(p, w[H_INDPTR], n + 1, 8) || !fits(p, w[H_INDICES], a->nnz, 4) ||
        !fits(p, w[H_VALUES], a->nnz, 4) || !fits(p, w[H_DATASET], n, 4) ||
        !fits(p, w[H_ROW], n, 8) ||
        (a->n_labels && (n > UINT64_MAX / a->n_labels ||
                         !fits(p, w[H_LABELS], n * a->n_labels, 4))))
        return corrupt(p, "an array reaches past the end of the file");
    p->off_indices = w[H_INDICES];
    p->off_values = w[H_VALUES];
    a->indptr = (const int64_t *)(p->map + w[H_INDPTR]);
    a->indices = (const int32_t *)(p->map + w[H_INDICES]);
    a->values = (const float *)(p->map + w[H_VALUES]);
    a->dataset = (const int32_t *)(p->map + w[H_DATASET]);
    a->row = (const int64_t *)(p->map + w[H_ROW]);
    a->labels = (const int32_t *)(p->map + w[H_LABELS]);
    if (h->n_labels != a->n_labels)
        return corrupt(p, "label columns disagree with the header frame");
    if (h->n_genes > INT32_MAX)
        return corrupt(p, "too many genes");
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
    for (size_t k = 0; k < a->n_labels; k++)
        for (uint64_t i = 0; i < n; i++) {
            int32_t c = a->labels[k * n + i];
            if (c < -1 || (c >= 0 && (size_t)c >= h->labels[k].n))
                return corrupt(p, "a label code is out of range");
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
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        rc = sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    ssize_t got = pread(p->fd, fx, FIXED, 0);
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
    if (version != SC_PACK_VERSION) {
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
    p->a.n_cells = w[H_CELLS];
    p->a.nnz = w[H_NNZ];
    p->a.n_labels = n_labels;
    if (w[H_META_OFF] != META_OFF || w[H_META_LEN] > p->size - META_OFF) {
        rc = corrupt(p, "bad header frame place");
        goto fail;
    }
    p->map = mmap(NULL, p->size, PROT_READ, MAP_SHARED, p->fd, 0);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        rc = sc_fail(SC_EIO, "cannot map '%s': %s", path, strerror(errno));
        goto fail;
    }
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

/* N bytes at OFF of P into DST. */
static int read_at(const sc_pack *p, void *dst, size_t n, uint64_t off)
{
    unsigned char *d = dst;
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

int sc_pack_read(const sc_pack *p, uint64_t e0, uint64_t e1, int32_t *idx,
                 float *val)
{
    size_t n = (size_t)(e1 - e0) * 4;
    int rc = read_at(p, idx, n, p->off_indices + e0 * 4);
    if (rc == 0)
        rc = sc_pack_check_indices(p, idx, (size_t)(e1 - e0));
    return rc < 0 ? rc : read_at(p, val, n, p->off_values + e0 * 4);
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
    free(p->path);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Per cell, until the end: where its entries end, its row, its dataset,
 * its label codes (a record of rec_size bytes in the scratch file). */
struct sc_pack_writer {
    char *path;
    sc_atomic at;
    FILE *fp;   /* the pack: header, header frame, then the gene indices */
    FILE *vals; /* scratch: the values */
    FILE *recs; /* scratch: the cell records */
    size_t n_labels, n_genes, n_datasets, rec_size;
    uint64_t n_cells, nnz, meta_len, indices_off;
    unsigned char *rec;
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

int sc_pack_writer_open(const char *path, const sc_batch_header *h,
                        sc_pack_writer **out)
{
    sc_pack_writer *w;
    sc_batch_writer *bw = NULL;
    int rc;

    *out = NULL;
    if (!strcmp(path, "-"))
        return sc_fail(SC_EINVAL, "a pack is written to a file, not to "
                                  "standard output");
    if (!(w = calloc(1, sizeof *w)) || !(w->path = strdup(path))) {
        free(w);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    w->n_labels = h->n_labels;
    w->n_genes = h->n_genes;
    w->n_datasets = h->n_datasets;
    w->rec_size = 20 + 4 * w->n_labels;
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
    if (!(w->vals = scratch(w, "values")) || !(w->recs = scratch(w, "cells"))) {
        rc = SC_EIO;
        goto fail;
    }
    *out = w;
    return 0;
fail:
    sc_pack_writer_free(w);
    return rc;
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
        if (fwrite(b->indices + lo, 4, m, w->fp) != m ||
            fwrite(b->values + lo, 4, m, w->vals) != m)
            return werr(w);
        w->nnz += m;
        w->n_cells++;
        int64_t end = (int64_t)w->nnz;
        memcpy(w->rec, &end, 8);
        memcpy(w->rec + 8, &b->row[i], 8);
        memcpy(w->rec + 16, &b->dataset[i], 4);
        for (size_t k = 0; k < w->n_labels; k++)
            memcpy(w->rec + 20 + 4 * k, &b->labels[k * b->n_cells + i], 4);
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
    if ((rc = copy_scratch(w, w->vals, buf, bsize)) < 0)
        goto out;
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
    uint32_t version = SC_PACK_VERSION, nl = (uint32_t)w->n_labels;
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
    free(w->path);
    free(w);
}
