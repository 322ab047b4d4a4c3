/* sc_stream_int: declarations shared by the parts of the sc_stream module. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_STREAM_INT_H
#define SC_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "sc_adata.h"
#include "sc_err.h"
#include "sc_map.h"
#include "sc_pack.h"
#include "sc_pool.h"
#include "sc_sample.h"
#include "sc_split.h"
#include "sc_stream.h"

/* An obs column as categories (strings) and int32 codes, -1 missing.
 * Numbers and bools are turned into strings ("%.17g", "True"/"False"), so
 * filters, labels and weights treat every column alike. */
typedef struct ss_col {
    char *name;
    int64_t n_cats;
    char **cats;
    int32_t *codes; /* n_obs */
} ss_col;

/* What the index keeps of one dataset (sc_stream_index.c). */
typedef struct ss_meta {
    int64_t n_obs, n_vars;
    char **var; /* n_vars gene ids: an interned list, shared by the
                 * datasets with the same var (read only) */
    struct ss_vlist *vl;
    uint32_t *nnz;  /* stored entries per row */
    int64_t chunk;  /* entries per compressed chunk of the values, 0: none */
    char *organism; /* or NULL */
    size_t n_cols;
    ss_col *cols;
    /* the layout of the matrix's raw reader (ss_raw_skeleton), read at
     * index time or from the cache entry, until a stream takes it over
     * (ss_meta_take_skel); NULL */
    struct ss_raw *skel;
} ss_meta;

/* Skeletons (reader layouts) are kept while their tables hold less than
 * this, those the indexes hold included (past it, files are opened
 * through HDF5 again). */
#define SS_SKEL_BYTES ((size_t)256 << 20)

/* Load the index of PATH for matrix MATRIX with at least the columns COLS
 * (missing obs columns are fine: they are absent from the result), from
 * CACHE_DIR when a valid entry holds them all, else from the file (then
 * the entry is written, with the union of the columns). CACHE_DIR NULL: no
 * cache; "": the entry is PATH.scidx beside the dataset. *HIT tells whether the
 * cache answered. */
SC_MUST_CHECK int ss_meta_load(const char *path, const char *matrix,
                               const char *cache_dir, const char *const *cols,
                               size_t n_cols, ss_meta **out, int *hit);
void ss_meta_free(ss_meta *m);
/* Replace the var names M owns by the interned list equal to them (taken
 * over): lists equal name for name share one array (M->var, M->vl), and
 * lists that differ in a name or its place do not. 0 or SC_ENOMEM. */
SC_MUST_CHECK int ss_meta_intern(ss_meta *m);
/* Give M (without var, n_vars set) the list a cache entry stores as the
 * BLOB_N bytes BLOB with digest DIGEST, interned (sc_stream_vtab.c). 1
 * when done, 0 when the entry is not consistent, or an error. */
SC_MUST_CHECK int ss_var_attach(ss_meta *m, const char *digest,
                                const unsigned char *blob, size_t blob_n);
/* Let go of M's var: its hold on its interned list, or the names it owns
 * when it has none (M->vl NULL). */
void ss_var_release(ss_meta *m);
/* The SHA-256 (hex) of the list L as a cache entry stores it, "" when
 * unknown. */
const char *ss_vlist_digest(const struct ss_vlist *l);

/* A growable buffer a cache entry is written into (zeroed to start; free
 * P after). BAD is set, and later writes dropped, when out of memory. */
typedef struct ss_wbuf {
    unsigned char *p;
    size_t n, cap;
    int bad;
} ss_wbuf;
/* Append the N bytes SRC to B. */
void ss_wput(ss_wbuf *b, const void *src, size_t n);
/* Append V as 8 bytes in host order. */
void ss_wput_i64(ss_wbuf *b, int64_t v);
/* Append S (NULL: "") as its length in 4 bytes, then its bytes. */
void ss_wput_str(ss_wbuf *b, const char *s);
/* The names VAR as a cache entry stores them (per name ss_wput_str),
 * appended to B. */
void ss_var_put(ss_wbuf *b, char *const *var, int64_t n);

/* The N bytes P of a cache entry, read from OFF on. BAD is set when a read
 * would pass the end; every later read then fails. */
typedef struct ss_rbuf {
    const unsigned char *p;
    size_t n, off;
    int bad;
} ss_rbuf;
/* The next N bytes of B, or NULL (B turned bad). */
const void *ss_rget(ss_rbuf *b, size_t n);
/* The next 8 bytes as an int64_t, 0 when B is (turned) bad. */
int64_t ss_rget_i64(ss_rbuf *b);
/* The next string as ss_wput_str stored it (malloc'd, the caller's), or
 * NULL (B turned bad). */
char *ss_rget_str(ss_rbuf *b);

/* The index of a pack (sc_pack.h): its cells, genes and those of COLS
 * that are among its label columns. */
struct sc_pack;
SC_MUST_CHECK int ss_meta_from_pack(const struct sc_pack *p,
                                    const char *const *cols, size_t n_cols,
                                    ss_meta **out);
/* Bytes of the skeletons the indexes of the process hold (M->skel). */
size_t ss_meta_skel_bytes(void);
/* M's skeleton, taken over by the caller (NULL when it has none). */
struct ss_raw *ss_meta_take_skel(ss_meta *m);
/* The column NAME, or NULL. */
const ss_col *ss_meta_col(const ss_meta *m, const char *name);

/* An open matrix of a dataset for reading rows (an h5ad opened directly,
 * other formats through sc_adata_open). */
typedef struct ss_src ss_src;
SC_MUST_CHECK int ss_src_open(const char *path, const char *matrix,
                              ss_src **out);
sc_mat *ss_src_mat(ss_src *s);

/* Rows as the stream uses them: CSR (or dense row-major) with float32
 * values and int32 column indices; indptr relative to the first row. */
typedef struct ss_rows {
    int64_t n_rows, n_cols;
    int dense;
    int64_t *indptr;
    int32_t *indices;
    float *vals;
    size_t cap_rows, cap_idx, cap_vals;
} ss_rows;
SC_MUST_CHECK int ss_rows_reserve(ss_rows *b, int64_t n_rows, int64_t nnz);
void ss_rows_release(ss_rows *b);

/* A CSR h5ad matrix read with pread and libdeflate (sc_stream_raw.c):
 * opened on FILE (an hid_t) for the group GPATH, or SC_EUNSUP when its
 * layout, filters or types are not handled (then sc_mat reads it). One
 * thread at a time. */
typedef struct ss_raw ss_raw;
SC_MUST_CHECK int ss_raw_open(const char *path, int64_t file, const char *gpath,
                              int64_t n_rows, int64_t n_cols, ss_raw **out);
/* Rows [R0, R1) into B. */
SC_MUST_CHECK int ss_raw_read(ss_raw *r, int64_t r0, int64_t r1, ss_rows *b);
void ss_raw_close(ss_raw *r);
/* Whether R reads without calling HDF5 (every chunk located at open), so
 * that readers of one file can run on several threads at once. */
int ss_raw_threadsafe(const ss_raw *r);
/* Let R go of its HDF5 datasets when it is thread-safe, so that the file's
 * HDF5 handle can be closed and R reads through its fd alone; SC_EUNSUP
 * (R unchanged) when it still needs HDF5. */
int ss_raw_detach(ss_raw *r);
/* A second reader of the same file as the detached R, with its own fd,
 * chunk cache and inflater, made without HDF5. */
SC_MUST_CHECK int ss_raw_clone(const ss_raw *r, ss_raw **out);
/* The tables of the detached reader R (layout, indptr, chunk table)
 * without a file descriptor, or SC_EUNSUP: what ss_raw_reopen opens the
 * file again with, without HDF5. */
SC_MUST_CHECK int ss_raw_skeleton(const ss_raw *r, ss_raw **out);
/* The skeleton SKEL as bytes (malloc'd, *N of them) for a cache entry,
 * SC_EUNSUP when SKEL is not a skeleton. */
SC_MUST_CHECK int ss_raw_layout_save(const ss_raw *skel, unsigned char **out,
                                     size_t *n);
/* A skeleton of PATH from the N bytes P that ss_raw_layout_save made:
 * every field checked (tables inside the file's size, indptr ascending
 * within the data), SC_EFORMAT when one is not. It is trusted no more
 * than a file: ss_raw_reopen still checks the file's stamp. */
SC_MUST_CHECK int ss_raw_layout_load(const void *p, size_t n, const char *path,
                                     ss_raw **out);
/* Whether R's tables were read from the file ST (device, inode, size,
 * mtime) and are of a matrix of N_ROWS rows of NNZ[i] entries and N_COLS
 * columns. */
int ss_raw_fits(const ss_raw *r, const struct stat *st, int64_t n_rows,
                int64_t n_cols, const uint32_t *nnz);
/* Bytes the tables of R hold. */
size_t ss_raw_table_bytes(const ss_raw *r);
/* A reader of PATH on a new descriptor that uses the tables of the
 * skeleton SKEL (which must outlive it, and its clones); SC_EUNSUP when
 * the file is no longer the one SKEL was made from (device, inode, size,
 * mtime). Thread-safe: SKEL is only read. */
SC_MUST_CHECK int ss_raw_reopen(const ss_raw *skel, const char *path,
                                ss_raw **out);
/* Totals over the process: compressed bytes inflated, their inflated
 * size, the inflated bytes used, seconds spent inflating (all threads). */
void ss_raw_stats(uint64_t *in, uint64_t *out, uint64_t *used, double *secs);
/* The raw reader of S, or NULL. */
ss_raw *ss_src_raw(ss_src *s);
/* Reader W (0 <= W < SS_RAW_PARTS) of S, opened on first use, so that W
 * threads read one file at once; NULL when S has no raw reader. */
#define SS_RAW_PARTS 8
ss_raw *ss_src_raw_part(ss_src *s, int w);
void ss_src_close(ss_src *s);
/* A source of PATH read through a new reader of the skeleton SKEL
 * (ss_raw_reopen), without HDF5; SC_EUNSUP when the file changed. */
SC_MUST_CHECK int ss_src_reopen(const ss_raw *skel, const char *path,
                                ss_src **out);
/* ss_src_open keeping the HDF5 file open (the index reads var and obs). */
SC_MUST_CHECK int ss_src_open_h5(const char *path, const char *matrix,
                                 ss_src **out);
/* What a source holds (sc_stream_src.c; the index reads file and ad). */
struct ss_src {
    hid_t file;   /* direct h5ad opening, or H5I_INVALID_HID */
    sc_mat *mat;  /* owned when file is open */
    sc_adata *ad; /* other formats: owns the matrix */
    ss_raw *raw;  /* CSR read with pread and libdeflate, or NULL */
    ss_raw *part[SS_RAW_PARTS]; /* more readers of it, for parallel fills */
    char *path, *gpath;
    int64_t shape[2];
};

/* The matrix element of AD called MATRIX ("X", "raw", or a layer). */
SC_MUST_CHECK int ss_pick_matrix(sc_adata *ad, const char *matrix,
                                 sc_mat **out);

/* Append a copy of S to the growable array *V of *N strings (capacity
 * *CAP). 0 or SC_ENOMEM. */
SC_MUST_CHECK int ss_strv_push(char ***v, size_t *n, size_t *cap,
                               const char *s);

/* ------------------------------------------------------------------------ */
/* The engine's state (sc_stream.c and the parts it is cut into)            */

/* Streams of the counter-based RNG (sc_rng_key's third argument). */
enum {
    RNG_BLOCKS = 1, /* the block permutation of an epoch */
    RNG_BUFFER = 2, /* + (buffer << 8): the shuffle inside a buffer */
    RNG_DRAWS = 3,  /* weighted draws, 4 values per position */
    RNG_GENES = 4,  /* + (position << 8): random gene selection */
    RNG_CELLS = 5,  /* weighted: a cell inside its block, 3 per position */
};

typedef struct ss_ds {
    char *path;
    double weight;
    char *organism;
    ss_meta *meta;
    uint32_t *sel; /* selected rows, ascending */
    int64_t n_sel;
    /* blocks: selected cells [bstart[k], bstart[k + 1]) (NULL: block k
     * is [k * block, (k + 1) * block)); n_blk of them */
    uint32_t *bstart;
    uint64_t n_blk;
    int32_t *gmap;       /* var -> output column, -1 dropped; GM_LATE */
    int gmap_shared;     /* gmap is an earlier dataset's (the same var) */
    int32_t **vmap;      /* per vocabulary column: local code -> global */
    const ss_col **vcol; /* per vocabulary column, NULL when absent */
    int slot;            /* open-file slot, -1 */
    /* the layout of its raw reader, kept once the file was opened through
     * HDF5 (ss_raw_skeleton): re-opened with open(2) alone, NULL */
    ss_raw *skel;
    /* weighted: per selected cell, the sum of the weights of its block's
     * cells up to it (so a block's last entry is its mass) */
    double *cum;
    double mass;
    /* a pack (sc-stream pack): its cells carry their source dataset and
     * row; the header lists its datasets from dbase on (else the dataset
     * itself is header dataset dbase) */
    sc_pack *pack;
    const sc_pack_arrays *pa;
    size_t dbase;
} ss_ds;

/* In ss_ds.gmap: the gene is not in the longest run of the dataset's genes that
 * ascends in the output order (ss_mark_late), so a row's entry for it is
 * sorted and merged in rather than appended. */
#define GM_LATE 0x40000000

/* A column with a global vocabulary (a label, or a class-weight column). */
typedef struct vcol {
    char *name;
    size_t n;
    char **terms;
    sc_strmap index; /* term -> code (keys: terms, or the file's aliases) */
    char **alias_store;
    size_t n_alias;
} vcol;

typedef struct slot {
    int64_t ds;
    ss_src *src;
    uint64_t used;
} slot;

struct ord {
    uint64_t cell;
    uint64_t pos;
};

typedef struct pair {
    int32_t col;
    float val;
} pair;

/*
 * A buffer: the cells of epoch positions [lo, lo + n) with their entries
 * already in the output gene space, read in file order. The epoch is cut
 * into buffers by a pure function of (seed, epoch, index), so a buffer can
 * be filled by any thread while batches are cut from another: everything a
 * fill writes lives here (the pipeline of issue 9 keeps several of these
 * in a ring).
 */
typedef struct sbuf {
    int64_t j; /* buffer index, -1: empty */
    uint64_t lo, n;
    uint64_t *cell; /* per position: dataset << 32 | row */
    uint64_t *coff; /* entries of the position in pool */
    uint8_t *cpool; /* which pool: 0 this one's, w + 1 part[w]'s */
    uint32_t *clen;
    double *cdepth;    /* sum of the row's stored values */
    struct ord *order; /* read order: cells sorted by (dataset, row) */
    size_t cap_cells;
    pair *pool;
    size_t pool_n, pool_cap;
    sc_block blk;     /* rows as read through sc_mat */
    ss_rows rows;     /* rows as the stream takes them */
    sc_pack_buf pbuf; /* a pack's records read with pread */
    pair *scratch;    /* for sorting a row */
    size_t scratch_cap;
    struct sbuf *part; /* with -@ N: N - 1 helpers filling in parallel */
    int n_part;
} sbuf;

struct sc_stream {
    sc_stream_opts o;
    char *matrix;
    size_t n_ds;
    ss_ds *ds;
    size_t n_failed;
    sc_split *split;   /* with o.split */
    uint64_t *split_h; /* per header dataset: its sc_split handle */
    sc_batch_header h;

    size_t n_vcols, n_labels; /* labels are vcols [0, n_labels) */
    size_t *wcol, n_wcol;     /* the class-weight columns among vcols */
    vcol *vc;
    size_t n_out_genes;
    size_t n_dout; /* datasets in the header (a pack's sources count) */
    /* every dataset is a pack in the output gene order and no transform
     * applies: batches are copied from the packs as they are (direct_*) */
    int direct;
    uint64_t *dcell; /* direct: the cells of the batch being cut */
    size_t dcap;
    sc_pack_buf *dbuf; /* direct: per part, records read with pread */

    uint64_t N;
    int weighted;
    uint64_t *blk_prefix; /* n_ds + 1 */
    uint64_t n_blocks;
    uint64_t *perm;
    uint64_t n_buffers;
    uint64_t *buf_start;
    /* weighted: the blocks by mass; the blocks of datasets without
     * compressed chunks (loose_blk: loose index -> block) by mass; draws
     * per drawn block of a chunked dataset */
    sc_alias *top, *loose;
    uint64_t *loose_blk;
    uint64_t group;
    uint64_t fetch;

    uint64_t lo, n_r, nb, next_batch;

    slot *slots;
    int n_slots;
    uint64_t tick;
    size_t skel_bytes; /* held by the datasets' skeletons */
    /* opens of files to read rows: through HDF5, and again from a
     * skeleton; opens through HDF5 only to make a skeleton (a parallel
     * fill's workers then open the file); the most opens to read of one
     * buffer fill beyond one per file it reads */
    uint64_t n_h5_opens, n_reopens, n_probes, fill_excess;

    sbuf buf[2]; /* batches are cut from buf[cur]; the other is prefetched */
    int cur;
    sc_pool *pool;  /* with threads > 1: one reader fills the next buffer */
    sc_pool *rpool; /* with threads > 1: the reads of one fill in parallel */
    struct prefetch {
        sc_stream *s;
        int slot, busy, rc;
        uint64_t j;
    } pf;

    pair *tmp;
    size_t tmp_cap;
    size_t bcap_nnz;

    uint64_t *stamp;
    uint64_t mix_sum, mix_batches;
    double expected;
};

typedef struct ss_filter {
    char *col;
    int op;
    char **vals;
    size_t n_vals;
    double num;
    char *text; /* copy of the whole expression for messages */
} ss_filter;

/* "out of memory" as the error: SC_ENOMEM. */
int ss_oom(void);

/* sc_stream_select.c: filters, selection, vocabularies. */

/* S without its leading and trailing white space (in place). */
char *ss_trim(char *s);
/* Parse EXPR ("col == v", "col in a,b", "col >= 3", ...) into *F. */
SC_MUST_CHECK int ss_filter_parse(const char *expr, ss_filter *f);
void ss_filter_release(ss_filter *f);
/* Does category value V pass filter F? */
int ss_filter_pass(const ss_filter *f, const char *v);
/* The rows of D that pass the N_F filters F, min_genes and the split, into
 * d->sel and d->n_sel. */
SC_MUST_CHECK int ss_select_rows(sc_stream *s, ss_ds *d, const ss_filter *f,
                                 size_t n_f);
/* Vocabulary of column K from the file PATH, or built over the selected
 * cells (sorted); then the datasets' local codes to global ones. */
SC_MUST_CHECK int ss_vocab_load(vcol *v, const char *path);
SC_MUST_CHECK int ss_vocab_build(sc_stream *s, size_t k);
SC_MUST_CHECK int ss_vocab_maps(sc_stream *s, size_t k);

/* sc_stream_genes.c: the output gene space. */

/* The output position RANK[g] of each of the N union genes, from the
 * datasets' gene sequences SEQ (dataset i in [SEQ_OFF[i], SEQ_OFF[i+1])). */
SC_MUST_CHECK int ss_join_order(const uint32_t *seq, const size_t *seq_off,
                                size_t n_ds, size_t n, uint32_t *rank);
/* NAME in MAP, or without an Ensembl-style ".N" version; -1. */
int64_t ss_gene_find(const sc_strmap *map, const char *name);
/* The output genes and every dataset's gmap: from the reference lists
 * (o.genes), or the union/intersection of the datasets' genes. */
SC_MUST_CHECK int ss_genes_ref(sc_stream *s);
SC_MUST_CHECK int ss_genes_join(sc_stream *s);
/* Mark with GM_LATE the genes of D out of its longest ascending run. */
SC_MUST_CHECK int ss_mark_late(ss_ds *d);

/* sc_stream_plan.c: the sampling plan. */

/* Cut the selected cells of D into blocks of at least B cells (at chunk
 * ends when its values are chunked). */
SC_MUST_CHECK int ss_plan_blocks(ss_ds *d, uint64_t B);
/* Selected cells [*K0, *K1) of block K of dataset D. */
void ss_block_cells(const sc_stream *s, const ss_ds *d, uint64_t k,
                    uint64_t *k0, uint64_t *k1);
/* The last I in [0, N) with PREFIX[I] <= X. */
uint64_t ss_last_at_most(const uint64_t *prefix, uint64_t n, uint64_t x);
/* The dataset holding block BLK of the epoch, and BLK's number in it. */
size_t ss_block_dataset(const sc_stream *s, uint64_t blk, uint64_t *k);
/* The plan of an epoch (block permutation, buffers), or of weighted
 * sampling (alias tables of blocks, the draws per group). */
SC_MUST_CHECK int ss_plan_epoch(sc_stream *s);
SC_MUST_CHECK int ss_plan_weighted(sc_stream *s);
/* The cell (dataset << 32 | row) of weighted position P. */
uint64_t ss_weighted_cell(const sc_stream *s, uint64_t p);

/* sc_stream_fill.c: buffers. */

void ss_sbuf_release(sbuf *u);
/* Sort N pairs by column (through TMP of N; columns <= MAX_COL). */
void ss_sort_pairs(pair *a, pair *tmp, size_t n, uint32_t max_col);
/* Copy row I of BLK (of dataset D) into U's pool for position POS, in the
 * output gene space, sorted. */
SC_MUST_CHECK int ss_take_row(const sc_stream *s, sbuf *u, const ss_ds *d,
                              const ss_rows *blk, int64_t i, size_t pos);
/* Make buf[cur] the buffer holding epoch position G (and prefetch). */
SC_MUST_CHECK int ss_ensure_buffer(sc_stream *s, uint64_t g);

/* sc_stream_batch.c: batches. */

/* Transform the N entries T of one cell and append them to B as cell I. */
SC_MUST_CHECK int ss_emit_cell(sc_stream *s, sc_batch *b, uint32_t i, pair *t,
                               size_t n, double depth, uint64_t g);
/* The epoch position of the rank's Q-th cell (padding wraps around). */
uint64_t ss_position(const sc_stream *s, uint64_t q);

#endif
