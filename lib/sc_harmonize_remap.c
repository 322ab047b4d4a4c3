/* sc_harmonize_remap: rows onto the output genes, the spill format, and the
 * output matrix. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_harmonize_int.h"
#include "sc_varint.h"

/* ------------------------------------------------------------------------ */
/* Row remapping                                                            */

int hz_remap_init(hz_remap *r, const int32_t *col, int64_t n_out)
{
    size_t n = (size_t)(n_out ? n_out : 1);

    memset(r, 0, sizeof *r);
    r->col = col;
    r->n_out = n_out;
    r->acc = malloc(n * sizeof *r->acc);
    r->stamp = malloc(n * sizeof *r->stamp);
    r->touched = malloc(n * sizeof *r->touched);
    if (!r->acc || !r->stamp || !r->touched)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        r->stamp[i] = -1;
    return 0;
}

void hz_remap_release(hz_remap *r)
{
    free(r->acc);
    free(r->stamp);
    free(r->touched);
    memset(r, 0, sizeof *r);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Sum row I of block B into output columns; R->touched lists them in
 * increasing order afterwards. *DROPPED gets the counts of dropped genes. */
void hz_remap_row(hz_remap *r, const sc_block *b, int64_t i, double *dropped)
{
    const int32_t *col = r->col;
    int64_t id = ++r->row_id, descents = 0;
    int32_t prev = -1;
    double drop = 0;

    r->n_touched = 0;
    if (b->dense) {
        const double *v = b->vals + i * b->n_cols;

        for (int64_t j = 0; j < b->n_cols; j++) {
            if (v[j] == 0)
                continue;
            int32_t o = col[j];

            if (o < 0) {
                drop += v[j];
                continue;
            }
            if (r->stamp[o] != id) {
                r->stamp[o] = id;
                r->acc[o] = v[j];
                r->touched[r->n_touched++] = o;
                descents += o < prev;
                prev = o;
            } else {
                r->acc[o] += v[j];
            }
        }
    } else {
        for (int64_t k = b->indptr[i]; k < b->indptr[i + 1]; k++) {
            int32_t o = col[b->indices[k]];
            double v = b->vals[k];

            if (o < 0) {
                drop += v;
                continue;
            }
            if (v == 0)
                continue;
            if (r->stamp[o] != id) {
                r->stamp[o] = id;
                r->acc[o] = v;
                r->touched[r->n_touched++] = o;
                descents += o < prev;
                prev = o;
            } else {
                r->acc[o] += v;
            }
        }
    }
    if (descents > 0 && descents <= 16) {
        /* nearly sorted (a few duplicates out of place): insertion sort */
        for (int64_t a = 1; a < r->n_touched; a++) {
            int32_t x = r->touched[a];
            int64_t c = a;

            while (c > 0 && r->touched[c - 1] > x) {
                r->touched[c] = r->touched[c - 1];
                c--;
            }
            r->touched[c] = x;
        }
    } else if (descents > 16) {
        qsort(r->touched, (size_t)r->n_touched, sizeof *r->touched, cmp_i32);
    }
    *dropped += drop;
}

/* ---- the spill: the QC pass's remapped rows, for the writing pass ----
 *
 * Reading and inflating the input a second time costs a quarter of a run;
 * instead the QC pass writes each row as it will be written (output
 * columns in order, duplicates summed) to an unlinked file beside the
 * output, compactly: the number of values, then per value the column's
 * distance to the previous one and the value, as LEB128 varints (a count
 * v as 2v, anything else as 1 and the 8 bytes of the double). Counts take
 * about two bytes a value. */

/* Encode the row in R (touched columns in order, sums in acc) into *BUF
 * (grown as needed); returns its size, or 0 when out of memory. */
size_t hz_spill_encode(const hz_remap *r, uint8_t **buf, size_t *cap)
{
    size_t need = 10 + (size_t)r->n_touched * 20, k = 0;
    int64_t n = 0, prev = -1;

    if (need > *cap) {
        uint8_t *p = realloc(*buf, need);

        if (!p)
            return 0;
        *buf = p;
        *cap = need;
    }
    for (int64_t t = 0; t < r->n_touched; t++)
        n += r->acc[r->touched[t]] != 0;
    k += sc_varint_put(*buf + k, (uint64_t)n);
    for (int64_t t = 0; t < r->n_touched; t++) {
        int32_t o = r->touched[t];
        double v = r->acc[o];

        if (v == 0)
            continue;
        k += sc_varint_put(*buf + k, (uint64_t)(o - prev));
        prev = o;
        if (v > 0 && v < 4e15 && v == floor(v)) {
            k += sc_varint_put(*buf + k, (uint64_t)v << 1);
        } else {
            (*buf)[k++] = 1;
            memcpy(*buf + k, &v, sizeof v);
            k += sizeof v;
        }
    }
    return k;
}

/* Decode the row at P (of LEN bytes) into R as hz_remap_row leaves it. */
int hz_spill_decode(hz_remap *r, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t n, d, tag;
    int64_t prev = -1;

    if (!(p = sc_varint_get(p, end, &n)) || (int64_t)n > r->n_out)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        double v;

        if (!(p = sc_varint_get(p, end, &d)) || prev + (int64_t)d >= r->n_out ||
            !(p = sc_varint_get(p, end, &tag)))
            return -1;
        prev += (int64_t)d;
        if (tag & 1) {
            if (end - p < (ptrdiff_t)sizeof v)
                return -1;
            memcpy(&v, p, sizeof v);
            p += sizeof v;
        } else {
            v = (double)(tag >> 1);
        }
        r->acc[prev] = v;
        r->touched[i] = (int32_t)prev;
    }
    r->n_touched = (int64_t)n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The output matrix: a callback source over the kept rows                  */

typedef struct outmat {
    sc_mat *in;          /* borrowed input matrix */
    const int64_t *rows; /* output row -> input row, -1 for an empty row */
    int64_t n_rows;
    int32_t *nnz; /* values per input row (owned when OWN_NNZ) */
    int own_nnz;
    const float *total; /* per input row: normalize_total, when set */
    double target;
    hz_remap r;
    sc_block b;
    double dropped;
    sc_block *blk; /* outmat_read: the block being filled, from row */
    int64_t blk_r0, k;
    int monotone;   /* ROWS all >= 0 and increasing: whole spans are read */
    hz_prefetch pf; /* the next span, read ahead */
    int fd;         /* the spill file to read instead of IN, or -1 */
    const uint32_t *len; /* its bytes per input row */
    int64_t next, off;   /* the input row at offset OFF */
    uint8_t *sbuf;       /* bytes [sbuf_off, sbuf_off + sbuf_n) of it */
    int64_t sbuf_off, sbuf_n, sbuf_cap;
} outmat;

static void outmat_free(void *ud)
{
    outmat *om = ud;

    hz_prefetch_release(&om->pf);
    free(om->sbuf);
    hz_remap_release(&om->r);
    sc_block_release(&om->b);
    if (om->own_nnz)
        free(om->nnz);
    free(om);
}

/* Call FN(OM, x) for each output row x of [R0, R1) once OM->r holds its
 * remapped values, reading runs of nearby input rows at once. */
static int outmat_each(outmat *om, int64_t r0, int64_t r1,
                       int (*fn)(outmat *, int64_t))
{
    const int64_t *rows = om->rows;
    int rc;

    for (int64_t r = r0; r < r1;) {
        int64_t a = rows[r], e = r + 1;

        if (a < 0) {
            om->r.n_touched = 0;
            if ((rc = fn(om, r)) < 0)
                return rc;
            r++;
            continue;
        }
        /* a run of increasing rows, at most ~4 skipped per row kept */
        while (e < r1 && rows[e] > rows[e - 1] &&
               rows[e] - a < (int64_t)(e - r) * 4 + 64 && e - r < 65536)
            e++;
        if ((rc = sc_mat_read_rows(om->in, a, rows[e - 1] + 1, &om->b)) < 0)
            return rc;
        for (int64_t x = r; x < e; x++) {
            hz_remap_row(&om->r, &om->b, rows[x] - a, &om->dropped);
            if ((rc = fn(om, x)) < 0)
                return rc;
        }
        r = e;
    }
    return 0;
}

static int count_row(outmat *om, int64_t x)
{
    int32_t n = 0;

    for (int64_t t = 0; t < om->r.n_touched; t++)
        n += om->r.acc[om->r.touched[t]] != 0;
    if (om->rows[x] >= 0)
        om->nnz[om->rows[x]] = n;
    return 0;
}

static int put_row(outmat *om, int64_t x)
{
    sc_block *blk = om->blk;
    int64_t in = om->rows[x];
    double tot = om->total && in >= 0 ? om->total[in] : 0;

    for (int64_t t = 0; t < om->r.n_touched; t++) {
        int32_t o = om->r.touched[t];
        double v = om->r.acc[o];

        if (v == 0)
            continue;
        blk->indices[om->k] = o;
        blk->vals[om->k++] =
            om->total && tot > 0 ? log1p(v / tot * om->target) : v;
    }
    blk->indptr[x - om->blk_r0 + 1] = om->k;
    return 0;
}

/* Whether the input rows of output rows [R0, R1) are worth reading as one
 * span (few dropped rows in between). */
static int span_ok(const outmat *om, int64_t r0, int64_t r1)
{
    return om->monotone && r1 > r0 &&
           om->rows[r1 - 1] + 1 - om->rows[r0] <= 4 * (r1 - r0) + 64;
}

/* Output rows [R0, R1) from one read of their input span, the span of the
 * next call (of the same size, as writers ask) read ahead meanwhile. */
static int outmat_span(outmat *om, int64_t r0, int64_t r1)
{
    int64_t a = om->rows[r0], e = om->rows[r1 - 1] + 1;
    int64_t n2 = r1 + (r1 - r0) < om->n_rows ? r1 + (r1 - r0) : om->n_rows;
    sc_block *b = NULL;
    int rc;

    if (om->pf.r0 != a || om->pf.r1 != e) {
        hz_prefetch_cancel(&om->pf);
        hz_prefetch_start(&om->pf, a, e);
    }
    if ((rc = hz_prefetch_get(&om->pf, &b)) < 0)
        return rc;
    om->pf.r0 = om->pf.r1 = -1;
    if (r1 < om->n_rows && span_ok(om, r1, n2))
        hz_prefetch_start(&om->pf, om->rows[r1], om->rows[n2 - 1] + 1);
    for (int64_t x = r0; x < r1; x++) {
        hz_remap_row(&om->r, b, om->rows[x] - a, &om->dropped);
        if ((rc = put_row(om, x)) < 0)
            return rc;
    }
    return 0;
}

/* Output rows [R0, R1) from the spill file (rows in increasing order). */
static int outmat_spill(outmat *om, int64_t r0, int64_t r1)
{
    int rc;

    for (int64_t x = r0; x < r1; x++) {
        int64_t t = om->rows[x], l;

        if (t < om->next) { /* asked again: start over */
            om->next = 0;
            om->off = 0;
        }
        while (om->next < t)
            om->off += om->len[om->next++];
        l = om->len[t];
        if (om->off < om->sbuf_off || om->off + l > om->sbuf_off + om->sbuf_n) {
            int64_t want = l > ((int64_t)1 << 22) ? l : (int64_t)1 << 22;

            if (want > om->sbuf_cap) {
                uint8_t *p = realloc(om->sbuf, (size_t)want);

                if (!p)
                    return sc_fail(SC_ENOMEM, "out of memory");
                om->sbuf = p;
                om->sbuf_cap = want;
            }
            om->sbuf_off = om->off;
            om->sbuf_n = 0;
            while (om->sbuf_n < want) {
                ssize_t got = pread(om->fd, om->sbuf + om->sbuf_n,
                                    (size_t)(want - om->sbuf_n),
                                    (off_t)(om->off + om->sbuf_n));

                if (got < 0 && errno == EINTR)
                    continue;
                if (got < 0)
                    return sc_fail(SC_EIO, "cannot read the spill file: %s",
                                   strerror(errno));
                if (got == 0)
                    break;
                om->sbuf_n += got;
            }
            if (om->sbuf_n < l)
                return sc_fail(SC_EIO, "the spill file is short");
        }
        if (hz_spill_decode(&om->r, om->sbuf + (om->off - om->sbuf_off),
                            (size_t)l) < 0)
            return sc_fail(SC_ECORRUPT,
                           "row %lld of the spill file is "
                           "damaged",
                           (long long)t);
        if ((rc = put_row(om, x)) < 0)
            return rc;
    }
    return 0;
}

static int outmat_read(void *ud, int64_t r0, int64_t r1, sc_block *blk)
{
    outmat *om = ud;
    int64_t need = 0;
    int rc;

    for (int64_t r = r0; r < r1; r++)
        need += om->rows[r] >= 0 ? om->nnz[om->rows[r]] : 0;
    if ((rc = sc_block_reserve(blk, r1 - r0, need)) < 0)
        return rc;
    blk->indptr[0] = 0;
    om->blk = blk;
    om->blk_r0 = r0;
    om->k = 0;
    if (om->fd >= 0)
        rc = outmat_spill(om, r0, r1);
    else if (span_ok(om, r0, r1))
        rc = outmat_span(om, r0, r1);
    else {
        hz_prefetch_cancel(&om->pf); /* the input is ours again */
        rc = outmat_each(om, r0, r1, put_row);
    }
    if (rc < 0)
        return rc;
    if (om->k != need)
        return sc_fail(SC_EFORMAT,
                       "rows %lld..%lld: %lld values, %lld in the "
                       "first pass (the input changed?)",
                       (long long)r0, (long long)r1, (long long)om->k,
                       (long long)need);
    return 0;
}

/*
 * A matrix of the rows ROWS[0..N_ROWS) of IN (-1: an empty row), its
 * columns through COL to N_OUT output columns (duplicates summed), as a
 * callback source of DTYPE. NNZ: the values of each input row once
 * remapped (borrowed), or NULL to count them now (a pass over the rows).
 * TOTAL (per input row): write log1p(v / total * TARGET) instead of v.
 */
sc_mat *hz_outmat_new(sc_mat *in, const int64_t *rows, int64_t n_rows,
                      const int32_t *col, int64_t n_out, int32_t *nnz,
                      sc_dtype dtype, const float *total, double target,
                      const hz_qc *spill)
{
    outmat *om = calloc(1, sizeof *om);
    sc_mat_info mi;
    int64_t sum = 0;

    if (!om) {
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    sc_mat_get_info(in, &mi);
    hz_prefetch_init(&om->pf, in);
    om->fd = spill && nnz ? spill->spill_fd : -1;
    om->len = spill ? spill->spill_len : NULL;
    om->monotone = 1;
    for (int64_t r = 0; r < n_rows && om->monotone; r++)
        om->monotone = rows[r] >= 0 && (r == 0 || rows[r] > rows[r - 1]);
    om->in = in;
    om->rows = rows;
    om->n_rows = n_rows;
    om->nnz = nnz;
    om->total = total;
    om->target = target;
    if (hz_remap_init(&om->r, col, n_out) < 0)
        goto fail;
    if (!nnz) {
        int64_t step = hz_block_rows(in);

        om->own_nnz = 1;
        if (!(om->nnz = calloc((size_t)(mi.n_rows ? mi.n_rows : 1),
                               sizeof *om->nnz))) {
            sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        for (int64_t r = 0; r < n_rows; r += step)
            if (outmat_each(om, r, r + step < n_rows ? r + step : n_rows,
                            count_row) < 0)
                goto fail;
    }
    for (int64_t r = 0; r < n_rows; r++)
        sum += rows[r] >= 0 ? om->nnz[rows[r]] : 0;
    return sc_mat_new_callback(n_rows, n_out, dtype, sum, outmat_read, om,
                               outmat_free);
fail:
    outmat_free(om);
    return NULL;
}
