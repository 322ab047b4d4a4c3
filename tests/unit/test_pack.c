/* test_pack: sc_pack's writer and reader, damaged packs. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sc_err.h"
#include "sc_pack.h"
#include "unit.h"

#define N_GENES 5

static char dir[64];

static char *xstrdup(const char *s)
{
    return strdup(s);
}

/* Two label columns, two datasets, N_GENES genes. */
static void make_header(sc_batch_header *h)
{
    static const char *ct[] = {"B cell", "T cell", "NK cell"};
    static const char *as[] = {"10x"};
    memset(h, 0, sizeof *h);
    h->layout = SC_BATCH_CSR;
    h->genes = calloc(N_GENES, sizeof *h->genes);
    for (int i = 0; i < N_GENES; i++) {
        char g[8];
        snprintf(g, sizeof g, "g%d", i);
        h->genes[i] = xstrdup(g);
    }
    h->n_genes = N_GENES;
    h->labels = calloc(2, sizeof *h->labels);
    h->labels[0].name = xstrdup("cell_type");
    h->labels[0].terms = calloc(3, sizeof(char *));
    for (int i = 0; i < 3; i++)
        h->labels[0].terms[i] = xstrdup(ct[i]);
    h->labels[0].n = 3;
    h->labels[1].name = xstrdup("assay");
    h->labels[1].terms = calloc(1, sizeof(char *));
    h->labels[1].terms[0] = xstrdup(as[0]);
    h->labels[1].n = 1;
    h->n_labels = 2;
    h->datasets = calloc(2, sizeof *h->datasets);
    h->datasets[0] = xstrdup("/data/a.h5ad");
    h->datasets[1] = xstrdup("/data/b.h5ad");
    h->n_datasets = 2;
    CHECK_INTEQ(sc_batch_header_info(h, "pack_seed", "7"), 0);
}

/* Batch K of 3 cells, the last one padding (it repeats cell 0 and must
 * not reach the pack). Cell i of batch K is cell c = 2K + i of the pack,
 * with c % N_GENES + 1 entries (cell 3 none), dataset c % 2, row
 * 1000 + c, cell type c % 3 (cell 3 missing). */
static void make_batch(sc_batch *b, int k)
{
    CHECK_INTEQ(sc_batch_reserve(b, 3, 16, 2), 0);
    b->index = (uint64_t)k;
    b->n_cells = 3;
    b->n_pad = 1;
    b->n_labels = 2;
    b->layout = SC_BATCH_CSR;
    int64_t e = 0;
    b->indptr[0] = 0;
    for (int i = 0; i < 3; i++) {
        int c = 2 * k + (i == 2 ? 0 : i);
        int m = (k == 1 && i == 1) ? 0 : c % N_GENES + 1;
        for (int j = 0; j < m; j++) {
            b->indices[e] = j;
            b->values[e] = (float)(100 * c + j) + 0.5f;
            e++;
        }
        b->indptr[i + 1] = e;
        b->dataset[i] = c % 2;
        b->row[i] = 1000 + c;
        b->labels[i] = c % 4 == 3 ? -1 : c % 3;
        b->labels[3 + i] = 0;
    }
    b->nnz = (uint64_t)e;
}

#define N_BATCHES 3

/* Write a pack of N_BATCHES batches to PATH with CODEC. */
static int write_pack_codec(const char *path, int codec)
{
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_pack_writer *w = NULL;
    int rc;

    make_header(&h);
    rc = sc_pack_writer_open(path, &h, codec, &w);
    CHECK_INTEQ(rc, 0);
    for (int k = 0; k < N_BATCHES && rc == 0; k++) {
        make_batch(&b, k);
        rc = sc_pack_writer_add(w, &b);
        CHECK_INTEQ(rc, 0);
    }
    if (rc == 0) {
        rc = sc_pack_writer_finish(w);
        CHECK_INTEQ(rc, 0);
    }
    sc_pack_writer_free(w);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
    return rc;
}

static int write_pack(const char *path)
{
    return write_pack_codec(path, SC_PACK_RAW);
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* The number of entries in DIR (not . and ..). */
static int n_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_round_trip(void)
{
    char path[128];
    sc_pack *p = NULL;

    path_in(path, sizeof path, "rt.scpack");
    CHECK_INTEQ(write_pack(path), 0);
    CHECK_INTEQ(n_entries(), 1); /* no scratch file left */
    CHECK_INTEQ(sc_pack_probe(path), 1);
    CHECK_INTEQ(sc_pack_open(path, &p), 0);
    if (!p)
        return;
    const sc_batch_header *h = sc_pack_header(p);
    CHECK_INTEQ(h->n_genes, N_GENES);
    CHECK_STREQ(h->genes[4], "g4");
    CHECK_INTEQ(h->n_labels, 2);
    CHECK_STREQ(h->labels[0].name, "cell_type");
    CHECK_STREQ(h->labels[0].terms[2], "NK cell");
    CHECK_STREQ(h->labels[1].name, "assay");
    CHECK_INTEQ(h->n_datasets, 2);
    CHECK_STREQ(h->datasets[1], "/data/b.h5ad");
    CHECK_INTEQ(h->n_info, 1);
    if (h->n_info == 1) {
        CHECK_STREQ(h->info_key[0], "pack_seed");
        CHECK_STREQ(h->info_val[0], "7");
    }

    const sc_pack_arrays *a = sc_pack_data(p);
    uint64_t n = 2 * N_BATCHES, nnz = 0;
    CHECK_INTEQ(a->n_cells, n);
    CHECK_INTEQ(a->n_labels, 2);
    for (uint64_t c = 0; c < n; c++)
        nnz += c == 3 ? 0 : c % N_GENES + 1;
    CHECK_INTEQ(a->nnz, nnz);
    CHECK_INTEQ(a->indptr[0], 0);
    CHECK_INTEQ(a->indptr[n], (int64_t)nnz);
    /* the arrays are aligned for use in place */
    CHECK((uintptr_t)a->indptr % 4096 == 0 && (uintptr_t)a->values % 4096 == 0);
    for (uint64_t c = 0; c < n; c++) {
        int64_t lo = a->indptr[c], hi = a->indptr[c + 1];
        CHECK_INTEQ(hi - lo, c == 3 ? 0 : (int64_t)(c % N_GENES + 1));
        for (int64_t e = lo; e < hi; e++) {
            CHECK_INTEQ(a->indices[e], e - lo);
            CHECK(a->values[e] == (float)(100 * c + (uint64_t)(e - lo)) + 0.5f);
        }
        CHECK_INTEQ(a->dataset[c], c % 2);
        CHECK_INTEQ(a->row[c], 1000 + (int64_t)c);
        CHECK_INTEQ(a->labels[c], c % 4 == 3 ? -1 : (int64_t)(c % 3));
        CHECK_INTEQ(a->labels[n + c], 0);
    }
    /* pread gives what the mapping holds, over any range of cells */
    int32_t idx[64];
    float val[64];
    sc_pack_buf pb = {0};
    CHECK_INTEQ(sc_pack_version(p), 1);
    CHECK_INTEQ(sc_pack_entry_bytes(p), 8 * nnz);
    for (int pr = 0; pr < 2; pr++) {
        CHECK_INTEQ(sc_pack_cells(p, 0, n, pr, &pb, idx, val), 0);
        CHECK(!memcmp(idx, a->indices, nnz * 4));
        CHECK(!memcmp(val, a->values, nnz * 4));
        CHECK_INTEQ(sc_pack_cells(p, 2, 4, pr, &pb, idx, val), 0);
        CHECK(!memcmp(idx, a->indices + a->indptr[2], 12));
        CHECK(!memcmp(val, a->values + a->indptr[2], 12));
        CHECK_INTEQ(sc_pack_cells(p, 5, 5, pr, &pb, idx, val), 0);
    }
    sc_pack_buf_release(&pb);
    sc_pack_close(p);
    unlink(path);
}

static void test_empty(void)
{
    char path[128];
    sc_batch_header h;
    sc_pack_writer *w = NULL;
    sc_pack *p = NULL;

    path_in(path, sizeof path, "empty.scpack");
    make_header(&h);
    CHECK_INTEQ(sc_pack_writer_open(path, &h, SC_PACK_RAW, &w), 0);
    CHECK_INTEQ(sc_pack_writer_finish(w), 0);
    sc_pack_writer_free(w);
    sc_batch_header_release(&h);
    CHECK_INTEQ(sc_pack_open(path, &p), 0);
    if (p) {
        CHECK_INTEQ(sc_pack_data(p)->n_cells, 0);
        CHECK_INTEQ(sc_pack_data(p)->nnz, 0);
        sc_pack_close(p);
    }
    unlink(path);
}

static void test_probe(void)
{
    char path[128];
    FILE *f;

    path_in(path, sizeof path, "probe");
    CHECK_INTEQ(sc_pack_probe(path), 0); /* missing */
    f = fopen(path, "wb");
    fputs("SCPACK", f);
    fclose(f);
    CHECK_INTEQ(sc_pack_probe(path), 0); /* shorter than the magic */
    f = fopen(path, "wb");
    fwrite("SCPACK\0\0", 1, 8, f);
    fclose(f);
    CHECK_INTEQ(sc_pack_probe(path), 1);
    f = fopen(path, "wb");
    fwrite("\x89HDF\r\n\x1a\n", 1, 8, f);
    fclose(f);
    CHECK_INTEQ(sc_pack_probe(path), 0);
    CHECK_INTEQ(sc_pack_probe(dir), 0);
    unlink(path);
}

/* Read header word K (u64 at 8 * K) of PATH. */
static uint64_t word(const char *path, int k)
{
    uint64_t v = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, 8L * k, SEEK_SET);
        if (fread(&v, 8, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static void poke(const char *path, uint64_t off, const void *b, size_t n)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, (long)off, SEEK_SET);
    CHECK_INTEQ(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Open PATH: expect CODE and the path and WHAT in the message. */
static void expect_fail(const char *path, int code, const char *what)
{
    sc_pack *p = (sc_pack *)1;
    CHECK_INTEQ(sc_pack_open(path, &p), code);
    CHECK(p == NULL);
    if (!strstr(sc_errmsg(), path) || !strstr(sc_errmsg(), what))
        printf("#   message: %s\n", sc_errmsg());
    CHECK(strstr(sc_errmsg(), path) != NULL);
    CHECK(strstr(sc_errmsg(), what) != NULL);
}

static void test_damaged(void)
{
    char path[128];

    path_in(path, sizeof path, "bad.scpack");
    /* cut short, and grown */
    CHECK_INTEQ(write_pack(path), 0);
    uint64_t size = word(path, 12);
    CHECK_INTEQ(truncate(path, (off_t)size - 100), 0);
    expect_fail(path, SC_ECORRUPT, "cut short");
    CHECK_INTEQ(truncate(path, (off_t)size + 4096), 0);
    expect_fail(path, SC_ECORRUPT, "its header says");
    /* a flipped byte in the fixed header: its checksum */
    CHECK_INTEQ(write_pack(path), 0);
    unsigned char x = 0x40;
    poke(path, 17, &x, 1);
    expect_fail(path, SC_ECORRUPT, "checksum");
    /* a byte of the checksum itself */
    CHECK_INTEQ(write_pack(path), 0);
    poke(path, 125, &x, 1);
    expect_fail(path, SC_ECORRUPT, "checksum");
    /* indptr going backwards (the header's checksum still right) */
    CHECK_INTEQ(write_pack(path), 0);
    int64_t back = 1;
    poke(path, word(path, 6) + 8 * 3, &back, 8);
    expect_fail(path, SC_ECORRUPT, "cell offsets");
    /* indptr not ending at nnz */
    CHECK_INTEQ(write_pack(path), 0);
    int64_t big = 1000;
    poke(path, word(path, 6) + 8 * 2 * N_BATCHES, &big, 8);
    expect_fail(path, SC_ECORRUPT, "cell offsets");
    /* a dataset index out of range, and negative */
    CHECK_INTEQ(write_pack(path), 0);
    int32_t ds = 2;
    poke(path, word(path, 10) + 4 * 4, &ds, 4);
    expect_fail(path, SC_ECORRUPT, "dataset");
    ds = -1;
    poke(path, word(path, 10), &ds, 4);
    expect_fail(path, SC_ECORRUPT, "dataset");
    /* a label code past its vocabulary (assay has one term) */
    CHECK_INTEQ(write_pack(path), 0);
    int32_t code = 1;
    poke(path, word(path, 9) + 4 * (2 * N_BATCHES + 1), &code, 4);
    expect_fail(path, SC_ECORRUPT, "label code");
    /* a file that only starts like a pack */
    FILE *f = fopen(path, "wb");
    fwrite("SCPACK\0\0garbage", 1, 15, f);
    fclose(f);
    expect_fail(path, SC_ECORRUPT, "header");
    /* not a pack at all */
    f = fopen(path, "wb");
    fputs("path\tid\nx.h5ad\tx\n", f);
    fclose(f);
    expect_fail(path, SC_EFORMAT, "not an sc-stream pack");
    f = fopen(path, "wb");
    fclose(f);
    expect_fail(path, SC_EFORMAT, "not an sc-stream pack");
    unlink(path);
    /* missing */
    expect_fail(path, SC_EIO, "No such file");
}

static void test_newer_version(void)
{
    char path[128];

    path_in(path, sizeof path, "v2.scpack");
    CHECK_INTEQ(write_pack(path), 0);
    /* version 2 with a right checksum: a format error, not damage */
    unsigned char fx[128];
    FILE *f = fopen(path, "r+b");
    CHECK_INTEQ(fread(fx, 1, 128, f), 128);
    uint32_t v = 3, crc;
    memcpy(fx + 8, &v, 4);
    crc = (uint32_t)crc32(0L, fx, 124);
    memcpy(fx + 124, &crc, 4);
    fseek(f, 0, SEEK_SET);
    CHECK_INTEQ(fwrite(fx, 1, 128, f), 128);
    fclose(f);
    expect_fail(path, SC_EFORMAT, "version 3");
    unlink(path);
}

static void test_abandoned_writer(void)
{
    char path[128];
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_pack_writer *w = NULL;

    path_in(path, sizeof path, "gone.scpack");
    make_header(&h);
    CHECK_INTEQ(sc_pack_writer_open(path, &h, SC_PACK_RAW, &w), 0);
    make_batch(&b, 0);
    CHECK_INTEQ(sc_pack_writer_add(w, &b), 0);
    CHECK_INTEQ(access(path, F_OK), -1); /* nothing under the name yet */
    sc_pack_writer_free(w);
    CHECK_INTEQ(access(path, F_OK), -1);
    CHECK_INTEQ(n_entries(), 0);
    /* over an existing file: it stays as it was */
    FILE *f = fopen(path, "wb");
    fputs("old\n", f);
    fclose(f);
    w = NULL;
    CHECK_INTEQ(sc_pack_writer_open(path, &h, SC_PACK_RAW, &w), 0);
    CHECK_INTEQ(sc_pack_writer_add(w, &b), 0);
    sc_pack_writer_free(w);
    struct stat st;
    CHECK_INTEQ(stat(path, &st), 0);
    CHECK_INTEQ(st.st_size, 4);
    CHECK_INTEQ(n_entries(), 1);
    unlink(path);
    /* to standard output: refused */
    w = (sc_pack_writer *)1;
    CHECK_INTEQ(sc_pack_writer_open("-", &h, SC_PACK_RAW, &w), SC_EINVAL);
    CHECK(w == NULL);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
}

static void test_add_rejects(void)
{
    char path[128];
    sc_batch_header h;
    sc_batch b = SC_BATCH_INIT;
    sc_pack_writer *w = NULL;

    path_in(path, sizeof path, "rej.scpack");
    make_header(&h);
    CHECK_INTEQ(sc_pack_writer_open(path, &h, SC_PACK_RAW, &w), 0);
    make_batch(&b, 1);
    b.indices[1] = N_GENES; /* one past the last gene */
    CHECK_INTEQ(sc_pack_writer_add(w, &b), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "gene index") != NULL);
    make_batch(&b, 1);
    b.indices[0] = -1;
    CHECK_INTEQ(sc_pack_writer_add(w, &b), SC_EINVAL);
    make_batch(&b, 1);
    b.dataset[1] = 2;
    CHECK_INTEQ(sc_pack_writer_add(w, &b), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "dataset index") != NULL);
    /* a padding cell is not looked at */
    make_batch(&b, 1);
    b.dataset[2] = 99;
    CHECK_INTEQ(sc_pack_writer_add(w, &b), 0);
    /* another number of label columns, another layout */
    make_batch(&b, 1);
    b.n_labels = 1;
    CHECK_INTEQ(sc_pack_writer_add(w, &b), SC_EINVAL);
    make_batch(&b, 1);
    b.layout = SC_BATCH_DENSE;
    CHECK_INTEQ(sc_pack_writer_add(w, &b), SC_EINVAL);
    sc_pack_writer_free(w);
    CHECK_INTEQ(n_entries(), 0);
    sc_batch_release(&b);
    sc_batch_header_release(&h);
}

/* ---- version 2: the record codec and compressed packs ---- */

/* Encode M entries, check the size against the bound, decode with
 * N_GENES and compare bit for bit; returns the record's size. */
static size_t round_trip(const int32_t *idx, const float *val, uint64_t m,
                         uint64_t n_genes)
{
    size_t bound = sc_pack_record_bound(m);
    unsigned char *rec = malloc(bound);
    int32_t *i2 = malloc(m * 4 + 4);
    float *v2 = malloc(m * 4 + 4);
    size_t n = sc_pack_record_encode(idx, val, m, rec);
    CHECK(n >= 1 && n <= bound);
    const char *why = sc_pack_record_decode(rec, n, m, n_genes, i2, v2);
    if (why)
        printf("#   decode: %s\n", why);
    CHECK(why == NULL);
    CHECK(!memcmp(i2, idx, m * 4));
    CHECK(!memcmp(v2, val, m * 4));
    free(rec);
    free(i2);
    free(v2);
    return n;
}

static void test_codec_cases(void)
{
    int32_t asc[] = {0, 1, 2, 130, 20000, 2147483646};
    float counts[] = {1, 2, 1, 127, 128, 16777216};
    /* ascending indices and counts: one byte each for the small ones */
    CHECK_INTEQ(round_trip(asc, counts, 3, INT32_MAX), 1 + 3 + 3);
    CHECK(round_trip(asc, counts, 6, INT32_MAX) > 1 + 6 + 6);
    /* no entries */
    CHECK_INTEQ(round_trip(asc, counts, 0, 1), 1);
    /* values that are not small integers: raw, exactly */
    float odd[] = {0.5f, -1.0f, -0.0f, 1e-30f, 3.4e38f, 4294967296.0f};
    for (int k = 0; k < 6; k++) {
        float v[3] = {1, 2, odd[k]};
        CHECK_INTEQ(round_trip(asc, v, 3, 10), 1 + 3 + 12);
    }
    float nan = 0.0f / 0.0f, inf = 1.0f / 0.0f;
    float special[] = {nan, inf, -inf};
    round_trip(asc, special, 3, 3);
    /* large exact integers: varints of 5 bytes are more than raw */
    float big[] = {4294967040.0f, 4294967040.0f};
    CHECK_INTEQ(round_trip(asc, big, 2, 2), 1 + 2 + 8);
    /* indices not ascending: zigzag deltas, still exact */
    int32_t down[] = {2147483646, 0, 5, 5, 3, 0};
    round_trip(down, counts, 6, INT32_MAX);
    int32_t dup[] = {7, 7};
    round_trip(dup, counts, 2, 8);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_codec_random(void)
{
    enum { M = 400 };
    int32_t idx[M];
    float val[M];
    for (int t = 0; t < 2000; t++) {
        uint64_t m = rnd() % M, n_genes = 1 + rnd() % 100000;
        int sorted = t % 3 != 0;
        int64_t g = -1;
        for (uint64_t k = 0; k < m; k++) {
            if (sorted && g + 1 < (int64_t)n_genes)
                g += 1 + (int64_t)(rnd() % (1 + 2 * n_genes / (m + 1)));
            if (!sorted || g >= (int64_t)n_genes)
                g = (int64_t)(rnd() % n_genes);
            idx[k] = (int32_t)g;
            uint64_t r = rnd();
            switch (t % 4) {
            case 0: val[k] = (float)(r % 8); break;            /* counts */
            case 1: val[k] = (float)(r % 100000); break;       /* large */
            case 2: memcpy(&val[k], &r, 4); break;             /* any bits */
            default: val[k] = (float)(r % 1000) / 7.0f; break; /* normalized */
            }
        }
        round_trip(idx, val, m, n_genes);
    }
}

/* Damaged records: errors, never a crash (ASan checks the reads). */
static void test_codec_adversarial(void)
{
    int32_t idx[] = {3, 9, 200, 4000};
    float val[] = {1, 5, 300, 2};
    unsigned char rec[64];
    int32_t i2[8];
    float v2[8];
    size_t n = sc_pack_record_encode(idx, val, 4, rec);
    CHECK(sc_pack_record_decode(rec, n, 4, 4001, i2, v2) == NULL);
    /* every cut is an error, a heap copy so that ASan sees a read past it */
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *c = malloc(cut ? cut : 1);
        memcpy(c, rec, cut);
        CHECK(sc_pack_record_decode(c, cut, 4, 4001, i2, v2) != NULL);
        free(c);
    }
    /* a trailing byte, fewer or more entries than the record holds */
    CHECK(sc_pack_record_decode(rec, n + 1, 4, 4001, i2, v2) != NULL);
    CHECK(sc_pack_record_decode(rec, n, 3, 4001, i2, v2) != NULL);
    CHECK(sc_pack_record_decode(rec, n, 5, 4001, i2, v2) != NULL);
    /* a gene past the genes */
    const char *why = sc_pack_record_decode(rec, n, 4, 4000, i2, v2);
    CHECK(why && strstr(why, "gene index"));
    /* unknown mode bits */
    rec[0] |= 4;
    CHECK(sc_pack_record_decode(rec, n, 4, 4001, i2, v2) != NULL);
    /* a varint of 6 bytes; a zigzag delta below gene 0 */
    unsigned char longv[] = {0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1};
    CHECK(sc_pack_record_decode(longv, sizeof longv, 1, 10, i2, v2) != NULL);
    unsigned char neg[] = {1, 0x03, 1}; /* zigzag 3: -2, from -1: gene -2 */
    CHECK(sc_pack_record_decode(neg, sizeof neg, 1, 10, i2, v2) != NULL);
    /* a value varint past 32 bits */
    unsigned char bigv[] = {0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CHECK(sc_pack_record_decode(bigv, sizeof bigv, 1, 10, i2, v2) != NULL);
    /* a long record (the 8-byte paths): every cut refused, a gene past
     * the genes anywhere refused */
    enum { L = 100 };
    int32_t li[L], lo[L];
    float lv[L], lw[L];
    for (int k = 0; k < L; k++) {
        li[k] = k * (k % 9 == 0 ? 300 : 20);
        lv[k] = (float)(k % 5);
    }
    for (int k = 1; k < L; k++)
        li[k] += li[k - 1];
    unsigned char *big = malloc(sc_pack_record_bound(L));
    size_t bn = sc_pack_record_encode(li, lv, L, big);
    CHECK(sc_pack_record_decode(big, bn, L, (uint64_t)li[L - 1] + 1, lo, lw) ==
          NULL);
    CHECK(!memcmp(lo, li, sizeof li) && !memcmp(lw, lv, sizeof lv));
    why = sc_pack_record_decode(big, bn, L, (uint64_t)li[L - 1], lo, lw);
    CHECK(why && strstr(why, "gene index"));
    for (size_t cut = 0; cut < bn; cut++) {
        unsigned char *c = malloc(cut ? cut : 1);
        memcpy(c, big, cut);
        CHECK(sc_pack_record_decode(c, cut, L, 1u << 30, lo, lw) != NULL);
        free(c);
    }
    for (size_t at = 1; at < bn; at++) { /* one byte raised to 0x7f */
        unsigned char keep = big[at];
        big[at] = 0x7f;
        if (!sc_pack_record_decode(big, bn, L, (uint64_t)li[L - 1] + 1, lo, lw))
            for (int k = 0; k < L; k++)
                CHECK(lo[k] >= 0 && lo[k] <= li[L - 1]);
        big[at] = keep;
    }
    free(big);
    /* random bytes: decoded or refused, indices always in range */
    for (int t = 0; t < 20000; t++) {
        unsigned char r[16];
        size_t len = rnd() % sizeof r;
        for (size_t k = 0; k < len; k++)
            r[k] = (unsigned char)(t % 2 ? rnd() % 4 : rnd());
        uint64_t m = rnd() % 8;
        unsigned char *c = malloc(len ? len : 1);
        memcpy(c, r, len);
        if (!sc_pack_record_decode(c, len, m, 50, i2, v2))
            for (uint64_t k = 0; k < m; k++)
                CHECK(i2[k] >= 0 && i2[k] < 50);
        free(c);
    }
}

/* A compressed pack holds the cells a raw one does, mapped and by pread. */
static void test_varint_pack(void)
{
    char p1[128], p2[128];
    sc_pack *a = NULL, *b = NULL;

    path_in(p1, sizeof p1, "raw.scpack");
    path_in(p2, sizeof p2, "varint.scpack");
    CHECK_INTEQ(write_pack_codec(p1, SC_PACK_RAW), 0);
    CHECK_INTEQ(write_pack_codec(p2, SC_PACK_VARINT), 0);
    CHECK_INTEQ(n_entries(), 2); /* no scratch file left */
    CHECK_INTEQ(sc_pack_open(p1, &a), 0);
    CHECK_INTEQ(sc_pack_open(p2, &b), 0);
    if (!a || !b) {
        sc_pack_close(a);
        sc_pack_close(b);
        return;
    }
    CHECK_INTEQ(sc_pack_version(b), 2);
    const sc_pack_arrays *x = sc_pack_data(a), *y = sc_pack_data(b);
    CHECK(y->indices == NULL && y->values == NULL);
    CHECK_INTEQ(y->n_cells, x->n_cells);
    CHECK_INTEQ(y->nnz, x->nnz);
    CHECK(!memcmp(y->indptr, x->indptr, (x->n_cells + 1) * 8));
    CHECK(!memcmp(y->row, x->row, x->n_cells * 8));
    CHECK(!memcmp(y->dataset, x->dataset, x->n_cells * 4));
    CHECK(!memcmp(y->labels, x->labels, x->n_cells * 2 * 4));
    /* values with .5: raw values, so more than 4 bytes an entry */
    CHECK(sc_pack_entry_bytes(b) > 4 * y->nnz);
    CHECK(sc_pack_entry_bytes(b) < 8 * y->nnz + 8 * (y->n_cells + 1));
    int32_t i1[64], i2[64];
    float v1[64], v2[64];
    sc_pack_buf pb = {0};
    for (uint64_t r0 = 0; r0 <= x->n_cells; r0++)
        for (uint64_t r1 = r0; r1 <= x->n_cells; r1++)
            for (int pr = 0; pr < 2; pr++) {
                uint64_t n = (uint64_t)(x->indptr[r1] - x->indptr[r0]);
                CHECK_INTEQ(sc_pack_cells(a, r0, r1, pr, &pb, i1, v1), 0);
                CHECK_INTEQ(sc_pack_cells(b, r0, r1, pr, &pb, i2, v2), 0);
                CHECK(!memcmp(i1, i2, n * 4) && !memcmp(v1, v2, n * 4));
            }
    sc_pack_buf_release(&pb);
    sc_pack_close(a);
    sc_pack_close(b);
    unlink(p1);
    unlink(p2);
}

/* Damaged compressed packs: refused at open (offsets) or when the cell is
 * read (its record), with the pack and the cell named. */
static void test_varint_damaged(void)
{
    char path[128];
    sc_pack *p = NULL;
    int32_t idx[64];
    float val[64];
    sc_pack_buf pb = {0};

    path_in(path, sizeof path, "bad2.scpack");
    /* record offsets not ascending, not ending at the records' end */
    CHECK_INTEQ(write_pack_codec(path, SC_PACK_VARINT), 0);
    uint64_t off = 3;
    poke(path, word(path, 8) + 8 * 2, &off, 8);
    expect_fail(path, SC_ECORRUPT, "cell records");
    CHECK_INTEQ(write_pack_codec(path, SC_PACK_VARINT), 0);
    off = word(path, 13) + 1;
    poke(path, word(path, 8) + 8 * 2 * N_BATCHES, &off, 8);
    expect_fail(path, SC_ECORRUPT, "cell records");
    /* cut short */
    CHECK_INTEQ(write_pack_codec(path, SC_PACK_VARINT), 0);
    CHECK_INTEQ(truncate(path, (off_t)word(path, 12) - 1), 0);
    expect_fail(path, SC_ECORRUPT, "cut short");
    /* cell 1's first gene (its first varint) past the genes: the pack
     * opens, reading that cell fails, other cells read */
    for (int pr = 0; pr < 2; pr++) {
        CHECK_INTEQ(write_pack_codec(path, SC_PACK_VARINT), 0);
        uint64_t r1 = 0;
        FILE *f = fopen(path, "rb");
        fseek(f, (long)(word(path, 8) + 8), SEEK_SET);
        CHECK_INTEQ(fread(&r1, 8, 1, f), 1);
        fclose(f);
        unsigned char g = 0x7f; /* gene 127 of 5 */
        poke(path, word(path, 7) + r1 + 1, &g, 1);
        CHECK_INTEQ(sc_pack_open(path, &p), 0);
        if (!p)
            continue;
        CHECK_INTEQ(sc_pack_cells(p, 0, 1, pr, &pb, idx, val), 0);
        CHECK_INTEQ(sc_pack_cells(p, 0, 2, pr, &pb, idx, val), SC_ECORRUPT);
        CHECK(strstr(sc_errmsg(), path) && strstr(sc_errmsg(), "cell 1") &&
              strstr(sc_errmsg(), "gene index"));
        CHECK_INTEQ(sc_pack_cells(p, 2, 2 * N_BATCHES, pr, &pb, idx, val), 0);
        sc_pack_close(p);
        p = NULL;
    }
    sc_pack_buf_release(&pb);
    unlink(path);
}

int main(void)
{
    if (unit_mkdtemp(dir, sizeof dir, "pack") < 0)
        return 1;
    RUN(test_round_trip);
    RUN(test_empty);
    RUN(test_probe);
    RUN(test_damaged);
    RUN(test_newer_version);
    RUN(test_abandoned_writer);
    RUN(test_add_rejects);
    RUN(test_codec_cases);
    RUN(test_codec_random);
    RUN(test_codec_adversarial);
    RUN(test_varint_pack);
    RUN(test_varint_damaged);
    rmdir(dir);
    return UNIT_DONE();
}
