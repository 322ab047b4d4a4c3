/* sc-stream: many datasets as one shuffled, weighted, sharded stream of cell
 * batches, as framed binary (sc-batch(5)) or text. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_batch.h"
#include "sc_cli.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_pack.h"
#include "sc_progress.h"
#include "sc_provenance.h"
#include "sc_version.h"
#include "sc_sample.h"
#include "sc_split.h"
#include "sc_stream.h"

enum {
    OPT_LAYER = SC_OPT_USER,
    OPT_DATASETS,
    OPT_CACHE_DIR,
    OPT_NO_CACHE,
    OPT_CACHE_BESIDE,
    OPT_MAX_OPEN,
    OPT_GENES,
    OPT_ORTHOLOGS,
    OPT_JOIN,
    OPT_VOCAB,
    OPT_MIN_GENES,
    OPT_WEIGHT_BY,
    OPT_SCHEME,
    OPT_SCALER,
    OPT_CELL_WEIGHT,
    OPT_DS_WEIGHTS,
    OPT_BLOCK,
    OPT_BLOCK_DRAWS,
    OPT_BUFFER,
    OPT_NO_SHUFFLE,
    OPT_SEED,
    OPT_EPOCH,
    OPT_RANK,
    OPT_WORLD,
    OPT_UNEVEN,
    OPT_START,
    OPT_NORMALIZE,
    OPT_LOG1P,
    OPT_TOP,
    OPT_RANDOM_GENES,
    OPT_DENSE,
    OPT_HEADER,
    OPT_RING_FD,
    OPT_RING_SIZE,
    OPT_PREAD,
    OPT_OBJ_CACHE,
    OPT_OBJ_CACHE_SIZE,
    OPT_OBJ_BLOCK,
    OPT_OBJ_REQUESTS,
    OPT_CODEC,
    OPT_SPLIT,
    OPT_SPLIT_FRAC,
    OPT_SPLIT_SEED,
    OPT_SPLIT_BY,
    OPT_SPLIT_FILE,
    OPT_LABEL,
    OPT_SAMPLES,
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {'o', "output", SC_ARG_REQUIRED, "FILE", "write to FILE [-: stdout]"},
    {'O', "output-fmt", SC_ARG_REQUIRED, "FMT",
     "binary (sc-batch(5)) or text [binary; text on a terminal]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "leave out datasets that cannot be read, exit 3 at the end"},
    {OPT_RING_FD, "ring-fd", SC_ARG_REQUIRED, "FD",
     "write batches into the shared-memory file open as FD, their places "
     "to the output (a pipe to the reader; python/sc_stream.py does this)"},
    {OPT_RING_SIZE, "ring-size", SC_ARG_REQUIRED, "BYTES",
     "data bytes of the ring [256M]"},
    {0, NULL, 0, NULL, "Input:"},
    {'m', "manifest", SC_ARG_REQUIRED, "FILE",
     "datasets from a manifest (path, optional weight, organism, id)"},
    {OPT_LAYER, "layer", SC_ARG_REQUIRED, "NAME",
     "matrix to read: X, raw (raw/X) or a layer name [X]"},
    {OPT_DATASETS, "datasets", SC_ARG_REQUIRED, "LIST",
     "only these datasets: indices from 0, ids or file names, comma-separated"},
    {OPT_CACHE_DIR, "cache-dir", SC_ARG_REQUIRED, "DIR",
     "index cache [$SC_STREAM_CACHE or ~/.cache/sc/stream]"},
    {OPT_CACHE_BESIDE, "cache-beside", SC_ARG_NONE, NULL,
     "keep each dataset's index beside it, as FILE.scidx"},
    {OPT_NO_CACHE, "no-cache", SC_ARG_NONE, NULL,
     "do not read or write the index cache"},
    {OPT_MAX_OPEN, "max-open", SC_ARG_REQUIRED, "N",
     "files open at once [from the open-file limit, at most 128]"},
    {OPT_PREAD, "pread", SC_ARG_NONE, NULL,
     "copy cells of packs with pread instead of from a mapping: resident "
     "memory bounded by the buffers, about a third slower"},
    {OPT_OBJ_CACHE, "object-cache", SC_ARG_REQUIRED, "DIR",
     "blocks of s3:// and https:// packs [$SC_OBJECT_CACHE or "
     "~/.cache/sc/objects]"},
    {OPT_OBJ_CACHE_SIZE, "object-cache-size", SC_ARG_REQUIRED, "SIZE",
     "at most SIZE bytes of blocks per pack, least recently used dropped "
     "[1G]"},
    {OPT_OBJ_BLOCK, "object-block", SC_ARG_REQUIRED, "SIZE",
     "bytes of one ranged GET of a remote pack [8M]"},
    {OPT_OBJ_REQUESTS, "object-requests", SC_ARG_REQUIRED, "N",
     "ranged GETs in flight per remote pack, 1 to 64 [4]"},
    {OPT_CODEC, "codec", SC_ARG_REQUIRED, "C",
     "pack: store entries as varint (compressed records, ~2.2 bytes an "
     "entry of counts) or none (raw arrays, 8 bytes) [varint]"},
    {0, NULL, 0, NULL, "Genes and labels:"},
    {OPT_GENES, "genes", SC_ARG_REQUIRED, "[ORG=]FILE",
     "reference gene list, one per organism (repeat; offsets in order given)"},
    {OPT_ORTHOLOGS, "orthologs", SC_ARG_NONE, NULL,
     "mouse datasets onto the human --genes list through one-to-one "
     "orthologs (the others are dropped and counted)"},
    {OPT_JOIN, "join", SC_ARG_REQUIRED, "HOW",
     "inner or outer join of the datasets' genes [none: all identical]"},
    {OPT_LABEL, "label", SC_ARG_REQUIRED, "COL",
     "emit obs column COL as codes (repeat, or a,b)"},
    SC_OPT_ALIAS('l', "label", SC_ARG_REQUIRED), /* -l: until 0.2 */
    {OPT_VOCAB, "vocab", SC_ARG_REQUIRED, "COL=FILE",
     "codes of COL from a vocabulary file (sc-batch(5))"},
    {0, NULL, 0, NULL, "Selection:"},
    {'f', "filter", SC_ARG_REQUIRED, "EXPR",
     "keep cells where EXPR holds: col==v, col!=v, col in a,b, col>=x ... "
     "(repeat)"},
    {OPT_MIN_GENES, "min-genes", SC_ARG_REQUIRED, "N",
     "keep cells with at least N genes [0]"},
    {OPT_SPLIT, "split", SC_ARG_REQUIRED, "PART",
     "only the cells of split part train, val or test"},
    {OPT_SPLIT_FRAC, "split-fractions", SC_ARG_REQUIRED, "T,V,E",
     "fractions of train, val and test [0.8,0.1,0.1]"},
    {OPT_SPLIT_SEED, "split-seed", SC_ARG_REQUIRED, "N",
     "seed of the split [0]"},
    {OPT_SPLIT_BY, "split-by", SC_ARG_REQUIRED, "HOW",
     "split whole datasets or single cells: dataset or cell [cell]"},
    {OPT_SPLIT_FILE, "split-file", SC_ARG_REQUIRED, "FILE",
     "the split of a split file (sc-stream split)"},
    {0, NULL, 0, NULL, "Sampling:"},
    {OPT_SAMPLES, "samples", SC_ARG_REQUIRED, "N",
     "draw N cells with replacement by weight [0: each cell once]"},
    SC_OPT_ALIAS('n', "samples", SC_ARG_REQUIRED), /* -n: until 0.2 */
    {OPT_WEIGHT_BY, "weight-by", SC_ARG_REQUIRED, "COL",
     "class weights from obs column(s) COL (repeat, or a,b)"},
    {OPT_SCHEME, "weight-scheme", SC_ARG_REQUIRED, "S",
     "class weight: inv (1/n) or scaler (s/(n+s)) [scaler]"},
    {OPT_SCALER, "scaler", SC_ARG_REQUIRED, "S",
     "the s of the scaler scheme [10]"},
    {OPT_CELL_WEIGHT, "cell-weight", SC_ARG_REQUIRED, "W",
     "per-cell weight: nnz (scDataLoader's) or a numeric obs column"},
    {OPT_DS_WEIGHTS, "dataset-weights", SC_ARG_NONE, NULL,
     "multiply by the manifest's weight column"},
    {OPT_BLOCK_DRAWS, "block-draws", SC_ARG_REQUIRED, "N",
     "weighted: draws from one drawn block of a compressed dataset "
     "[0: its mean cells; 1: independent draws]"},
    {OPT_BLOCK, "block", SC_ARG_REQUIRED, "B",
     "contiguous cells per block, at least (to a chunk end in compressed data) "
     "[16]"},
    {OPT_BUFFER, "buffer", SC_ARG_REQUIRED, "K",
     "blocks gathered and shuffled together [256]"},
    {OPT_NO_SHUFFLE, "no-shuffle", SC_ARG_NONE, NULL,
     "datasets and rows in order"},
    {'b', "batch-size", SC_ARG_REQUIRED, "N", "cells per batch [256]"},
    {OPT_SEED, "seed", SC_ARG_REQUIRED, "N", "random seed [0]"},
    {OPT_EPOCH, "epoch", SC_ARG_REQUIRED, "N", "epoch number [0]"},
    {OPT_RANK, "rank", SC_ARG_REQUIRED, "R",
     "this rank [$RANK, $SLURM_PROCID, 0]"},
    {OPT_WORLD, "world-size", SC_ARG_REQUIRED, "W",
     "number of ranks [$WORLD_SIZE, $SLURM_NTASKS, 1]"},
    {OPT_UNEVEN, "uneven", SC_ARG_REQUIRED, "HOW",
     "equal batch counts by padding or dropping: pad or drop [pad]"},
    {OPT_START, "start-batch", SC_ARG_REQUIRED, "N",
     "resume: skip the first N batches [0]"},
    {0, NULL, 0, NULL, "Transforms:"},
    {OPT_NORMALIZE, "normalize", SC_ARG_OPTIONAL, "T",
     "scale each cell to total T [10000]"},
    {OPT_LOG1P, "log1p", SC_ARG_NONE, NULL, "natural log(1 + x) of the values"},
    {OPT_TOP, "top-genes", SC_ARG_REQUIRED, "N",
     "the N most expressed genes per cell, padded with -1"},
    {OPT_RANDOM_GENES, "random-genes", SC_ARG_REQUIRED, "N",
     "N random expressed genes per cell, padded with -1"},
    {OPT_DENSE, "dense", SC_ARG_NONE, NULL, "dense rows over the output genes"},
    {0, NULL, 0, NULL, "dump:"},
    {OPT_HEADER, "header", SC_ARG_NONE, NULL,
     "print the whole header (genes, vocabularies, datasets)"},
    SC_OPT_END};

typedef struct list {
    const char **v;
    size_t n;
} list;

struct args {
    sc_stream_opts so;
    const char *output, *manifest, *datasets;
    int text, fmt_set, no_cache, header;
    const char *cache_dir;
    list labels, filters, weight_by;
    sc_stream_genes *genes;
    size_t n_genes;
    sc_stream_vocab *vocabs;
    size_t n_vocabs;
    int rank_set, world_set;
    int codec; /* pack: SC_PACK_*, 0 not given */
    int64_t ring_fd, ring_size;
    sc_split_opts split;
    sc_obj_cache_opts objc; /* remote packs */
};

static int push(list *l, const char *s)
{
    const char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return sc_fail(SC_ENOMEM, "out of memory");
    v[l->n++] = s;
    l->v = v;
    return 0;
}

/* Split "a,b" into the list (ARG outlives the run: it is argv). */
static int push_csv(list *l, const char *arg)
{
    char *copy = strdup(arg), *save = NULL, *tok;
    int rc = 0;
    if (!copy)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        size_t off = (size_t)(tok - copy);
        char *s = strndup(arg + off, strlen(tok));
        rc = s ? push(l, s) : sc_fail(SC_ENOMEM, "out of memory");
    }
    free(copy);
    return rc;
}

static int i64(const char *arg, int64_t min, int64_t max, int64_t *out)
{
    return sc_parse_int(arg, min, max, out);
}

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;
    sc_stream_opts *o = &a->so;
    int64_t v;
    int rc = 0;

    switch (key) {
    case 'o': a->output = arg; break;
    case OPT_RING_FD: return i64(arg, 0, INT32_MAX, &a->ring_fd);
    case OPT_OBJ_CACHE: a->objc.dir = arg; break;
    case OPT_OBJ_CACHE_SIZE:
        return sc_parse_size(arg, 64u << 10, UINT64_MAX, &a->objc.bytes);
    case OPT_OBJ_BLOCK: {
        uint64_t z;
        if ((rc = sc_parse_size(arg, 64u << 10, 1u << 30, &z)) < 0)
            return rc;
        a->objc.block = (size_t)z;
        break;
    }
    case OPT_OBJ_REQUESTS: {
        int64_t n;
        if ((rc = sc_parse_int(arg, 1, 64, &n)) < 0)
            return rc;
        a->objc.parallel = (int)n;
        break;
    }
    case OPT_RING_SIZE: {
        uint64_t z;
        if ((rc = sc_parse_size(arg, 1u << 20, (uint64_t)1 << 40, &z)) < 0)
            return rc;
        a->ring_size = (int64_t)(z / 64 * 64);
        break;
    }
    case 'O':
        if (strcmp(arg, "text") && strcmp(arg, "binary"))
            return sc_fail(SC_EINVAL, "unknown format '%s' (binary, text)",
                           arg);
        a->text = !strcmp(arg, "text");
        a->fmt_set = 1;
        break;
    case 'k': o->keep_going = 1; break;
    case 'm': a->manifest = arg; break;
    case OPT_LAYER: o->matrix = arg; break;
    case OPT_DATASETS: a->datasets = arg; break;
    case OPT_CACHE_DIR: a->cache_dir = arg; break;
    case OPT_NO_CACHE: a->no_cache = 1; break;
    case OPT_CACHE_BESIDE: a->cache_dir = ""; break;
    case OPT_MAX_OPEN:
        rc = i64(arg, 1, 100000, &v);
        o->max_open = (int)v;
        break;
    case OPT_GENES: {
        sc_stream_genes *g = realloc(a->genes, (a->n_genes + 1) * sizeof *g);
        const char *eq = strchr(arg, '=');
        if (!g)
            return sc_fail(SC_ENOMEM, "out of memory");
        a->genes = g;
        g[a->n_genes].organism = eq ? strndup(arg, (size_t)(eq - arg)) : NULL;
        g[a->n_genes++].path = eq ? eq + 1 : arg;
        break;
    }
    case OPT_ORTHOLOGS: o->orthologs = 1; return 0;
    case OPT_JOIN:
        if (!strcmp(arg, "inner"))
            o->join = SC_STREAM_JOIN_INNER;
        else if (!strcmp(arg, "outer"))
            o->join = SC_STREAM_JOIN_OUTER;
        else if (!strcmp(arg, "none"))
            o->join = SC_STREAM_JOIN_NONE;
        else
            return sc_fail(SC_EINVAL,
                           "unknown join '%s' (inner, outer, "
                           "none)",
                           arg);
        break;
    case OPT_LABEL: return push_csv(&a->labels, arg);
    case OPT_VOCAB: {
        const char *eq = strchr(arg, '=');
        sc_stream_vocab *vv;
        if (!eq || eq == arg || !eq[1])
            return sc_fail(SC_EINVAL, "expected COL=FILE, not '%s'", arg);
        if (!(vv = realloc(a->vocabs, (a->n_vocabs + 1) * sizeof *vv)))
            return sc_fail(SC_ENOMEM, "out of memory");
        a->vocabs = vv;
        vv[a->n_vocabs].column = strndup(arg, (size_t)(eq - arg));
        vv[a->n_vocabs++].path = eq + 1;
        break;
    }
    case 'f': return push(&a->filters, arg);
    case OPT_MIN_GENES: return i64(arg, 0, INT64_MAX, &o->min_genes);
    case OPT_SAMPLES: return i64(arg, 1, INT64_MAX, &o->n_samples);
    case OPT_WEIGHT_BY: return push_csv(&a->weight_by, arg);
    case OPT_SCHEME:
        if (!strcmp(arg, "inv"))
            o->weight_scheme = SC_WEIGHT_INV;
        else if (!strcmp(arg, "scaler"))
            o->weight_scheme = SC_WEIGHT_SCALER;
        else
            return sc_fail(SC_EINVAL, "unknown scheme '%s' (inv, scaler)", arg);
        break;
    case OPT_SCALER:
        return sc_parse_double(arg, 1e-300, 1e300, &o->weight_scaler);
    case OPT_CELL_WEIGHT: o->cell_weight = arg; break;
    case OPT_DS_WEIGHTS: o->dataset_weights = 1; break;
    case OPT_BLOCK: return i64(arg, 1, 1 << 24, &o->block);
    case OPT_BLOCK_DRAWS: return i64(arg, 0, 1 << 24, &o->block_draws);
    case OPT_BUFFER: return i64(arg, 1, 1 << 24, &o->buffer);
    case OPT_NO_SHUFFLE: o->shuffle = 0; break;
    case 'b': return i64(arg, 1, 1 << 24, &o->batch_size);
    case OPT_SEED:
        rc = i64(arg, 0, INT64_MAX, &v);
        o->seed = (uint64_t)v;
        break;
    case OPT_EPOCH:
        rc = i64(arg, 0, UINT32_MAX, &v);
        o->epoch = (uint64_t)v;
        break;
    case OPT_RANK: a->rank_set = 1; return i64(arg, 0, INT32_MAX, &o->rank);
    case OPT_WORLD:
        a->world_set = 1;
        return i64(arg, 1, INT32_MAX, &o->world_size);
    case OPT_UNEVEN:
        if (!strcmp(arg, "pad"))
            o->uneven = SC_STREAM_PAD;
        else if (!strcmp(arg, "drop"))
            o->uneven = SC_STREAM_DROP;
        else
            return sc_fail(SC_EINVAL, "unknown mode '%s' (pad, drop)", arg);
        break;
    case OPT_START: return i64(arg, 0, INT64_MAX, &o->start_batch);
    case OPT_NORMALIZE:
        o->normalize = 1e4;
        if (arg)
            return sc_parse_double(arg, 1e-300, 1e300, &o->normalize);
        break;
    case OPT_LOG1P: o->log1p = 1; break;
    case OPT_TOP:
    case OPT_RANDOM_GENES:
        o->select = key == OPT_TOP ? SC_STREAM_SEL_TOP : SC_STREAM_SEL_RANDOM;
        return i64(arg, 1, 1 << 24, &o->max_len);
    case OPT_DENSE: o->dense = 1; break;
    case OPT_HEADER: a->header = 1; break;
    case OPT_PREAD: o->pack_pread = 1; break;
    case OPT_CODEC:
        if (!strcmp(arg, "varint"))
            a->codec = SC_PACK_VARINT;
        else if (!strcmp(arg, "none"))
            a->codec = SC_PACK_RAW;
        else
            return sc_fail(SC_EINVAL, "unknown codec '%s' (varint, none)", arg);
        break;
    case OPT_SPLIT:
        if ((rc = sc_split_parse_part(arg)) < 0)
            return rc;
        o->split = rc;
        return 0;
    case OPT_SPLIT_FRAC: return sc_split_parse_fractions(arg, a->split.frac);
    case OPT_SPLIT_SEED:
        rc = i64(arg, 0, INT64_MAX, &v);
        a->split.seed = (uint64_t)v;
        break;
    case OPT_SPLIT_BY:
        if (!strcmp(arg, "dataset"))
            a->split.by = SC_SPLIT_BY_DATASET;
        else if (!strcmp(arg, "cell"))
            a->split.by = SC_SPLIT_BY_CELL;
        else
            return sc_fail(SC_EINVAL, "unknown split '%s' (dataset, cell)",
                           arg);
        break;
    case OPT_SPLIT_FILE: o->split_file = arg; break;
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return rc;
}

/* RANK/WORLD_SIZE (torchrun) or Slurm's variables, unless given. */
static int env_defaults(struct args *a)
{
    static const char *rk[] = {"RANK", "SLURM_PROCID"};
    static const char *wk[] = {"WORLD_SIZE", "SLURM_NTASKS"};
    for (int i = 0; i < 2; i++) {
        const char *r = getenv(rk[i]), *w = getenv(wk[i]);
        int rc;
        if (!a->rank_set && r && *r) {
            if ((rc = sc_parse_int(r, 0, INT32_MAX, &a->so.rank)) < 0)
                return sc_fail_ctx(rc, "$%s", rk[i]);
            a->rank_set = 1;
        }
        if (!a->world_set && w && *w) {
            if ((rc = sc_parse_int(w, 1, INT32_MAX, &a->so.world_size)) < 0)
                return sc_fail_ctx(rc, "$%s", wk[i]);
            a->world_set = 1;
        }
    }
    return 0;
}

/* Does dataset I (path P, id ID) belong to the --datasets list? */
static int wanted(const char *spec, size_t i, const char *p, const char *id)
{
    const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    size_t blen = strcspn(base, ".");
    char *copy = strdup(spec), *save = NULL, *tok;
    int hit = 0;
    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !hit;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t k;
        if (sc_parse_int(tok, 0, INT64_MAX, &k) == 0)
            hit = (size_t)k == i;
        else
            hit = !strcmp(tok, p) || !strcmp(tok, base) ||
                  (id && !strcmp(tok, id)) ||
                  (strlen(tok) == blen && !strncmp(tok, base, blen));
    }
    free(copy);
    return hit;
}

/* The inputs: file operands, or a manifest (-m, or stdin when it is not a
 * terminal). Strings are borrowed from argv or from *MF. */
static int collect_inputs(struct args *a, sc_cli *cli, sc_manifest **mf,
                          sc_stream_input **out, size_t *n_out)
{
    sc_stream_input *in;
    size_t n = 0, total;
    int rc;

    *out = NULL;
    *n_out = 0;
    *mf = NULL;
    if (a->manifest || cli->argc == 0) {
        if ((rc = sc_manifest_read(a->manifest ? a->manifest : "-", mf)) < 0)
            return rc;
    }
    total = (*mf ? sc_manifest_nrows(*mf) : 0) + (size_t)cli->argc;
    if (!(in = calloc(total ? total : 1, sizeof *in)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < total; i++) {
        sc_stream_input x = {NULL, 1.0, NULL};
        const char *id = NULL;
        if (*mf && i < sc_manifest_nrows(*mf)) {
            sc_mrow *r = sc_manifest_row(*mf, i);
            const char *w = sc_mrow_get(r, SC_MCOL_WEIGHT);
            x.path = sc_mrow_path(r);
            x.organism = sc_mrow_get(r, SC_MCOL_ORGANISM);
            id = sc_mrow_get(r, SC_MCOL_ID);
            if (w && *w && (rc = sc_parse_double(w, 0, 1e300, &x.weight)) < 0) {
                free(in);
                return sc_fail_ctx(rc, "'%s' line %ld: weight",
                                   sc_manifest_name(*mf), sc_mrow_lineno(r));
            }
        } else {
            x.path = cli->argv[i - (*mf ? sc_manifest_nrows(*mf) : 0)];
        }
        if (a->datasets && !wanted(a->datasets, i, x.path, id))
            continue;
        in[n++] = x;
    }
    *out = in;
    *n_out = n;
    return 0;
}

static int open_output(struct args *a, sc_atomic *at, FILE **fp)
{
    int rc;
    if (!a->fmt_set && !strcmp(a->output, "-") && isatty(STDOUT_FILENO))
        a->text = 1;
    if ((rc = sc_io_atomic_open(a->output, at, fp)) < 0)
        return rc;
    return 0;
}

static int cmd_run(struct args *a, sc_cli *cli)
{
    sc_manifest *mf = NULL;
    sc_stream_input *in = NULL;
    sc_stream *s = NULL;
    sc_batch_writer *w = NULL;
    sc_batch b = SC_BATCH_INIT;
    sc_atomic at = {0};
    sc_progress *pr = NULL;
    FILE *fp = NULL;
    size_t n_in;
    int rc;

    if ((rc = collect_inputs(a, cli, &mf, &in, &n_in)) < 0)
        goto out;
    a->so.inputs = in;
    a->so.n_inputs = n_in;
    if ((rc = sc_stream_open(&a->so, &s)) < 0)
        goto out;
    if ((rc = open_output(a, &at, &fp)) < 0)
        goto out;
    if (a->ring_fd >= 0 && a->text) {
        rc = sc_fail(SC_EINVAL, "--ring-fd: binary output only");
        goto out;
    }
    if ((rc = sc_batch_writer_open_ring(fp, a->text ? SC_BATCH_TEXT : 0,
                                        (int)a->ring_fd, (size_t)a->ring_size,
                                        sc_stream_header(s), &w)) < 0)
        goto out;
    pr = sc_progress_new("stream", sc_stream_header(s)->n_batches, 0,
                         cli->progress);
    sc_progress_set_unit(pr, "batches");
    while ((rc = sc_stream_write_next(s, &b, w)) > 0)
        sc_progress_add(pr, 1);
    sc_progress_done(pr);
    if (rc == 0)
        rc = sc_batch_writer_finish(w);
    if (rc == 0)
        rc = sc_io_atomic_commit(&at);
    if (rc == 0) {
        sc_stream_stats st;
        sc_stream_get_stats(s, &st);
        sc_log_info("%" PRIu64 " cells selected, %" PRIu64
                    " batches of %" PRId64 " written",
                    st.n_selected, st.n_batches, a->so.batch_size);
        sc_log_info("mixing: %.2f distinct datasets per batch (fully random: "
                    "%.2f, %.0f%%)",
                    st.mean_distinct, st.expected_distinct,
                    st.expected_distinct > 0
                        ? 100 * st.mean_distinct / st.expected_distinct
                        : 0);
        if (st.z_in)
            sc_log_info("inflate: %.1f MB compressed to %.1f MB (%.0f%% used) "
                        "in %.3f s: %.0f MB/s of input per thread",
                        (double)st.z_in / 1e6, (double)st.z_out / 1e6,
                        100.0 * (double)st.z_used / (double)st.z_out, st.z_secs,
                        st.z_secs > 0 ? (double)st.z_in / 1e6 / st.z_secs : 0);
        sc_log_info("files opened: %" PRIu64 " through HDF5, %" PRIu64
                    " from their layout",
                    st.n_h5_opens, st.n_layout_opens);
        if (st.n_failed) {
            sc_log_warn("%zu datasets failed and were left out", st.n_failed);
            rc = SC_EXIT_PARTIAL;
        }
    }
out:
    if (rc < 0)
        sc_io_atomic_abort(&at);
    sc_batch_writer_free(w);
    sc_batch_release(&b);
    sc_stream_close(s);
    free(in);
    sc_manifest_free(mf);
    return rc;
}

/* Refuse an option of reading when packing: what is packed is the stream
 * before transforms, for one rank, whole. */
static int pack_refuse(const struct args *a)
{
    const sc_stream_opts *o = &a->so;
    const char *bad = o->normalize > 0                 ? "--normalize"
                      : o->log1p                       ? "--log1p"
                      : o->select == SC_STREAM_SEL_TOP ? "--top-genes"
                      : o->select != SC_STREAM_SEL_ALL ? "--random-genes"
                      : o->dense                       ? "--dense"
                      : o->n_samples > 0               ? "--samples"
                      : o->n_weight_cols               ? "--weight-by"
                      : o->cell_weight                 ? "--cell-weight"
                      : o->dataset_weights             ? "--dataset-weights"
                      : o->block_draws                 ? "--block-draws"
                      : o->world_size > 1              ? "--rank/--world-size"
                      : o->start_batch                 ? "--start-batch"
                      : o->epoch                       ? "--epoch"
                      : a->ring_fd >= 0                ? "--ring-fd"
                      : a->text                        ? "text output"
                                                       : NULL;
    if (bad)
        return sc_fail(SC_EINVAL,
                       "pack: %s applies when a pack is read, not "
                       "when it is written",
                       bad);
    if (!strcmp(a->output, "-"))
        return sc_fail(SC_EINVAL, "pack: give the output file with -o FILE");
    return 0;
}

/* The pack's header: the stream's genes, labels and datasets, with what
 * made it as settings. */
static int pack_header(const struct args *a, const sc_cli *cli,
                       const sc_batch_header *sh, sc_batch_header *ph)
{
    char buf[64];
    int rc = 0;

    memset(ph, 0, sizeof *ph);
    ph->n_cells = sh->n_cells;
    ph->seed = sh->seed;
    ph->world_size = 1;
    snprintf(buf, sizeof buf, "%" PRIu64, a->so.seed);
    rc = sc_batch_header_info(ph, "pack_seed", buf);
    for (size_t i = 0; i < sh->n_info && rc == 0; i++)
        if (!strcmp(sh->info_key[i], "matrix") ||
            !strcmp(sh->info_key[i], "block") ||
            !strcmp(sh->info_key[i], "buffer")) {
            snprintf(buf, sizeof buf, "pack_%s", sh->info_key[i]);
            rc = sc_batch_header_info(ph, buf, sh->info_val[i]);
        }
    static const char *joins[] = {"none", "inner", "outer"};
    if (rc == 0)
        rc = sc_batch_header_info(ph, "pack_join", joins[a->so.join % 3]);
    for (size_t i = 0; i < a->filters.n && rc == 0; i++)
        rc = sc_batch_header_info(ph, "pack_filter", a->filters.v[i]);
    snprintf(buf, sizeof buf, "%" PRId64, a->so.min_genes);
    if (rc == 0 && a->so.min_genes)
        rc = sc_batch_header_info(ph, "pack_min_genes", buf);
    if (rc == 0 && cli->provenance) {
        char when[64];
        sc_provenance_time(when, sizeof when);
        if ((rc = sc_batch_header_info(ph, "pack_tool",
                                       "sc-stream " SC_VERSION)) == 0 &&
            (rc = sc_batch_header_info(ph, "pack_time", when)) == 0)
            rc = sc_batch_header_info(ph, "pack_command",
                                      cli->cmdline ? cli->cmdline : "");
    }
    /* the rest is the stream's, borrowed */
    ph->n_genes = sh->n_genes;
    ph->genes = sh->genes;
    ph->n_labels = sh->n_labels;
    ph->labels = sh->labels;
    ph->n_datasets = sh->n_datasets;
    ph->datasets = sh->datasets;
    return rc;
}

static int cmd_pack(struct args *a, sc_cli *cli)
{
    sc_manifest *mf = NULL;
    sc_stream_input *in = NULL;
    sc_stream *s = NULL;
    sc_pack_writer *w = NULL;
    sc_batch b = SC_BATCH_INIT;
    sc_batch_header ph;
    sc_progress *pr = NULL;
    size_t n_in;
    uint64_t cells = 0, nnz = 0;
    int rc;

    memset(&ph, 0, sizeof ph);
    if ((rc = collect_inputs(a, cli, &mf, &in, &n_in)) < 0)
        goto out;
    a->so.inputs = in;
    a->so.n_inputs = n_in;
    a->so.rank = 0;
    a->so.world_size = 1;
    a->so.uneven = SC_STREAM_PAD;
    if ((rc = sc_stream_open(&a->so, &s)) < 0 ||
        (rc = pack_header(a, cli, sc_stream_header(s), &ph)) < 0 ||
        (rc = sc_pack_writer_open(
             a->output, &ph, a->codec ? a->codec : SC_PACK_VARINT, &w)) < 0)
        goto out;
    pr = sc_progress_new("pack", sc_stream_header(s)->n_batches, 0,
                         cli->progress);
    sc_progress_set_unit(pr, "batches");
    while ((rc = sc_stream_next(s, &b)) > 0) {
        if ((rc = sc_pack_writer_add(w, &b)) < 0)
            break;
        cells += b.n_cells - b.n_pad;
        nnz += b.n_pad ? (uint64_t)b.indptr[b.n_cells - b.n_pad] : b.nnz;
        sc_progress_add(pr, 1);
    }
    sc_progress_done(pr);
    if (rc == 0)
        rc = sc_pack_writer_finish(w);
    if (rc == 0) {
        sc_stream_stats st;
        sc_stream_get_stats(s, &st);
        sc_log_info("packed %" PRIu64 " cells (%" PRIu64
                    " entries) of %zu datasets into '%s'",
                    cells, nnz, sc_stream_header(s)->n_datasets, a->output);
        if (st.n_failed) {
            sc_log_warn("%zu datasets failed and were left out", st.n_failed);
            rc = SC_EXIT_PARTIAL;
        }
    }
out:
    sc_pack_writer_free(w);
    /* only the settings are ours */
    ph.n_genes = ph.n_labels = ph.n_datasets = 0;
    ph.genes = ph.datasets = NULL;
    ph.labels = NULL;
    sc_batch_header_release(&ph);
    sc_batch_release(&b);
    sc_stream_close(s);
    free(in);
    sc_manifest_free(mf);
    return rc;
}

static int cmd_index(struct args *a, sc_cli *cli)
{
    sc_manifest *mf = NULL;
    sc_stream_input *in = NULL;
    sc_atomic at = {0};
    FILE *fp = NULL;
    size_t n_in;
    int rc, failed = 0;

    if ((rc = collect_inputs(a, cli, &mf, &in, &n_in)) < 0)
        goto out;
    if ((rc = sc_io_atomic_open(a->output, &at, &fp)) < 0)
        goto out;
    fprintf(fp, "path\tn_selected\tn_genes\n");
    for (size_t i = 0; i < n_in && rc == 0; i++) {
        /* one stream per dataset: the index entry, the selection and the
         * gene count, with the options given */
        sc_stream_opts o = a->so;
        sc_stream *s = NULL;
        o.inputs = &in[i];
        o.n_inputs = 1;
        o.n_samples = 0;
        o.keep_going = 0;
        int r = sc_stream_open(&o, &s);
        if (r == SC_EINVAL && !strcmp(sc_errmsg(), "no cell passes the "
                                                   "selection")) {
            fprintf(fp, "%s\t0\t\n", in[i].path);
            continue;
        }
        if (r < 0) {
            if (!a->so.keep_going) {
                rc = r;
                break;
            }
            sc_log_error("%s", sc_errmsg());
            failed++;
            continue;
        }
        sc_stream_stats st;
        sc_stream_get_stats(s, &st);
        const sc_batch_header *h = sc_stream_header(s);
        fprintf(fp, "%s\t%" PRIu64 "\t%zu\n", in[i].path, st.n_selected,
                h->n_genes);
        sc_stream_close(s);
    }
    if (rc == 0 && ferror(fp))
        rc = sc_fail(SC_EIO, "cannot write the index summary");
    if (rc == 0)
        rc = sc_io_atomic_commit(&at);
    if (rc == 0 && failed)
        rc = SC_EXIT_PARTIAL;
out:
    if (rc < 0)
        sc_io_atomic_abort(&at);
    free(in);
    sc_manifest_free(mf);
    return rc;
}

static int dump_header(FILE *fp, const sc_batch_header *h)
{
    fprintf(fp, "#seed\t%" PRIu64 "\n#epoch\t%u\n#rank\t%u/%u\n", h->seed,
            h->epoch, h->rank, h->world_size);
    for (size_t i = 0; i < h->n_info; i++)
        fprintf(fp, "#info\t%s\t%s\n", h->info_key[i], h->info_val[i]);
    for (size_t i = 0; i < h->n_datasets; i++)
        fprintf(fp, "#dataset\t%zu\t%s\n", i, h->datasets[i]);
    for (size_t k = 0; k < h->n_labels; k++)
        for (size_t j = 0; j < h->labels[k].n; j++)
            fprintf(fp, "#label\t%s\t%zu\t%s\n", h->labels[k].name, j,
                    h->labels[k].terms[j]);
    for (size_t i = 0; i < h->n_genes; i++)
        fprintf(fp, "#gene\t%zu\t%s\n", i, h->genes[i]);
    return 0;
}

/* dump of a pack: its header (how it was made, its sources, labels and
 * genes) and its counts; its cells are read with run. */
static int dump_pack(struct args *a, const char *path)
{
    sc_pack *p = NULL;
    sc_atomic at = {0};
    FILE *fp = NULL;
    int rc;

    if ((rc = sc_pack_open(path, &p)) < 0 ||
        (rc = sc_io_atomic_open(a->output, &at, &fp)) < 0)
        goto out;
    const sc_pack_arrays *d = sc_pack_data(p);
    fprintf(fp,
            "#sc-pack\t%d\tcells=%" PRIu64 "\tentries=%" PRIu64
            "\tgenes=%zu\tdatasets=%zu\tentry_bytes=%" PRIu64 "\n",
            sc_pack_version(p), d->n_cells, d->nnz, sc_pack_header(p)->n_genes,
            sc_pack_header(p)->n_datasets, sc_pack_entry_bytes(p));
    dump_header(fp, sc_pack_header(p));
    if (ferror(fp))
        rc = sc_fail(SC_EIO, "cannot write the pack's header");
    rc = sc_io_atomic_finish(&at, rc);
out:
    sc_pack_close(p);
    return rc;
}

static int cmd_dump(struct args *a, sc_cli *cli)
{
    const char *path = cli->argc ? cli->argv[0] : "-";
    FILE *in;
    sc_batch_reader *r = NULL;
    sc_batch_writer *w = NULL;
    sc_batch b = SC_BATCH_INIT;
    sc_atomic at = {0};
    FILE *fp = NULL;
    int rc;

    if (cli->argc <= 1 && sc_obj_is_remote(path))
        return dump_pack(a, path); /* only packs are read from there */
    in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (cli->argc > 1) {
        if (in && in != stdin)
            fclose(in);
        return sc_fail(SC_EINVAL, "dump takes one input");
    }
    if (in && in != stdin && sc_pack_probe(path)) {
        fclose(in);
        return dump_pack(a, path);
    }
    if (!in)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if ((rc = sc_batch_reader_open(in, path, &r)) < 0 ||
        (rc = sc_io_atomic_open(a->output, &at, &fp)) < 0)
        goto out;
    if (a->header)
        dump_header(fp, sc_batch_reader_header(r));
    if ((rc = sc_batch_writer_open(fp, SC_BATCH_TEXT, sc_batch_reader_header(r),
                                   &w)) < 0)
        goto out;
    while ((rc = sc_batch_read(r, &b)) > 0)
        if ((rc = sc_batch_write(w, &b)) < 0)
            break;
    if (rc == 0)
        rc = sc_batch_writer_finish(w);
    if (rc == 0)
        rc = sc_io_atomic_commit(&at);
out:
    if (rc < 0)
        sc_io_atomic_abort(&at);
    sc_batch_writer_free(w);
    sc_batch_reader_free(r);
    sc_batch_release(&b);
    if (in != stdin)
        fclose(in);
    return rc;
}

/* split: the part of every dataset or cell, as a split file. */
static int cmd_split(struct args *a, sc_cli *cli)
{
    sc_manifest *mf = NULL;
    sc_stream_input *in = NULL;
    sc_stream *s = NULL;
    sc_atomic at = {0};
    FILE *fp = NULL;
    uint64_t counts[3] = {0, 0, 0};
    size_t n_in;
    int rc;

    if (!strcmp(a->output, "-") && isatty(STDOUT_FILENO))
        return sc_fail(SC_EINVAL, "split: give the output file with -o FILE");
    if ((rc = collect_inputs(a, cli, &mf, &in, &n_in)) < 0)
        goto out;
    a->so.inputs = in;
    a->so.n_inputs = n_in;
    a->so.split = SC_SPLIT_TRAIN;
    a->so.world_size = 1;
    a->so.rank = 0;
    /* the split is of all rows: no selection, which could leave none */
    a->so.n_filters = 0;
    a->so.min_genes = 0;
    if ((rc = sc_stream_open(&a->so, &s)) == SC_EINVAL &&
        !strcmp(sc_errmsg(), "no cell passes the selection")) {
        a->so.split = SC_SPLIT_TEST;
        rc = sc_stream_open(&a->so, &s);
    }
    if (rc < 0 || (rc = sc_io_atomic_open(a->output, &at, &fp)) < 0)
        goto out;
    rc = sc_stream_split_write(s, fp, counts);
    rc = sc_io_atomic_finish(&at, rc);
    if (rc == 0)
        sc_log_info("split: %" PRIu64 " train, %" PRIu64 " val, %" PRIu64
                    " test cells",
                    counts[0], counts[1], counts[2]);
out:
    sc_stream_close(s);
    free(in);
    sc_manifest_free(mf);
    return rc;
}

static void free_args(struct args *a)
{
    for (size_t i = 0; i < a->labels.n; i++)
        free((char *)a->labels.v[i]);
    for (size_t i = 0; i < a->weight_by.n; i++)
        free((char *)a->weight_by.v[i]);
    free(a->labels.v);
    free(a->weight_by.v);
    free(a->filters.v);
    for (size_t i = 0; i < a->n_genes; i++)
        free((char *)a->genes[i].organism);
    free(a->genes);
    for (size_t i = 0; i < a->n_vocabs; i++)
        free((char *)a->vocabs[i].column);
    free(a->vocabs);
}

typedef int stream_fn(struct args *a, sc_cli *cli);

/* Every command but dump reads datasets with -@ threads; pack also writes
 * provenance. */
#define THREADS (SC_CLI_CONFIG | SC_CLI_THREADS)

/* clang-format off: one line of --help per line */
static const sc_cmd commands[] = {
    {"run",
     "run [options] [<in.h5ad|in.scpack>...]\nWrite the batches of this rank's "
     "share of an epoch.",
     "(default) write the batches of this rank's share of an epoch", NULL,
     THREADS, 0, -1, SC_CMD_FN(cmd_run)},
    {"index",
     "index [options] [<in.h5ad>...]\nBuild the index cache and print one line "
     "per dataset.",
     "build the index cache and print one line per dataset", NULL, THREADS, 0,
     -1, SC_CMD_FN(cmd_index)},
    {"dump",
     "dump [options] [<batches>|<in.scpack>]\nPrint a binary batch stream "
     "(file or stdin), or a pack's header, as text.",
     "print a binary batch stream (file or stdin), or a pack's\nheader, as "
     "text",
     NULL, SC_CLI_CONFIG, 0, -1, SC_CMD_FN(cmd_dump)},
    {"pack",
     "pack [options] -o <out.scpack> [<in.h5ad>...]\nWrite the shuffled stream "
     "once as a pack (sc-pack(5)), which run then reads\nin place, faster than "
     "any h5ad.",
     "write the shuffled stream once as a pack (sc-pack(5)), which\nrun then "
     "reads in place, faster than any h5ad",
     NULL, SC_CLI_ALL, 0, -1, SC_CMD_FN(cmd_pack)},
    {"split",
     "split [options] -o FILE [<in.h5ad>...]\nWrite the train/val/test split "
     "of the datasets for --split-file.",
     "write the train/val/test split of the datasets (-o FILE) "
     "for\n--split-file",
     NULL, THREADS, 0, -1, SC_CMD_FN(cmd_split)},
};
/* clang-format on */

/* The checks and settings the options need before a command runs. */
static int prepare(struct args *a, sc_cli *cli, const sc_cmd *cmd, char *cache,
                   size_t size)
{
    int dump = cmd->fn == SC_CMD_FN(cmd_dump);
    int pack = cmd->fn == SC_CMD_FN(cmd_pack);

    if (!dump && cli->argc == 0 && !a->manifest && isatty(STDIN_FILENO))
        return sc_cli_usage_fail("no input: give h5ad files or a "
                                 "manifest (-m FILE, or on stdin)");
    for (int i = 0; !dump && i < cli->argc; i++)
        if (!strcmp(cli->argv[i], "-"))
            return sc_cli_usage_fail("HDF5 input needs a seekable "
                                     "file, not '-' (a manifest may "
                                     "come on stdin)");
    if (env_defaults(a) < 0) {
        sc_log_error("%s", sc_errmsg());
        return SC_EXIT_USAGE;
    }
    if (!a->no_cache) {
        if (a->cache_dir)
            a->so.cache_dir = a->cache_dir;
        else if (sc_stream_default_cache(cache, size) == 0)
            a->so.cache_dir = cache;
    }
    a->so.labels = a->labels.v;
    a->so.n_labels = a->labels.n;
    a->so.filters = a->filters.v;
    a->so.n_filters = a->filters.n;
    a->so.weight_cols = a->weight_by.v;
    a->so.n_weight_cols = a->weight_by.n;
    a->so.genes = a->genes;
    a->so.n_genes = a->n_genes;
    if (a->so.orthologs && a->n_genes == 0)
        return sc_cli_usage_fail("--orthologs needs a human gene list "
                                 "(--genes [human=]FILE)");
    a->so.vocabs = a->vocabs;
    a->so.threads = cli->threads;
    a->so.n_vocabs = a->n_vocabs;
    a->so.split_opts = &a->split;
    if (!pack && a->codec)
        return sc_cli_usage_fail("--codec is an option of pack");
    if (pack && pack_refuse(a) < 0)
        return SC_CLI_EUSAGE;
    return 0;
}

static int run(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    struct args *a = ud;
    sc_http_opts http = SC_HTTP_OPTS_INIT;
    char cache[4096];
    int rc;

    if ((rc = prepare(a, cli, cmd, cache, sizeof cache)) != 0)
        return rc;
    http.retries = 3;
    http.stall_time = 30;
    sc_pack_set_remote(&http, &a->objc);
    if ((rc = sc_http_global_init()) == 0) {
        rc = ((stream_fn *)cmd->fn)(a, cli);
        sc_http_global_cleanup();
    }
    return rc;
}

static const sc_tool tool = SC_TOOL(
    "sc-stream",
    "[<command>] [options] [<in.h5ad|in.scpack>...]\n"
    "Stream cells of many datasets as shuffled, weighted, sharded batches.",
    opts, on_option, commands, "run", run);

int main(int argc, char **argv)
{
    struct args a = {.output = "-",
                     .ring_fd = -1,
                     .ring_size = 256 << 20,
                     .objc = SC_OBJ_CACHE_OPTS_INIT};
    int rc;

    sc_stream_opts_init(&a.so);
    sc_split_opts_init(&a.split);
    rc = sc_cli_dispatch(&tool, argc, argv, &a);
    free_args(&a);
    return rc;
}
