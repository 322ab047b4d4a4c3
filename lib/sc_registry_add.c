/* sc_registry_add: registering datasets (gene sets, terms, steps, version
 * chains) and reading artifacts back. */
/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_hash.h"
#include "sc_registry_int.h"

/* ---- registering ---- */

static int is_sha256(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting thousands of gene names for every dataset took a tenth of a
 * registration, so a set is found by an order-free key instead: the number
 * of distinct genes and two sums of 64-bit hashes of each distinct name
 * (duplicates dropped through a small hash table). Only a new set is
 * sorted, to be stored. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int geneset_key(const char *const *genes, size_t n, char key[64])
{
    size_t cap = 16, k = 0;
    uint64_t *tab, s1 = 0, s2 = 0;

    while (cap < 2 * n)
        cap <<= 1;
    if (!(tab = calloc(cap, sizeof *tab)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t h1 = fnv1a(genes[i], 14695981039346656037ULL) | 1;
        size_t j = (size_t)(mix64(h1) & (cap - 1));
        while (tab[j] && tab[j] != h1)
            j = (j + 1) & (cap - 1);
        if (tab[j] == h1)
            continue;
        tab[j] = h1;
        s1 += h1;
        s2 += mix64(fnv1a(genes[i], 0x9e3779b97f4a7c15ULL));
        k++;
    }
    free(tab);
    snprintf(key, 64, "%016" PRIx64 "%016" PRIx64 "-%zu", s1, s2, k);
    return 0;
}

/* GENES sorted and without duplicates, in a new array *OUT of *ND. */
static int sorted_distinct(const char *const *genes, size_t n,
                           const char ***out, size_t *nd)
{
    const char **s;
    size_t k = 0;

    if (!(s = malloc((n ? n : 1) * sizeof *s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy(s, genes, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_strp);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(s[k - 1], s[i]))
            s[k++] = s[i];
    *out = s;
    *nd = k;
    return 0;
}

static int add_geneset(sc_registry *reg, const sc_reg_dataset *d, int64_t *gid)
{
    char hex[SC_HASH_HEX_SIZE];
    const char **genes = NULL;
    sc_rst *st = NULL;
    size_t n = 0;
    int rc;

    *gid = 0;
    if (!d->n_genes)
        return 0;
    if ((rc = geneset_key(d->genes, d->n_genes, hex)) < 0)
        return rc;
    if ((rc = rg_prepare(reg, "SELECT id FROM geneset WHERE key = ?", &st)) < 0)
        goto out;
    st_text(st, 1, hex);
    if ((rc = rg_step_int(reg, st, gid)) != 0)
        goto out; /* known (1), or an error */
    st_free(st);
    st = NULL;
    if ((rc = sorted_distinct(d->genes, d->n_genes, &genes, &n)) < 0)
        goto out;
    /* a writer that made the same set meanwhile (PostgreSQL) is waited
     * for, and its set used */
    if ((rc = rg_prepare(reg,
                         "INSERT INTO geneset(key, n_genes) VALUES (?, ?)"
                         " ON CONFLICT(key) DO NOTHING RETURNING id",
                         &st)) < 0)
        goto out;
    st_text(st, 1, hex);
    st_int(st, 2, (int64_t)n);
    if ((rc = rg_step_int(reg, st, gid)) < 0)
        goto out;
    st_free(st);
    st = NULL;
    if (rc == 0) {
        if ((rc = rg_prepare(reg, "SELECT id FROM geneset WHERE key = ?",
                             &st)) < 0)
            goto out;
        st_text(st, 1, hex);
        rc = rg_step_int(reg, st, gid);
        rc = rc == 0 ? sc_fail(SC_EREGISTRY, "gene set %s vanished", hex) : rc;
        goto out;
    }
    if ((rc = rg_prepare(reg, "INSERT INTO geneset_gene VALUES (?, ?)", &st)) <
        0)
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        st_int(st, 1, *gid);
        st_text(st, 2, genes[i]);
        rc = rg_step_done(reg, st, "gene set genes");
        st_reset(st);
    }
out:
    if (rc > 0)
        rc = 0;
    st_free(st);
    free(genes);
    return rc;
}

static int add_terms(sc_registry *reg, int64_t id, const sc_reg_dataset *d)
{
    sc_rst *st;
    int rc;

    if (!d->n_terms)
        return 0;
    if ((rc = rg_prepare(reg,
                         "INSERT INTO artifact_term VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT(artifact_id, field, term) DO UPDATE SET"
                         " n_cells = artifact_term.n_cells + excluded.n_cells",
                         &st)) < 0)
        return rc;
    for (size_t i = 0; i < d->n_terms && rc == 0; i++) {
        const sc_reg_term *t = &d->terms[i];
        st_int(st, 1, id);
        st_text(st, 2, t->field);
        st_text(st, 3, t->term);
        st_text(st, 4, t->label && *t->label ? t->label : NULL);
        st_int(st, 5, t->n_cells);
        rc = rg_step_done(reg, st, "terms");
        st_reset(st);
    }
    st_free(st);
    return rc;
}

int rg_transform_id(sc_registry *reg, const char *tool, const char *version,
                    int64_t *id)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg,
                         "INSERT INTO transform(name, version) VALUES (?1, ?2)"
                         " ON CONFLICT(name, version) DO UPDATE"
                         " SET name = excluded.name RETURNING id",
                         &st)) < 0)
        return rc;
    st_text(st, 1, tool);
    st_text(st, 2, version && *version ? version : "unknown");
    rc = rg_step_int(reg, st, id);
    st_free(st);
    return rc < 0 ? rc : 0;
}

int rg_link_io(sc_registry *reg, int64_t run, int output, int kind,
               const char *ref, int64_t version)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg,
                         "INSERT INTO run_io VALUES (?,?,?,?,?)"
                         " ON CONFLICT DO NOTHING",
                         &st)) < 0)
        return rc;
    st_int(st, 1, run);
    st_int(st, 2, output);
    st_int(st, 3, kind);
    st_text(st, 4, ref);
    if (version)
        st_int(st, 5, version);
    else
        st_text(st, 5, NULL);
    rc = rg_step_done(reg, st, "run inputs and outputs");
    st_free(st);
    return rc;
}

/* A run is recorded once however many files carry its step: its key is
 * the hash of what identifies it. */
static int add_step(sc_registry *reg, const sc_reg_step *s, const char *out)
{
    char key[SC_HASH_HEX_SIZE];
    sc_hash *h = NULL;
    sc_rst *st = NULL;
    int64_t tid, run = 0;
    const char *parts[5] = {s->tool, s->version, s->arguments, s->time, out};
    int rc;

    if ((rc = sc_hash_new(&h)) < 0)
        return rc;
    for (int i = 0; i < 5 && rc == 0; i++) {
        const char *p = parts[i] ? parts[i] : "";
        rc = sc_hash_update(h, p, strlen(p) + 1);
    }
    for (size_t i = 0; i < s->n_inputs && rc == 0; i++)
        rc = sc_hash_update(h, s->inputs[i], strlen(s->inputs[i]) + 1);
    if (rc == 0)
        rc = sc_hash_final(h, key);
    sc_hash_free(h);
    if (rc < 0 || (rc = rg_transform_id(reg, s->tool, s->version, &tid)) < 0)
        return rc;
    if ((rc = rg_prepare(
             reg,
             "INSERT INTO run(transform_id, key, arguments,"
             " host, started, finished, status)"
             " VALUES (?, ?, ?, ?, ?, ?, 'ok') ON CONFLICT DO NOTHING"
             " RETURNING id",
             &st)) < 0)
        return rc;
    st_int(st, 1, tid);
    st_text(st, 2, key);
    st_text(st, 3, s->arguments);
    st_text(st, 4, s->host);
    st_text(st, 5, s->time);
    st_text(st, 6, s->time);
    rc = rg_step_int(reg, st, &run);
    st_free(st);
    if (rc <= 0)
        return rc; /* known already (0), or an error */
    for (size_t i = 0; i < s->n_inputs && rc >= 0; i++)
        rc = rg_link_io(reg, run, 0, is_sha256(s->inputs[i]) ? 0 : 1,
                        s->inputs[i], 0);
    if (rc >= 0)
        rc = rg_link_io(reg, run, 1, 0, out, 0);
    return rc < 0 ? rc : 0;
}

/* The latest artifact at (ROOT, REL): *PREV and *VERSION, or 0. */
static int find_latest_at(sc_registry *reg, int64_t root, const char *rel,
                          int64_t *prev, int64_t *version)
{
    sc_rst *st;
    int rc;

    *prev = *version = 0;
    if ((rc = rg_prepare(reg,
                         "SELECT id, version FROM artifact a WHERE path = ?1"
                         " AND storage_id IS NOT DISTINCT FROM ?2 AND NOT "
                         "EXISTS (SELECT 1 FROM"
                         " artifact b WHERE b.previous_id = a.id)"
                         " ORDER BY id DESC LIMIT 1",
                         &st)) < 0)
        return rc;
    st_text(st, 1, rel);
    if (root)
        st_int(st, 2, root);
    else
        st_text(st, 2, NULL);
    rc = st_step(st);
    if (rc == ST_ROW) {
        *prev = st_col_int(st, 0);
        *version = st_col_int(st, 1);
        rc = 0;
    } else {
        rc = rc == ST_DONE ? 0 : rg_db_fail(reg, "version chain");
    }
    st_free(st);
    return rc;
}

/* Writers of new versions at one path take turns: the next version's
 * number and its previous one are read and written under this lock (a
 * PostgreSQL transaction-scoped advisory lock; SQLite's BEGIN IMMEDIATE
 * has locked the file already). */
static int lock_path(sc_registry *reg, int64_t root, const char *rel)
{
    sc_rst *st;
    char *key;
    size_t n;
    int rc;

    if (!reg->ops->lock_path)
        return 0;
    n = strlen(rel) + 32;
    if (!(key = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(key, n, "%" PRId64 ":%s", root, rel);
    if ((rc = rg_prepare(reg, reg->ops->lock_path, &st)) == 0) {
        st_text(st, 1, key);
        rc = rg_step_done(reg, st, "lock the path");
        st_free(st);
    }
    free(key);
    return rc;
}

static int add_once(sc_registry *reg, const sc_reg_dataset *d, const char *abs,
                    int64_t *id, int *status)
{
    sc_rst *st = NULL;
    int64_t root, prev, version, gid;
    const char *rel;
    int rc;

    if ((rc = rg_begin(reg)) < 0)
        return rc;
    if ((rc = rg_prepare(reg, "SELECT id FROM artifact WHERE sha256 = ?",
                         &st)) < 0)
        goto fail;
    st_text(st, 1, d->sha256);
    rc = rg_step_int(reg, st, id);
    st_free(st);
    st = NULL;
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        *status = SC_REG_KNOWN;
        rg_rollback(reg);
        return 0;
    }
    if ((rc = rg_split_root(reg, abs, &root, &rel)) < 0 ||
        (rc = lock_path(reg, root, rel)) < 0 ||
        (rc = find_latest_at(reg, root, rel, &prev, &version)) < 0 ||
        (rc = add_geneset(reg, d, &gid)) < 0)
        goto fail;
    if ((rc = rg_prepare(reg,
                         "INSERT INTO artifact(sha256, size, mtime, format,"
                         " n_obs, n_vars, organism, assay, schema_version,"
                         " storage_id, path, geneset_id, created, version,"
                         " previous_id) VALUES"
                         " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                         " ON CONFLICT(sha256) DO NOTHING RETURNING id",
                         &st)) < 0)
        goto fail;
    st_text(st, 1, d->sha256);
    st_int(st, 2, d->size);
    st_int(st, 3, d->mtime);
    st_text(st, 4, d->format ? d->format : "file");
    if (d->n_obs || d->n_vars) {
        st_int(st, 5, d->n_obs);
        st_int(st, 6, d->n_vars);
    }
    st_text(st, 7, d->organism);
    st_text(st, 8, d->assay);
    st_text(st, 9, d->schema_version);
    if (root)
        st_int(st, 10, root);
    st_text(st, 11, rel);
    if (gid)
        st_int(st, 12, gid);
    st_int(st, 13, (int64_t)time(NULL));
    st_int(st, 14, version + 1);
    if (prev)
        st_int(st, 15, prev);
    rc = rg_step_int(reg, st, id);
    st_free(st);
    st = NULL;
    if (rc == 0) {
        /* another writer registered that content meanwhile (PostgreSQL
         * waited for it to commit): it is known */
        rg_rollback(reg);
        if ((rc = rg_prepare(reg, "SELECT id FROM artifact WHERE sha256 = ?",
                             &st)) < 0)
            return rc;
        st_text(st, 1, d->sha256);
        rc = rg_step_int(reg, st, id);
        st_free(st);
        if (rc < 0)
            return rc;
        *status = SC_REG_KNOWN;
        return 0;
    }
    if (rc < 0)
        goto fail;
    if ((rc = add_terms(reg, *id, d)) < 0)
        goto fail;
    for (size_t i = 0; i < d->n_steps; i++) {
        const sc_reg_step *s = &d->steps[i];
        const char *out = s->output_sha256 ? s->output_sha256 : d->sha256;
        if (is_sha256(out) && (rc = add_step(reg, s, out)) < 0)
            goto fail;
    }
    if ((rc = rg_commit(reg)) < 0)
        goto fail;
    *status = prev ? SC_REG_VERSION : SC_REG_NEW;
    return 0;
fail:
    st_free(st);
    rg_rollback(reg);
    return rc;
}

int sc_registry_add(sc_registry *reg, const sc_reg_dataset *d, int64_t *id,
                    int *status)
{
    char *abs = NULL;
    int rc;

    *id = 0;
    *status = SC_REG_NEW;
    if (!is_sha256(d->sha256))
        return sc_fail(SC_EINVAL, "'%s': bad sha256 '%s'", d->path,
                       d->sha256 ? d->sha256 : "");
    if ((rc = rg_abs_path(d->path, &abs)) < 0)
        return rc;
    for (int i = 0;; i++) {
        reg->busy = 0;
        rc = add_once(reg, d, abs, id, status);
        if (rc == 0 || !reg->busy || i >= 20)
            break;
        rg_backoff(i);
    }
    free(abs);
    return rc < 0 ? sc_fail_ctx(rc, "'%s'", d->path) : 0;
}

/* ---- artifacts ---- */

static void read_artifact(sc_registry *reg, sc_rst *st, sc_reg_artifact *a)
{
    memset(a, 0, sizeof *a);
    a->id = st_col_int(st, 0);
    a->sha256 = st_col_text(st, 1);
    a->path = st_col_text(st, 2);
    a->format = st_col_text(st, 3);
    a->size = st_col_int(st, 4);
    a->mtime = st_col_int(st, 5);
    a->n_obs = st_col_int(st, 6);
    a->n_vars = st_col_int(st, 7);
    a->organism = st_col_text(st, 8);
    a->assay = st_col_text(st, 9);
    a->schema_version = st_col_text(st, 10);
    a->created = st_col_int(st, 11);
    a->version = st_col_int(st, 12);
    a->previous = st_col_int(st, 13);
    a->latest = (int)st_col_int(st, 14);
    a->n_match = a->n_obs;
    a->weight = 1;
}

/* Step ST, calling FN for each artifact row; extra columns: N_MATCH at
 * column 15 and WEIGHT at 16 when EXTRA says so. */
int rg_each_artifact(sc_registry *reg, sc_rst *st, int extra,
                     sc_reg_artifact_fn fn, void *ud, int64_t *count)
{
    sc_reg_artifact a;
    int rc;

    while ((rc = st_step(st)) == ST_ROW) {
        read_artifact(reg, st, &a);
        if (extra & 1)
            a.n_match = st_col_int(st, 15);
        if (extra & 2)
            a.weight = st_col_double(st, 16);
        if (count)
            ++*count;
        if ((rc = fn(&a, ud)) != 0)
            return rc;
    }
    return rc == ST_DONE ? 0 : rg_db_fail(reg, "query");
}

int sc_registry_get(sc_registry *reg, int64_t id, sc_reg_artifact_fn fn,
                    void *ud)
{
    sc_rst *st;
    int64_t n = 0;
    int rc;

    if ((rc = rg_prepare(
             reg, "SELECT " ARTIFACT_COLS ARTIFACT_FROM " WHERE a.id = ?",
             &st)) < 0)
        return rc;
    st_int(st, 1, id);
    rc = rg_each_artifact(reg, st, 0, fn, ud, &n);
    st_free(st);
    if (rc == 0 && n == 0)
        rc = sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, id);
    return rc;
}

static int is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

int sc_registry_resolve(sc_registry *reg, const char *ref, int64_t *id)
{
    sc_rst *st = NULL;
    char *abs = NULL, *like = NULL;
    const char *rel;
    int64_t root, v;
    int rc, n = 0;

    *id = 0;
    if (!*ref)
        return sc_fail(SC_EINVAL, "empty artifact reference");
    if (strspn(ref, "0123456789") == strlen(ref) && strlen(ref) < 6) {
        if ((rc = rg_prepare(reg, "SELECT id FROM artifact WHERE id = ?",
                             &st)) < 0)
            return rc;
        st_int(st, 1, strtoll(ref, NULL, 10));
        rc = rg_step_int(reg, st, id);
        st_free(st);
        if (rc < 0)
            return rc;
        return rc ? 0 : sc_fail(SC_ENOTFOUND, "no artifact %s", ref);
    }
    if (strlen(ref) >= 6 && strlen(ref) <= 64 && is_hex(ref)) {
        if (!(like = malloc(strlen(ref) + 2)))
            return sc_fail(SC_ENOMEM, "out of memory");
        /* [prefix, prefix with its last digit raised): the index's range */
        strcpy(like, ref);
        like[strlen(like) - 1]++;
        if ((rc = rg_prepare(reg,
                             "SELECT id FROM artifact WHERE sha256 >= ?"
                             " AND sha256 < ? LIMIT 2",
                             &st)) < 0) {
            free(like);
            return rc;
        }
        st_text(st, 1, ref);
        st_text(st, 2, like);
        while ((rc = rg_step_int(reg, st, &v)) == 1)
            if (n++ == 0)
                *id = v;
        st_free(st);
        free(like);
        if (rc < 0)
            return rc;
        if (n > 1)
            return sc_fail(SC_EINVAL,
                           "'%s' is ambiguous: several artifacts'"
                           " sha256 start with it",
                           ref);
        if (n == 1)
            return 0;
    }
    if (rg_abs_path(ref, &abs) < 0)
        return sc_fail(SC_ENOTFOUND, "no artifact '%s'", ref);
    if ((rc = rg_split_root(reg, abs, &root, &rel)) == 0 &&
        (rc = find_latest_at(reg, root, rel, id, &v)) == 0 && !*id)
        rc = sc_fail(SC_ENOTFOUND, "no artifact '%s'", ref);
    free(abs);
    return rc;
}

int sc_registry_terms(sc_registry *reg, int64_t id,
                      int (*fn)(const char *field, const char *term,
                                const char *label, int64_t n_cells, void *ud),
                      void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg,
                         "SELECT field, term, label, n_cells FROM artifact_term"
                         " WHERE artifact_id = ? ORDER BY field, n_cells DESC,"
                         " term",
                         &st)) < 0)
        return rc;
    st_int(st, 1, id);
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_text(st, 0), st_col_text(st, 1), st_col_text(st, 2),
                st_col_int(st, 3), ud);
    rc = rg_step_end(reg, st, rc, s);
    return rc;
}

int sc_registry_geneset(sc_registry *reg, int64_t id, int64_t *geneset,
                        int64_t *n_genes)
{
    sc_rst *st;
    int rc;

    *geneset = *n_genes = 0;
    if ((rc = rg_prepare(reg,
                         "SELECT g.id, g.n_genes FROM artifact a JOIN geneset g"
                         " ON g.id = a.geneset_id WHERE a.id = ?",
                         &st)) < 0)
        return rc;
    st_int(st, 1, id);
    if ((rc = st_step(st)) == ST_ROW) {
        *geneset = st_col_int(st, 0);
        *n_genes = st_col_int(st, 1);
        rc = 0;
    } else {
        rc = rc == ST_DONE ? 0 : rg_db_fail(reg, "gene set");
    }
    st_free(st);
    return rc;
}
