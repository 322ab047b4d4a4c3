/* The pure parts of the sc_stream engine: filters, the gene space, the
 * sampling plan, rows into a buffer and cells into a batch. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_stream_int.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Filters                                                                  */

static void test_filter_parse(void)
{
    ss_filter f;
    CHECK_INTEQ(ss_filter_parse(" tissue  in lung, liver ,brain", &f), 0);
    CHECK_STREQ(f.col, "tissue");
    CHECK_INTEQ(f.n_vals, 3);
    CHECK_STREQ(f.vals[0], "lung");
    CHECK_STREQ(f.vals[1], "liver");
    CHECK_STREQ(f.vals[2], "brain");
    CHECK(ss_filter_pass(&f, "liver"));
    CHECK(!ss_filter_pass(&f, "LIVER")); /* strings are case-sensitive */
    CHECK(!ss_filter_pass(&f, "heart"));
    ss_filter_release(&f);

    /* "not in" is found before "in" */
    CHECK_INTEQ(ss_filter_parse("tissue not in lung", &f), 0);
    CHECK_STREQ(f.col, "tissue");
    CHECK(!ss_filter_pass(&f, "lung"));
    CHECK(ss_filter_pass(&f, "heart"));
    ss_filter_release(&f);

    /* numbers compare as numbers, booleans without case */
    CHECK_INTEQ(ss_filter_parse("n != 3", &f), 0);
    CHECK(!ss_filter_pass(&f, "3.0"));
    CHECK(ss_filter_pass(&f, "4"));
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse("is_primary == true", &f), 0);
    CHECK(ss_filter_pass(&f, "True"));
    CHECK(!ss_filter_pass(&f, "False"));
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse("x = a", &f), 0); /* = is == */
    CHECK(ss_filter_pass(&f, "a"));
    ss_filter_release(&f);

    CHECK_INTEQ(ss_filter_parse("n_genes >= 200", &f), 0);
    CHECK_STREQ(f.col, "n_genes");
    CHECK(f.num == 200);
    CHECK(ss_filter_pass(&f, "200"));
    CHECK(ss_filter_pass(&f, "1e3"));
    CHECK(!ss_filter_pass(&f, "199.5"));
    CHECK(!ss_filter_pass(&f, "nan"));
    CHECK(!ss_filter_pass(&f, "many"));
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse("n < 2", &f), 0);
    CHECK(ss_filter_pass(&f, "1.5"));
    CHECK(!ss_filter_pass(&f, "2"));
    ss_filter_release(&f);

    CHECK_INTEQ(ss_filter_parse("no operator", &f), SC_EINVAL);
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse("n >= many", &f), SC_EINVAL);
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse(" == 3", &f), SC_EINVAL);
    ss_filter_release(&f);
    CHECK_INTEQ(ss_filter_parse("a == ", &f), SC_EINVAL);
    ss_filter_release(&f);
}

static void test_trim(void)
{
    char s[] = " \t a b \n";
    CHECK_STREQ(ss_trim(s), "a b");
    char e[] = "   ";
    CHECK_STREQ(ss_trim(e), "");
}

/* ------------------------------------------------------------------------ */
/* Gene space                                                               */

static void test_gene_find(void)
{
    sc_strmap m = {0};
    CHECK_INTEQ(sc_strmap_put(&m, "ENSG1", 0), 0);
    CHECK_INTEQ(sc_strmap_put(&m, "TP53", 1), 0);
    CHECK_INTEQ(ss_gene_find(&m, "ENSG1"), 0);
    CHECK_INTEQ(ss_gene_find(&m, "ENSG1.12"), 0); /* a version */
    CHECK_INTEQ(ss_gene_find(&m, "ENSG1.x"), -1); /* not a version */
    CHECK_INTEQ(ss_gene_find(&m, "ENSG1."), -1);
    CHECK_INTEQ(ss_gene_find(&m, "TP53"), 1);
    CHECK_INTEQ(ss_gene_find(&m, "ENSG2.1"), -1);
    sc_strmap_release(&m);
}

/* Datasets' gene sequences (union numbers) into output ranks. */
static void test_join_order(void)
{
    uint32_t rank[8];
    /* A = a b c, B = a x c: x between its neighbours, after b (a tie of
     * positions is broken by union number) */
    {
        const uint32_t seq[] = {0, 1, 2, 0, 3, 2};
        const size_t off[] = {0, 3, 6};
        CHECK_INTEQ(ss_join_order(seq, off, 2, 4, rank), 0);
        CHECK_INTEQ(rank[0], 0);
        CHECK_INTEQ(rank[1], 1);
        CHECK_INTEQ(rank[3], 2);
        CHECK_INTEQ(rank[2], 3);
    }
    /* A = b c, B = a b c d: new genes at both ends */
    {
        const uint32_t seq[] = {0, 1, 2, 0, 1, 3};
        const size_t off[] = {0, 2, 6};
        CHECK_INTEQ(ss_join_order(seq, off, 2, 4, rank), 0);
        CHECK_INTEQ(rank[2], 0); /* a */
        CHECK_INTEQ(rank[0], 1); /* b */
        CHECK_INTEQ(rank[1], 2); /* c */
        CHECK_INTEQ(rank[3], 3); /* d */
    }
    /* disagreeing datasets: the first order stays */
    {
        const uint32_t seq[] = {0, 1, 1, 0};
        const size_t off[] = {0, 2, 4};
        CHECK_INTEQ(ss_join_order(seq, off, 2, 2, rank), 0);
        CHECK_INTEQ(rank[0], 0);
        CHECK_INTEQ(rank[1], 1);
    }
    /* nothing */
    {
        const size_t off[] = {0, 0};
        CHECK_INTEQ(ss_join_order(NULL, off, 1, 0, rank), 0);
    }
}

/* A stream of N datasets with the given var lists, for the gene space. */
static sc_stream *gene_stream(size_t n, char **var[], const int64_t *n_vars,
                              int join)
{
    sc_stream *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->o.join = join;
    s->n_ds = n;
    s->ds = calloc(n, sizeof *s->ds);
    for (size_t i = 0; i < n; i++) {
        s->ds[i].meta = calloc(1, sizeof *s->ds[i].meta);
        s->ds[i].meta->var = var[i];
        s->ds[i].meta->n_vars = n_vars[i];
        s->ds[i].path = "test";
    }
    return s;
}

static void gene_stream_free(sc_stream *s)
{
    for (size_t i = 0; i < s->n_ds; i++) {
        if (!s->ds[i].gmap_shared)
            free(s->ds[i].gmap);
        free(s->ds[i].meta);
    }
    free(s->ds);
    sc_batch_header_release(&s->h);
    free(s);
}

static void check_gmap(const ss_ds *d, const int32_t *want, size_t n)
{
    for (size_t k = 0; k < n; k++)
        CHECK_INTEQ(d->gmap[k], want[k]);
}

static void test_genes_join(void)
{
    char *v1[] = {"g1", "g2", "g3"}, *v2[] = {"g2", "g4", "g3", "g2"};
    char **var[] = {v1, v2, v1};
    const int64_t nv[] = {3, 4, 3};
    sc_stream *s;

    /* outer: the union, g4 between g2 and g3 as in the second dataset; a
     * gene twice in one dataset keeps its first column */
    s = gene_stream(2, var, nv, SC_STREAM_JOIN_OUTER);
    CHECK_INTEQ(ss_genes_join(s), 0);
    CHECK_INTEQ(s->n_out_genes, 4);
    CHECK_INTEQ(s->h.n_genes, 4);
    CHECK_STREQ(s->h.genes[0], "g1");
    CHECK_STREQ(s->h.genes[1], "g2");
    CHECK_STREQ(s->h.genes[2], "g4");
    CHECK_STREQ(s->h.genes[3], "g3");
    check_gmap(&s->ds[0], (const int32_t[]){0, 1, 3}, 3);
    check_gmap(&s->ds[1], (const int32_t[]){1, 2, 3, -1}, 4);
    gene_stream_free(s);

    /* inner: the genes both have */
    s = gene_stream(2, var, nv, SC_STREAM_JOIN_INNER);
    CHECK_INTEQ(ss_genes_join(s), 0);
    CHECK_INTEQ(s->n_out_genes, 2);
    CHECK_STREQ(s->h.genes[0], "g2");
    CHECK_STREQ(s->h.genes[1], "g3");
    check_gmap(&s->ds[0], (const int32_t[]){-1, 0, 1}, 3);
    check_gmap(&s->ds[1], (const int32_t[]){0, -1, 1, -1}, 4);
    gene_stream_free(s);

    /* the same var list again: its map is shared */
    char **var3[] = {v1, v2, v1};
    s = gene_stream(3, var3, nv, SC_STREAM_JOIN_OUTER);
    CHECK_INTEQ(ss_genes_join(s), 0);
    CHECK(s->ds[2].gmap_shared);
    CHECK(s->ds[2].gmap == s->ds[0].gmap);
    gene_stream_free(s);

    /* different genes and no join chosen */
    s = gene_stream(2, var, nv, SC_STREAM_JOIN_NONE);
    CHECK_INTEQ(ss_genes_join(s), SC_EINVAL);
    gene_stream_free(s);

    /* no gene in common */
    char *w1[] = {"a"}, *w2[] = {"b"};
    char **var2[] = {w1, w2};
    const int64_t nv2[] = {1, 1};
    s = gene_stream(2, var2, nv2, SC_STREAM_JOIN_INNER);
    CHECK_INTEQ(ss_genes_join(s), SC_EINVAL);
    gene_stream_free(s);
}

/* Genes out of the longest run that ascends in output order are late. */
static void test_mark_late(void)
{
    ss_meta m = {0};
    ss_ds d = {0};
    m.n_vars = 5;
    d.meta = &m;
    d.gmap = malloc(5 * sizeof *d.gmap);
    const int32_t in[] = {2, 0, -1, 1, 3};
    memcpy(d.gmap, in, sizeof in);
    CHECK_INTEQ(ss_mark_late(&d), 0);
    /* run: 0 1 3; 2 is late, the dropped gene stays -1 */
    CHECK_INTEQ(d.gmap[0], 2 | GM_LATE);
    CHECK_INTEQ(d.gmap[1], 0);
    CHECK_INTEQ(d.gmap[2], -1);
    CHECK_INTEQ(d.gmap[3], 1);
    CHECK_INTEQ(d.gmap[4], 3);
    free(d.gmap);
}

/* ------------------------------------------------------------------------ */
/* Sampling plan                                                            */

static void test_last_at_most(void)
{
    const uint64_t prefix[] = {0, 3, 5, 5, 9};
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 0), 0);
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 2), 0);
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 3), 1);
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 4), 1);
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 5), 3); /* past the empty run */
    CHECK_INTEQ(ss_last_at_most(prefix, 4, 8), 3);
}

/* Blocks end at chunk ends when the values are chunked. */
static void test_plan_blocks(void)
{
    uint32_t nnz[8] = {2, 2, 2, 2, 2, 2, 2, 2}, sel[8];
    ss_meta m = {0};
    ss_ds d = {0};
    sc_stream s = {0};
    uint64_t k0, k1;

    for (uint32_t r = 0; r < 8; r++)
        sel[r] = r;
    m.n_obs = 8;
    m.nnz = nnz;
    d.meta = &m;
    d.sel = sel;
    d.n_sel = 8;
    s.o.block = 3;
    /* no chunks: blocks of 3, the last one short */
    CHECK_INTEQ(ss_plan_blocks(&d, 3), 0);
    CHECK_INTEQ(d.n_blk, 3);
    CHECK(d.bstart == NULL);
    ss_block_cells(&s, &d, 2, &k0, &k1);
    CHECK_INTEQ(k0, 6);
    CHECK_INTEQ(k1, 8);
    /* chunks of 4 entries: rows 2k and 2k + 1 start in chunk k; a block
     * of at least 3 cells ends where a chunk does */
    m.chunk = 4;
    CHECK_INTEQ(ss_plan_blocks(&d, 3), 0);
    CHECK_INTEQ(d.n_blk, 2);
    CHECK(d.bstart != NULL);
    CHECK_INTEQ(d.bstart[0], 0);
    CHECK_INTEQ(d.bstart[1], 4);
    CHECK_INTEQ(d.bstart[2], 8);
    ss_block_cells(&s, &d, 1, &k0, &k1);
    CHECK_INTEQ(k0, 4);
    CHECK_INTEQ(k1, 8);
    free(d.bstart);
    d.bstart = NULL;
    /* rows 1, 2 and 6 selected: the entries of the rows between count */
    sel[0] = 1, sel[1] = 2, sel[2] = 6;
    d.n_sel = 3;
    CHECK_INTEQ(ss_plan_blocks(&d, 1), 0);
    CHECK_INTEQ(d.n_blk, 3); /* chunks 0, 1, 3 */
    CHECK_INTEQ(d.bstart[1], 1);
    CHECK_INTEQ(d.bstart[2], 2);
    free(d.bstart);
}

/* A stream over datasets with N_SEL[i] selected cells each (rows 0..),
 * unchunked, for the plan. */
static sc_stream *plan_stream(size_t n, const int64_t *n_sel, int64_t block,
                              int64_t buffer)
{
    sc_stream *s = calloc(1, sizeof *s);
    sc_stream_opts_init(&s->o);
    s->o.block = block;
    s->o.buffer = buffer;
    s->o.seed = 7;
    s->n_ds = n;
    s->ds = calloc(n, sizeof *s->ds);
    for (size_t i = 0; i < n; i++) {
        ss_ds *d = &s->ds[i];
        d->meta = calloc(1, sizeof *d->meta);
        d->meta->n_obs = n_sel[i];
        d->meta->nnz = calloc((size_t)n_sel[i] + 1, sizeof *d->meta->nnz);
        d->sel = malloc(((size_t)n_sel[i] + 1) * sizeof *d->sel);
        for (int64_t r = 0; r < n_sel[i]; r++)
            d->sel[r] = (uint32_t)r;
        d->n_sel = n_sel[i];
        d->weight = 1;
        d->path = "test";
        s->N += (uint64_t)n_sel[i];
    }
    return s;
}

static void plan_stream_free(sc_stream *s)
{
    for (size_t i = 0; i < s->n_ds; i++) {
        ss_ds *d = &s->ds[i];
        free(d->meta->nnz);
        free(d->meta);
        free(d->sel);
        free(d->bstart);
        free(d->cum);
    }
    free(s->ds);
    free(s->blk_prefix);
    free(s->perm);
    free(s->buf_start);
    sc_alias_free(s->top);
    sc_alias_free(s->loose);
    free(s->loose_blk);
    free(s);
}

static void test_plan_epoch(void)
{
    const int64_t n_sel[] = {5, 3};
    uint64_t k, k0, k1;
    sc_stream *s = plan_stream(2, n_sel, 2, 2);

    /* sequential: blocks [0,2) [2,4) [4,5) of the first, [0,2) [2,3) of
     * the second; buffers of two blocks */
    s->o.shuffle = 0;
    CHECK_INTEQ(ss_plan_epoch(s), 0);
    CHECK_INTEQ(s->n_blocks, 5);
    CHECK_INTEQ(s->blk_prefix[1], 3);
    CHECK_INTEQ(s->blk_prefix[2], 5);
    CHECK(s->perm == NULL);
    CHECK_INTEQ(s->n_buffers, 3);
    CHECK_INTEQ(s->buf_start[0], 0);
    CHECK_INTEQ(s->buf_start[1], 4);
    CHECK_INTEQ(s->buf_start[2], 7);
    CHECK_INTEQ(s->buf_start[3], 8);
    CHECK_INTEQ(ss_block_dataset(s, 2, &k), 0);
    CHECK_INTEQ(k, 2);
    CHECK_INTEQ(ss_block_dataset(s, 3, &k), 1);
    CHECK_INTEQ(k, 0);
    ss_block_cells(s, &s->ds[1], 1, &k0, &k1);
    CHECK_INTEQ(k0, 2);
    CHECK_INTEQ(k1, 3);
    plan_stream_free(s);

    /* shuffled: a permutation of the blocks, the same for the same seed
     * and epoch; the buffers still hold every cell once */
    uint64_t first[5];
    for (int rep = 0; rep < 2; rep++) {
        s = plan_stream(2, n_sel, 2, 2);
        CHECK_INTEQ(ss_plan_epoch(s), 0);
        CHECK(s->perm != NULL);
        int seen[5] = {0};
        for (int b = 0; b < 5; b++) {
            CHECK(s->perm[b] < 5);
            seen[s->perm[b] < 5 ? s->perm[b] : 0]++;
            if (rep == 0)
                first[b] = s->perm[b];
            else
                CHECK_INTEQ(s->perm[b], first[b]);
        }
        for (int b = 0; b < 5; b++)
            CHECK_INTEQ(seen[b], 1);
        CHECK_INTEQ(s->buf_start[s->n_buffers], 8);
        plan_stream_free(s);
    }
}

/* Weighted draws: a dataset of weight 0 is never drawn; all weights 0 or a
 * negative weight is an error. */
static void test_plan_weighted(void)
{
    const int64_t n_sel[] = {4, 2};
    sc_stream *s = plan_stream(2, n_sel, 2, 4);
    s->o.dataset_weights = 1;
    s->ds[0].weight = 0;
    s->ds[1].weight = 2.5;
    CHECK_INTEQ(ss_plan_weighted(s), 0);
    CHECK(s->ds[0].mass == 0);
    CHECK(s->ds[1].mass == 5);
    CHECK_INTEQ(s->group, 1); /* no chunked block */
    /* the running sums inside the blocks */
    CHECK(s->ds[1].cum[0] == 2.5 && s->ds[1].cum[1] == 5);
    uint64_t n_row[2] = {0, 0};
    for (uint64_t p = 0; p < 1000; p++) {
        uint64_t c = ss_weighted_cell(s, p);
        CHECK_INTEQ(c >> 32, 1);
        n_row[(uint32_t)c & 1]++;
    }
    /* two cells of equal weight: each about half of 1000 draws */
    CHECK(n_row[0] > 400 && n_row[1] > 400);
    plan_stream_free(s);

    /* dataset weights 1 and 3: about a quarter of the draws from the
     * first */
    s = plan_stream(2, n_sel, 2, 4);
    s->o.dataset_weights = 1;
    s->ds[1].weight = 6; /* 2 cells x 6 = 3 x (4 cells x 1) */
    CHECK_INTEQ(ss_plan_weighted(s), 0);
    CHECK(sc_alias_total(s->top) == 16);
    uint64_t n0 = 0;
    for (uint64_t p = 0; p < 4000; p++)
        n0 += ss_weighted_cell(s, p) >> 32 == 0;
    CHECK(n0 > 850 && n0 < 1150);
    plan_stream_free(s);

    s = plan_stream(2, n_sel, 2, 4);
    s->o.dataset_weights = 1;
    s->ds[0].weight = s->ds[1].weight = 0;
    CHECK_INTEQ(ss_plan_weighted(s), SC_EINVAL);
    plan_stream_free(s);

    s = plan_stream(2, n_sel, 2, 4);
    s->o.dataset_weights = 1;
    s->ds[1].weight = -1;
    CHECK_INTEQ(ss_plan_weighted(s), SC_EINVAL);
    plan_stream_free(s);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */

static void test_sort_pairs(void)
{
    enum { N = 300 };
    pair a[N], tmp[N];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        a[i].col = (int32_t)((x >> 33) % 70000); /* three radix digits */
        a[i].val = (float)i;
    }
    a[7].col = a[9].col; /* equal columns keep their order */
    ss_sort_pairs(a, tmp, N, 70000);
    for (int i = 1; i < N; i++) {
        CHECK(a[i - 1].col <= a[i].col);
        if (a[i - 1].col == a[i].col)
            CHECK(a[i - 1].val < a[i].val);
    }
    /* short: insertion sort */
    pair b[4] = {{5, 0}, {1, 1}, {3, 2}, {1, 3}};
    ss_sort_pairs(b, tmp, 4, 5);
    CHECK_INTEQ(b[0].col, 1);
    CHECK(b[0].val == 1 && b[1].val == 3);
    CHECK_INTEQ(b[2].col, 3);
    CHECK_INTEQ(b[3].col, 5);
}

/* A row into the output gene space: dropped genes go, late genes are
 * merged in, an unsorted row is sorted; depth counts every stored value. */
static void test_take_row(void)
{
    sc_stream s = {0};
    ss_meta m = {0};
    ss_ds d = {0};
    sbuf u = {0};
    int32_t gmap[4] = {0, -1, 3, 1 | GM_LATE};
    int64_t indptr[] = {0, 4, 6};
    int32_t idx[] = {0, 1, 2, 3, 2, 0};
    float val[] = {1, 2, 3, 4, 5, 6};
    ss_rows r = {0};
    const pair *p;

    s.n_out_genes = 4;
    m.n_vars = 4;
    d.meta = &m;
    d.gmap = gmap;
    d.path = "test";
    u.coff = calloc(4, sizeof *u.coff);
    u.clen = calloc(4, sizeof *u.clen);
    u.cdepth = calloc(4, sizeof *u.cdepth);
    r.n_rows = 2;
    r.n_cols = 4;
    r.indptr = indptr;
    r.indices = idx;
    r.vals = val;
    CHECK_INTEQ(ss_take_row(&s, &u, &d, &r, 0, 2), 0);
    CHECK_INTEQ(u.clen[2], 3);
    CHECK(u.cdepth[2] == 10);
    p = u.pool + u.coff[2];
    CHECK(p[0].col == 0 && p[0].val == 1);
    CHECK(p[1].col == 1 && p[1].val == 4);
    CHECK(p[2].col == 3 && p[2].val == 3);
    /* descending indices in the file */
    CHECK_INTEQ(ss_take_row(&s, &u, &d, &r, 1, 0), 0);
    CHECK_INTEQ(u.clen[0], 2);
    CHECK_INTEQ(u.coff[0], 3);
    p = u.pool + u.coff[0];
    CHECK(p[0].col == 0 && p[0].val == 6);
    CHECK(p[1].col == 3 && p[1].val == 5);
    /* dense: zeros are not entries */
    float dv[] = {0, 7, 0, 8};
    ss_rows dr = {0};
    dr.dense = 1;
    dr.n_rows = 1;
    dr.n_cols = 4;
    dr.vals = dv;
    CHECK_INTEQ(ss_take_row(&s, &u, &d, &dr, 0, 1), 0);
    CHECK_INTEQ(u.clen[1], 1);
    CHECK(u.cdepth[1] == 15);
    p = u.pool + u.coff[1];
    CHECK(p[0].col == 1 && p[0].val == 8);
    /* a column past the dataset's genes */
    idx[5] = 4;
    CHECK_INTEQ(ss_take_row(&s, &u, &d, &r, 1, 3), SC_EFORMAT);
    ss_sbuf_release(&u);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */

static void test_position(void)
{
    sc_stream s = {0};
    s.lo = 10;
    s.n_r = 3;
    s.N = 20;
    CHECK_INTEQ(ss_position(&s, 0), 10);
    CHECK_INTEQ(ss_position(&s, 2), 12);
    CHECK_INTEQ(ss_position(&s, 3), 10); /* padding: from the start */
    CHECK_INTEQ(ss_position(&s, 7), 11);
    s.n_r = 0; /* a rank without cells pads from the epoch's start */
    s.N = 5;
    CHECK_INTEQ(ss_position(&s, 7), 2);
}

static void test_emit_cell(void)
{
    sc_stream s = {0};
    sc_batch b = SC_BATCH_INIT;
    sc_stream_opts_init(&s.o);
    s.o.batch_size = 2;
    s.n_out_genes = 4;

    /* CSR, normalized to 10 then log1p */
    s.o.normalize = 10;
    s.o.log1p = 1;
    b.layout = SC_BATCH_CSR;
    CHECK_INTEQ(sc_batch_reserve(&b, 2, 8, 0), 0);
    b.indptr[0] = 0;
    pair t[3] = {{0, 1}, {2, 3}};
    CHECK_INTEQ(ss_emit_cell(&s, &b, 0, t, 2, 4, 0), 0);
    CHECK_INTEQ(b.nnz, 2);
    CHECK_INTEQ(b.indptr[1], 2);
    CHECK_INTEQ(b.indices[0], 0);
    CHECK_INTEQ(b.indices[1], 2);
    CHECK(fabsf(b.values[0] - (float)log1p(2.5)) < 1e-6f);
    CHECK(fabsf(b.values[1] - (float)log1p(7.5)) < 1e-6f);

    /* dense */
    s.o.normalize = 0;
    s.o.log1p = 0;
    b.layout = SC_BATCH_DENSE;
    b.nnz = 0;
    pair t2[2] = {{1, 5}, {3, 2}};
    CHECK_INTEQ(ss_emit_cell(&s, &b, 1, t2, 2, 7, 0), 0);
    CHECK_INTEQ(b.nnz, 8);
    CHECK(b.values[4] == 0 && b.values[5] == 5 && b.values[6] == 0 &&
          b.values[7] == 2);

    /* padded, the top 2 by value; a short cell padded with -1 */
    s.o.select = SC_STREAM_SEL_TOP;
    s.o.max_len = 2;
    b.layout = SC_BATCH_PADDED;
    pair t3[3] = {{0, 1}, {1, 5}, {2, 3}};
    CHECK_INTEQ(ss_emit_cell(&s, &b, 0, t3, 3, 9, 0), 0);
    CHECK_INTEQ(b.indices[0], 1);
    CHECK_INTEQ(b.indices[1], 2);
    CHECK(b.values[0] == 5 && b.values[1] == 3);
    pair t4[1] = {{3, 4}};
    CHECK_INTEQ(ss_emit_cell(&s, &b, 1, t4, 1, 4, 0), 0);
    CHECK_INTEQ(b.nnz, 4);
    CHECK_INTEQ(b.indices[2], 3);
    CHECK_INTEQ(b.indices[3], -1);
    CHECK(b.values[3] == 0);

    /* padded, random: 2 distinct genes of the cell's 3, the same for the
     * same position */
    s.o.select = SC_STREAM_SEL_RANDOM;
    pair t5[3] = {{0, 1}, {1, 5}, {2, 3}}, t6[3] = {{0, 1}, {1, 5}, {2, 3}};
    CHECK_INTEQ(ss_emit_cell(&s, &b, 0, t5, 3, 9, 42), 0);
    int32_t c0 = b.indices[0], c1 = b.indices[1];
    CHECK(c0 != c1 && c0 >= 0 && c0 < 3 && c1 >= 0 && c1 < 3);
    CHECK(b.values[0] == t5[0].val);
    CHECK_INTEQ(ss_emit_cell(&s, &b, 0, t6, 3, 9, 42), 0);
    CHECK_INTEQ(b.indices[0], c0);
    CHECK_INTEQ(b.indices[1], c1);
    sc_batch_release(&b);
}

int main(void)
{
    RUN(test_filter_parse);
    RUN(test_trim);
    RUN(test_gene_find);
    RUN(test_join_order);
    RUN(test_genes_join);
    RUN(test_mark_late);
    RUN(test_last_at_most);
    RUN(test_plan_blocks);
    RUN(test_plan_epoch);
    RUN(test_plan_weighted);
    RUN(test_sort_pairs);
    RUN(test_take_row);
    RUN(test_position);
    RUN(test_emit_cell);
    return UNIT_DONE();
}
