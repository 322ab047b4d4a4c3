/* test_batch: the sc-batch framing, round trips and damaged streams. */
/* SPDX-License-Identifier: MIT */
#include <stdint.h>

#include "sc_batch.h"
#include "unit.h"

static char *xstrdup(const char *s)
{
    return strdup(s);
}

static void make_header(sc_batch_header *h)
{
    static const char *genes[] = {"g0", "g1", "g2", "g3"};
    memset(h, 0, sizeof *h);
    h->layout = SC_BATCH_CSR;
    h->batch_size = 3;
    h->seed = 9;
    h->n_batches = 2;
    h->n_cells = 6;
    h->genes = calloc(4, sizeof *h->genes);
    for (int i = 0; i < 4; i++)
        h->genes[i] = xstrdup(genes[i]);
    h->n_genes = 4;
    h->labels = calloc(1, sizeof *h->labels);
    h->labels[0].name = xstrdup("cell_type");
    h->labels[0].terms = calloc(2, sizeof(char *));
    h->labels[0].terms[0] = xstrdup("B cell");
    h->labels[0].terms[1] = xstrdup("T cell");
    h->labels[0].n = 2;
    h->n_labels = 1;
    h->datasets = calloc(1, sizeof *h->datasets);
    h->datasets[0] = xstrdup("a.h5ad");
    h->n_datasets = 1;
    CHECK_INTEQ(sc_batch_header_info(h, "matrix", "X"), 0);
}

static void make_batch(sc_batch *b, uint64_t index)
{
    CHECK_INTEQ(sc_batch_reserve(b, 3, 4, 1), 0);
    b->index = index;
    b->n_cells = 3;
    b->n_pad = 1;
    b->n_labels = 1;
    b->layout = SC_BATCH_CSR;
    b->nnz = 4;
    int64_t ip[4] = {0, 2, 2, 4};
    int32_t ix[4] = {0, 3, 1, 2};
    float v[4] = {1.5f, 2, 3, 4};
    memcpy(b->indptr, ip, sizeof ip);
    memcpy(b->indices, ix, sizeof ix);
    memcpy(b->values, v, sizeof v);
    for (int i = 0; i < 3; i++) {
        b->labels[i] = i == 2 ? -1 : i;
        b->dataset[i] = 0;
        b->row[i] = 10 + i;
    }
}

/* Write a header and two batches to a memory file; return its bytes. With
 * IN_PLACE the batches are written where the writer puts them (claim, fill,
 * commit) instead of through sc_batch_write. */
static char *write_stream(size_t *len, int in_place)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, len);
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_batch_writer *w = NULL;

    make_header(&h);
    CHECK_INTEQ(sc_batch_writer_open(fp, 0, &h, &w), 0);
    for (int k = 0; k < 2; k++) {
        make_batch(&b, (uint64_t)k);
        if (!in_place) {
            CHECK_INTEQ(sc_batch_write(w, &b), 0);
            continue;
        }
        sc_batch v = b; /* the sizes; the arrays become the writer's */
        CHECK_INTEQ(sc_batch_writer_claim(w, &v), 0);
        CHECK(v.indptr != b.indptr && v.values != b.values);
        memcpy(v.indptr, b.indptr, 4 * sizeof *b.indptr);
        memcpy(v.indices, b.indices, 4 * sizeof *b.indices);
        memcpy(v.values, b.values, 4 * sizeof *b.values);
        memcpy(v.labels, b.labels, 3 * sizeof *b.labels);
        memcpy(v.dataset, b.dataset, 3 * sizeof *b.dataset);
        memcpy(v.row, b.row, 3 * sizeof *b.row);
        CHECK_INTEQ(sc_batch_writer_commit(w, &v), 0);
    }
    CHECK_INTEQ(sc_batch_writer_finish(w), 0);
    sc_batch_writer_free(w);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
    fclose(fp);
    return buf;
}

/* The same stream with the batches written in place (claim, fill,
 * commit): the same bytes, padding included. */
static void test_claim(void)
{
    size_t len, len2;
    char *want = write_stream(&len, 0), *buf = write_stream(&len2, 1);
    CHECK_INTEQ(len2, len);
    CHECK(len2 == len && memcmp(buf, want, len) == 0);
    free(buf);
    free(want);
    /* a text writer cannot be written in place */
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_batch_writer *w = NULL;
    FILE *fp = open_memstream(&buf, &len2);
    make_header(&h);
    make_batch(&b, 0);
    CHECK_INTEQ(sc_batch_writer_open(fp, SC_BATCH_TEXT, &h, &w), 0);
    sc_batch v = b;
    CHECK_INTEQ(sc_batch_writer_claim(w, &v), SC_EUNSUP);
    sc_batch_writer_free(w);
    fclose(fp);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
    free(buf);
}

static void test_round_trip(void)
{
    size_t len;
    char *buf = write_stream(&len, 0);
    FILE *fp = fmemopen(buf, len, "rb");
    sc_batch_reader *r = NULL;
    sc_batch b = SC_BATCH_INIT;
    uint64_t nb, nc;

    CHECK(len % 8 == 0);
    CHECK_INTEQ(sc_batch_reader_open(fp, "mem", &r), 0);
    const sc_batch_header *h = sc_batch_reader_header(r);
    CHECK_INTEQ(h->n_genes, 4);
    CHECK_STREQ(h->genes[3], "g3");
    CHECK_STREQ(h->labels[0].terms[1], "T cell");
    CHECK_STREQ(h->datasets[0], "a.h5ad");
    CHECK_STREQ(h->info_val[0], "X");
    CHECK_INTEQ(h->seed, 9);
    for (int k = 0; k < 2; k++) {
        CHECK_INTEQ(sc_batch_read(r, &b), 1);
        CHECK_INTEQ(b.index, k);
        CHECK_INTEQ(b.n_cells, 3);
        CHECK_INTEQ(b.n_pad, 1);
        CHECK_INTEQ(b.indptr[3], 4);
        CHECK_INTEQ(b.indices[1], 3);
        CHECK(b.values[0] == 1.5f);
        CHECK_INTEQ(b.labels[2], -1);
        CHECK_INTEQ(b.row[2], 12);
    }
    CHECK_INTEQ(sc_batch_read(r, &b), 0);
    sc_batch_reader_end(r, &nb, &nc);
    CHECK_INTEQ(nb, 2);
    CHECK_INTEQ(nc, 6);
    sc_batch_reader_free(r);
    sc_batch_release(&b);
    fclose(fp);
    free(buf);
}

static int read_all(const char *buf, size_t len)
{
    FILE *fp = fmemopen((void *)buf, len, "rb");
    sc_batch_reader *r = NULL;
    sc_batch b = SC_BATCH_INIT;
    int rc = sc_batch_reader_open(fp, "mem", &r);
    while (rc == 0 && (rc = sc_batch_read(r, &b)) > 0)
        rc = 0;
    sc_batch_reader_free(r);
    sc_batch_release(&b);
    fclose(fp);
    return rc;
}

static void test_damage(void)
{
    size_t len;
    char *buf = write_stream(&len, 0);

    CHECK_INTEQ(read_all(buf, len), 0);
    /* torn: cut anywhere after the header, including exactly between
     * frames (no end frame) */
    CHECK_INTEQ(read_all(buf, len - 1), SC_ECORRUPT);
    CHECK_INTEQ(read_all(buf, len - 40), SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "mem") != NULL);
    /* one flipped bit in a batch */
    buf[len - 60] ^= 4;
    CHECK_INTEQ(read_all(buf, len), SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "checksum") != NULL);
    buf[len - 60] ^= 4;
    /* not a stream at all */
    CHECK_INTEQ(read_all("hello world, this is text\n", 26), SC_EFORMAT);
    free(buf);
}

static void test_text(void)
{
    char *buf = NULL;
    size_t len;
    FILE *fp = open_memstream(&buf, &len);
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_batch_writer *w = NULL;

    make_header(&h);
    CHECK_INTEQ(sc_batch_writer_open(fp, SC_BATCH_TEXT, &h, &w), 0);
    make_batch(&b, 0);
    CHECK_INTEQ(sc_batch_write(w, &b), 0);
    CHECK_INTEQ(sc_batch_writer_finish(w), 0);
    fclose(fp);
    CHECK(strstr(buf, "#batch\tpad\tdataset\trow\tcell_type\tn\tvalues\n"));
    CHECK(strstr(buf, "0\t0\t0\t10\tB cell\t2\t0:1.5,3:2\n"));
    CHECK(strstr(buf, "0\t1\t0\t12\tNA\t2\t1:3,2:4\n"));
    sc_batch_writer_free(w);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
    free(buf);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_claim);
    RUN(test_damage);
    RUN(test_text);
    return UNIT_DONE();
}
