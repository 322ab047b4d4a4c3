/* sc_split: train / validation / test splits (see sc_split.h). */
/* SPDX-License-Identifier: MIT */
#include "sc_split.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_cli.h"
#include "sc_io.h"
#include "sc_map.h"
#include "sc_sample.h"

/* The streams of the counter-based RNG (sc_rng_key) that splits use: apart
 * from sc_stream's (1-4). */
enum { RNG_SPLIT_CELL = 0x5350, RNG_SPLIT_DATASET = 0x5351 };

/* Rows [lo, hi] (inclusive), ascending and disjoint. */
typedef struct span {
    uint64_t lo, hi;
} span;

/* A dataset of a split file: the part of its rows not listed (star), and
 * the rows listed for val and test. */
typedef struct entry {
    char *key;
    int star;
    span *sp[2];
    size_t n[2], cap[2];
} entry;

struct sc_split {
    sc_split_opts o;
    int from_file;
    sc_strmap index; /* key -> part (by dataset) or entry (file) */
    char **keys;     /* owned keys of the index (by dataset) */
    size_t n_keys;
    entry *e;
    size_t n_e, cap_e;
};

static const char *const part_names[] = {"none", "train", "val", "test"};

void sc_split_opts_init(sc_split_opts *o)
{
    memset(o, 0, sizeof *o);
    o->by = SC_SPLIT_BY_CELL;
    o->frac[0] = 0.8;
    o->frac[1] = o->frac[2] = 0.1;
}

int sc_split_parse_part(const char *s)
{
    for (int p = SC_SPLIT_TRAIN; p <= SC_SPLIT_TEST; p++)
        if (!strcmp(s, part_names[p]))
            return p;
    if (!strcmp(s, "validation"))
        return SC_SPLIT_VAL;
    return sc_fail(SC_EINVAL, "unknown split '%s' (train, val, test)", s);
}

const char *sc_split_part_name(int part)
{
    return part >= SC_SPLIT_TRAIN && part <= SC_SPLIT_TEST ? part_names[part]
                                                           : "none";
}

int sc_split_parse_fractions(const char *s, double frac[3])
{
    double f[3] = {0, 0, 0}, sum = 0;
    size_t n = 0;
    const char *p = s;
    char tok[64];

    while (n < 3) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof tok)
            break;
        memcpy(tok, p, len);
        tok[len] = 0;
        if (sc_parse_double(tok, 0, 1, &f[n]) < 0)
            break;
        sum += f[n++];
        p += len;
        if (!*p)
            break;
        p++;
    }
    if (*p || (n == 3 && fabs(sum - 1) > 1e-6) || n < 2 || sum > 1 + 1e-6)
        return sc_fail(SC_EINVAL,
                       "bad split fractions '%s' (train,val[,test]: "
                       "from 0 to 1, summing to 1)",
                       s);
    if (n == 2)
        f[2] = sum < 1 ? 1 - sum : 0;
    memcpy(frac, f, sizeof f);
    return 0;
}

const char *sc_split_key(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int oom(void)
{
    return sc_fail(SC_ENOMEM, "out of memory");
}

static sc_split *split_new(const sc_split_opts *o)
{
    sc_split *sp = calloc(1, sizeof *sp);
    if (sp && o)
        sp->o = *o;
    else if (sp)
        sc_split_opts_init(&sp->o);
    return sp;
}

/* 53 random bits of (stream, x) under the seed, as a double in [0, 1). */
static double draw(const sc_split *sp, uint64_t stream, uint64_t x)
{
    uint64_t key = sc_rng_key(sp->o.seed, 0, stream);
    return (double)(sc_rng_at(key, x) >> 11) * 0x1.0p-53;
}

struct dorder {
    double u;
    size_t i;
    const char *key;
};

static int cmp_dorder(const void *a, const void *b)
{
    const struct dorder *x = a, *y = b;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    return strcmp(x->key, y->key);
}

int sc_split_plan(const sc_split_opts *o, const char *const *keys,
                  const uint64_t *cells, size_t n, sc_split **out)
{
    sc_split *sp = split_new(o);
    struct dorder *ord = NULL;
    int *part = NULL;
    int rc = 0;

    *out = NULL;
    if (!sp)
        return oom();
    if (o->by != SC_SPLIT_BY_DATASET) {
        *out = sp;
        return 0;
    }
    if (!(ord = calloc(n ? n : 1, sizeof *ord)) ||
        !(part = calloc(n ? n : 1, sizeof *part)) ||
        !(sp->keys = calloc(n ? n : 1, sizeof *sp->keys))) {
        rc = oom();
        goto out;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        ord[i].u = draw(sp, RNG_SPLIT_DATASET, sc_strhash(keys[i], 0));
        ord[i].i = i;
        ord[i].key = keys[i];
        part[i] = SC_SPLIT_TRAIN;
        total += cells[i];
    }
    qsort(ord, n, sizeof *ord, cmp_dorder);
    /* test, then val: take a dataset when it brings the part's share
     * closer to its fraction (acc + c/2 < target) */
    for (int p = SC_SPLIT_TEST; p >= SC_SPLIT_VAL; p--) {
        double target = o->frac[p - 1] * (double)total, acc = 0;
        for (size_t k = 0; k < n; k++) {
            size_t i = ord[k].i;
            if (part[i] != SC_SPLIT_TRAIN)
                continue;
            if (acc + (double)cells[i] / 2 < target) {
                part[i] = p;
                acc += (double)cells[i];
            }
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!(sp->keys[i] = strdup(keys[i]))) {
            rc = oom();
            break;
        }
        sp->n_keys = i + 1;
        if (sc_strmap_get(&sp->index, sp->keys[i]) >= 0)
            rc = sc_fail(SC_EINVAL,
                         "two datasets named '%s': a split by dataset "
                         "needs distinct file names",
                         keys[i]);
        else
            rc = sc_strmap_put(&sp->index, sp->keys[i], part[i]);
    }
out:
    free(ord);
    free(part);
    if (rc < 0)
        sc_split_free(sp);
    else
        *out = sp;
    return rc;
}

const sc_split_opts *sc_split_get_opts(const sc_split *sp)
{
    return &sp->o;
}

int sc_split_find(const sc_split *sp, const char *key, uint64_t *h)
{
    if (!sp->from_file && sp->o.by == SC_SPLIT_BY_CELL) {
        *h = sc_strhash(key, 0);
        return 0;
    }
    int64_t v = sc_strmap_get(&sp->index, key);
    if (v < 0)
        return sc_fail(SC_ENOTFOUND, "no dataset '%s' in the split", key);
    *h = (uint64_t)v;
    return 0;
}

static int in_spans(const span *s, size_t n, uint64_t row)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].hi < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && s[lo].lo <= row;
}

int sc_split_part(const sc_split *sp, uint64_t h, uint64_t row)
{
    if (sp->from_file) {
        const entry *e = &sp->e[h];
        if (in_spans(e->sp[0], e->n[0], row))
            return SC_SPLIT_VAL;
        if (in_spans(e->sp[1], e->n[1], row))
            return SC_SPLIT_TEST;
        return e->star;
    }
    if (sp->o.by == SC_SPLIT_BY_DATASET)
        return (int)h;
    double u = draw(sp, RNG_SPLIT_CELL, h ^ (row * 0x9e3779b97f4a7c15ULL));
    return u < sp->o.frac[0]                   ? SC_SPLIT_TRAIN
           : u < sp->o.frac[0] + sp->o.frac[1] ? SC_SPLIT_VAL
                                               : SC_SPLIT_TEST;
}

int sc_split_write_head(const sc_split *sp, FILE *fp)
{
    fprintf(fp,
            "#sc-split\t1\n#by\t%s\n#seed\t%" PRIu64
            "\n#fractions\t%.17g,%.17g,%.17g\n",
            sp->o.by == SC_SPLIT_BY_DATASET ? "dataset" : "cell", sp->o.seed,
            sp->o.frac[0], sp->o.frac[1], sp->o.frac[2]);
    return ferror(fp) ? sc_fail(SC_EIO, "cannot write the split") : 0;
}

int sc_split_write_dataset(const sc_split *sp, FILE *fp, const char *key,
                           const int64_t *rows, uint64_t n, uint64_t counts[3])
{
    uint64_t h;
    int rc;

    if ((rc = sc_split_find(sp, key, &h)) < 0)
        return rc;
    if (!sp->from_file && sp->o.by == SC_SPLIT_BY_DATASET) {
        int p = sc_split_part(sp, h, 0);
        counts[p - 1] += n;
        fprintf(fp, "%s\t%s\t*\n", key, part_names[p]);
        return ferror(fp) ? sc_fail(SC_EIO, "cannot write the split") : 0;
    }
    /* the rows not listed are train (or, from a file, its star part) */
    int star = sp->from_file ? sp->e[h].star : SC_SPLIT_TRAIN;
    fprintf(fp, "%s\t%s\t*\n", key, part_names[star]);
    for (int p = SC_SPLIT_TRAIN; p <= SC_SPLIT_TEST; p++) {
        int open = 0, listed = p != star;
        uint64_t lo = 0, last = 0;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t r = rows ? (uint64_t)rows[k] : k;
            if (sc_split_part(sp, h, r) != p)
                continue;
            counts[p - 1]++;
            if (!listed)
                continue;
            if (open && r == last + 1) {
                last = r;
                continue;
            }
            if (!open)
                fprintf(fp, "%s\t%s\t", key, part_names[p]);
            else if (lo == last)
                fprintf(fp, "%" PRIu64 ",", lo);
            else
                fprintf(fp, "%" PRIu64 "-%" PRIu64 ",", lo, last);
            open = 1;
            lo = last = r;
        }
        if (open && lo == last)
            fprintf(fp, "%" PRIu64 "\n", lo);
        else if (open)
            fprintf(fp, "%" PRIu64 "-%" PRIu64 "\n", lo, last);
    }
    return ferror(fp) ? sc_fail(SC_EIO, "cannot write the split") : 0;
}

/* Rows "3,7-9,12" (or "" for none) into E's list for PART. */
static int parse_rows(entry *e, int k, char *s)
{
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        int64_t lo, hi;
        if (dash)
            *dash = 0;
        if (sc_parse_int(tok, 0, INT64_MAX, &lo) < 0 ||
            (dash && sc_parse_int(dash + 1, 0, INT64_MAX, &hi) < 0))
            return SC_EFORMAT;
        if (!dash)
            hi = lo;
        if (hi < lo || (e->n[k] && (uint64_t)lo <= e->sp[k][e->n[k] - 1].hi))
            return SC_EFORMAT;
        if (e->n[k] == e->cap[k]) {
            size_t cap = e->cap[k] ? 2 * e->cap[k] : 64;
            span *v = realloc(e->sp[k], cap * sizeof *v);
            if (!v)
                return oom();
            e->sp[k] = v;
            e->cap[k] = cap;
        }
        e->sp[k][e->n[k]++] = (span){(uint64_t)lo, (uint64_t)hi};
    }
    return 0;
}

/* One line "KEY<TAB>PART<TAB>ROWS" of a split file. */
static int read_line(sc_split *sp, char *line)
{
    char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    int p, rc;
    if (!t2 || t1 == line)
        return SC_EFORMAT;
    *t1 = *t2 = 0;
    for (p = SC_SPLIT_TRAIN; p <= SC_SPLIT_TEST; p++)
        if (!strcmp(t1 + 1, part_names[p]))
            break;
    if (p > SC_SPLIT_TEST)
        return SC_EFORMAT;
    int64_t i = sc_strmap_get(&sp->index, line);
    if (i < 0) {
        if (sp->n_e == sp->cap_e) {
            size_t cap = sp->cap_e ? 2 * sp->cap_e : 64;
            entry *v = realloc(sp->e, cap * sizeof *v);
            if (!v)
                return oom();
            sp->e = v;
            sp->cap_e = cap;
        }
        entry *e = &sp->e[sp->n_e];
        memset(e, 0, sizeof *e);
        if (!(e->key = strdup(line)))
            return oom();
        i = (int64_t)sp->n_e++;
        /* the entries may move: the index keys are the entries' strings,
         * which do not */
        if ((rc = sc_strmap_put(&sp->index, e->key, i)) < 0)
            return rc;
    }
    entry *e = &sp->e[i];
    if (!strcmp(t2 + 1, "*")) {
        if (e->star)
            return SC_EFORMAT;
        e->star = p;
        return 0;
    }
    if (p == SC_SPLIT_TRAIN || e->n[p - 2])
        return SC_EFORMAT;
    return parse_rows(e, p - 2, t2 + 1);
}

int sc_split_read(const char *path, sc_split **out)
{
    sc_split *sp = split_new(NULL);
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int rc;

    *out = NULL;
    if (!sp)
        return oom();
    sp->from_file = 1;
    if ((rc = sc_lines_open(path, &l)) < 0)
        goto fail;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        long no = sc_lines_lineno(l);
        const char *what = NULL;
        if (no == 1) {
            if (strcmp(line, "#sc-split\t1")) {
                rc = sc_fail(SC_EFORMAT,
                             "'%s': not a split file (sc-stream "
                             "split)",
                             path);
                goto fail;
            }
            continue;
        }
        if (line[0] == '#') {
            char *tab = strchr(line, '\t');
            if (tab && !strncmp(line, "#by\t", 4))
                sp->o.by = !strcmp(tab + 1, "dataset") ? SC_SPLIT_BY_DATASET
                                                       : SC_SPLIT_BY_CELL;
            else if (tab && !strncmp(line, "#seed\t", 6)) {
                int64_t v;
                if (sc_parse_int(tab + 1, 0, INT64_MAX, &v) < 0)
                    what = "bad seed";
                sp->o.seed = (uint64_t)v;
            } else if (tab && !strncmp(line, "#fractions\t", 11) &&
                       sc_split_parse_fractions(tab + 1, sp->o.frac) < 0)
                what = "bad fractions";
        } else if (len && (rc = read_line(sp, line)) < 0) {
            if (rc == SC_ENOMEM)
                goto fail;
            what = "expected DATASET<TAB>train|val|test<TAB>* or rows "
                   "(ascending a,b-c,...), one * per dataset";
        }
        if (what) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: %s", path, no, what);
            goto fail;
        }
    }
    if (rc < 0)
        goto fail;
    if (sc_lines_lineno(l) == 0) {
        rc = sc_fail(SC_EFORMAT, "'%s': empty split file", path);
        goto fail;
    }
    for (size_t i = 0; i < sp->n_e; i++)
        if (!sp->e[i].star) {
            rc = sc_fail(SC_EFORMAT, "'%s': dataset '%s' has no '*' line", path,
                         sp->e[i].key);
            goto fail;
        }
    sc_lines_close(l);
    *out = sp;
    return 0;
fail:
    sc_lines_close(l);
    sc_split_free(sp);
    return rc;
}

void sc_split_free(sc_split *sp)
{
    if (!sp)
        return;
    sc_strmap_release(&sp->index);
    for (size_t i = 0; i < sp->n_keys; i++)
        free(sp->keys[i]);
    free(sp->keys);
    for (size_t i = 0; i < sp->n_e; i++) {
        free(sp->e[i].key);
        free(sp->e[i].sp[0]);
        free(sp->e[i].sp[1]);
    }
    free(sp->e);
    free(sp);
}
