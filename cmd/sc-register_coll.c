/* sc-register collections, runs and verify. */
/* SPDX-License-Identifier: MIT */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_hash.h"
#include "sc_log.h"
#include "sc_objstore.h"
#include "sc_manifest.h"
#include "sc_split.h"

#include "sc-register.h"

/* ---- collections ---- */

struct idlist {
    int64_t *ids;
    double *w;
    size_t n, cap;
};

static int idlist_push(struct idlist *l, int64_t id, double w)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *ids = realloc(l->ids, cap * sizeof *ids);
        double *ww;
        if (!ids)
            return sc_fail(SC_ENOMEM, "out of memory");
        l->ids = ids;
        if (!(ww = realloc(l->w, cap * sizeof *ww)))
            return sc_fail(SC_ENOMEM, "out of memory");
        l->w = ww;
        l->cap = cap;
    }
    l->ids[l->n] = id;
    l->w[l->n++] = w;
    return 0;
}

static void idlist_release(struct idlist *l)
{
    free(l->ids);
    free(l->w);
}

struct pick {
    struct idlist *l;
    double w;
};

static int pick_artifact(const sc_reg_artifact *x, void *ud)
{
    struct pick *p = ud;
    return idlist_push(p->l, x->id, p->w);
}

/* The artifacts a collection add/remove names: its operands, the rows of
 * a manifest on stdin (by sha256, id or path; a weight column counts),
 * or the query of the filter options. */
static int collect_ids(struct args *a, sc_registry *reg, int argc, char **argv,
                       struct idlist *l)
{
    struct pick p = {l, a->weight};
    int64_t id;
    int rc = 0;

    if (a->n_terms || a->n_genes || a->min_cells || a->transform || a->since ||
        a->until || a->format) {
        struct query q;
        if ((rc = query_build(a, &q)) == 0)
            rc = sc_registry_query(reg, &q.q, pick_artifact, &p);
        query_release(&q);
        if (rc < 0)
            return rc;
        /* a query that matches nothing is that, never a cue to read stdin */
        if (l->n == 0 && argc == 0)
            return sc_fail(SC_ENOTFOUND,
                           "collection: the filters match no artifact");
    }
    for (int i = 0; i < argc && rc == 0; i++)
        if ((rc = sc_registry_resolve(reg, argv[i], &id)) == 0)
            rc = idlist_push(l, id, a->weight);
    if (rc == 0 && argc == 0 && l->n == 0) {
        sc_manifest *m = NULL;
        sc_mrow *row = NULL;
        if (isatty(STDIN_FILENO))
            return usage_fail("collection: no artifacts given "
                              "(IDs, filters or a manifest)");
        if ((rc = sc_manifest_open("-", &m)) < 0)
            return rc;
        while (rc == 0 && (rc = sc_manifest_next(m, &row)) > 0) {
            const char *s = sc_mrow_get(row, SC_MCOL_SHA256);
            const char *i = sc_mrow_get(row, SC_MCOL_ID);
            const char *w = sc_mrow_get(row, SC_MCOL_WEIGHT);
            double wt = a->weight;
            rc = sc_registry_resolve(reg,
                                     s && *s   ? s
                                     : i && *i ? i
                                               : sc_mrow_path(row),
                                     &id);
            if (rc == 0 && w && *w && !a->has_weight)
                rc = sc_parse_double(w, 0, 1e300, &wt);
            if (rc == 0)
                rc = idlist_push(l, id, wt);
            else
                rc = sc_fail_ctx(rc, "'%s' line %ld", sc_manifest_name(m),
                                 sc_mrow_lineno(row));
            sc_mrow_free(row);
        }
        sc_manifest_free(m);
    }
    return rc < 0 ? rc : 0;
}

struct members {
    int64_t *id;
    double *w;
    char **path;
    size_t n, cap;
};

static int member_add(const sc_reg_artifact *x, void *ud)
{
    struct members *m = ud;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        int64_t *id = realloc(m->id, cap * sizeof *id);
        if (id)
            m->id = id;
        double *w = id ? realloc(m->w, cap * sizeof *w) : NULL;
        if (w)
            m->w = w;
        char **p = w ? realloc(m->path, cap * sizeof *p) : NULL;
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        m->path = p;
        m->cap = cap;
    }
    m->id[m->n] = x->id;
    m->w[m->n] = x->weight;
    if (!(m->path[m->n] = strdup(x->path)))
        return sc_fail(SC_ENOMEM, "out of memory");
    m->n++;
    return 0;
}

static void members_release(struct members *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->path[i]);
    free(m->id);
    free(m->w);
    free(m->path);
}

/* ---- derived members ---- */

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Sort and deduplicate V (N ids): the new count. */
static size_t id_set(int64_t *v, size_t n)
{
    size_t k = 0;

    qsort(v, n, sizeof *v, cmp_id);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    return k;
}

static int id_in(const int64_t *set, size_t n, int64_t id)
{
    return bsearch(&id, set, n, sizeof *set, cmp_id) != NULL;
}

struct derive {
    const int64_t *all, *added; /* sorted sets */
    size_t n_all, n_added;
    int64_t self, anc;
    int self_added;
    char *self_path, *anc_path;
};

/* A node of the upstream walk of member SELF: an artifact of the set (one
 * of the pair being added) stops the walk (1). */
static int derive_node(const sc_reg_node *x, void *ud)
{
    struct derive *d = ud;

    if (x->depth == 0) {
        free(d->self_path);
        if (!(d->self_path = strdup(x->label)))
            return sc_fail(SC_ENOMEM, "out of memory");
        return 0;
    }
    if (x->kind != SC_REG_NODE_ARTIFACT || x->id == d->self ||
        !id_in(d->all, d->n_all, x->id) ||
        (!d->self_added && !id_in(d->added, d->n_added, x->id)))
        return 0;
    d->anc = x->id;
    if (!(d->anc_path = strdup(x->label)))
        return sc_fail(SC_ENOMEM, "out of memory");
    return 1;
}

/* Refuse to add IDS (N) to collection NAME when one of them and another
 * artifact of the set (IDS and the present members) derive one from the
 * other (a harmonized copy and its download): the same cells would be in
 * it twice. Pairs of present members alone are left as they are. */
static int check_derived(sc_registry *reg, const char *name, const int64_t *ids,
                         size_t n)
{
    struct members m = {0};
    struct derive d = {0};
    int64_t *all = NULL, *added = NULL;
    int rc;

    if ((rc = sc_registry_collection_draft(reg, name, member_add, &m)) < 0)
        goto out;
    if (!(all = malloc((m.n + n + 1) * sizeof *all)) ||
        !(added = malloc((n + 1) * sizeof *added))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (n) {
        memcpy(all, ids, n * sizeof *all);
        memcpy(added, ids, n * sizeof *added);
    }
    if (m.n)
        memcpy(all + n, m.id, m.n * sizeof *all);
    d.all = all;
    d.n_all = id_set(all, m.n + n);
    d.added = added;
    d.n_added = id_set(added, n);
    /* every member is walked: a present one may derive from a new one */
    for (size_t i = 0; i < d.n_all && d.n_all > 1 && rc == 0; i++) {
        d.self = all[i];
        d.self_added = id_in(added, d.n_added, all[i]);
        rc = sc_registry_lineage(reg, all[i], 0, 0, derive_node, &d);
    }
    if (rc > 0)
        rc = sc_fail(SC_EREJECT,
                     "collection '%s': '%s' (artifact %" PRId64
                     ") derives from '%s' (artifact %" PRId64
                     "): the same cells twice; add one of them, or "
                     "--allow-derived",
                     name, d.self_path, d.self, d.anc_path, d.anc);
out:
    members_release(&m);
    free(all);
    free(added);
    free(d.self_path);
    free(d.anc_path);
    return rc;
}

/* Members are listed by artifact id, so a merge finds the difference. */
static int coll_diff(sc_registry *reg, const char *ra, const char *rb, FILE *fp)
{
    struct members x = {0}, y = {0};
    int64_t va, vb;
    size_t i = 0, j = 0;
    int rc;

    if ((rc = sc_registry_collection_version(reg, ra, &va)) < 0 ||
        (rc = sc_registry_collection_version(reg, rb, &vb)) < 0 ||
        (rc = sc_registry_collection_members(reg, va, member_add, &x)) < 0 ||
        (rc = sc_registry_collection_members(reg, vb, member_add, &y)) < 0)
        goto out;
    while (i < x.n || j < y.n) {
        if (j >= y.n || (i < x.n && x.id[i] < y.id[j])) {
            fprintf(fp, "-\t%" PRId64 "\t%s\n", x.id[i], x.path[i]);
            i++;
        } else if (i >= x.n || y.id[j] < x.id[i]) {
            fprintf(fp, "+\t%" PRId64 "\t%s\n", y.id[j], y.path[j]);
            j++;
        } else {
            if (x.w[i] != y.w[j])
                fprintf(fp, "~\t%" PRId64 "\t%s\tweight %.10g -> %.10g\n",
                        x.id[i], x.path[i], x.w[i], y.w[j]);
            i++;
            j++;
        }
    }
out:
    members_release(&x);
    members_release(&y);
    return rc;
}

static int list_row(const char *name, int64_t versions, int64_t members,
                    const char *description, void *ud)
{
    fprintf(ud, "%s\t%" PRId64 "\t%" PRId64 "\t%s\n", name, versions, members,
            description);
    return 0;
}

/* ---- split files ---- */

/* The largest split file kept in the registry (by cell it lists the rows of
 * val and test: a few bytes per cell). */
#define SPLIT_MAX (256u << 20)

/* The bytes of text file PATH into *BUF (NUL-terminated, caller frees) and
 * *LEN. */
static int read_text(const char *path, char **buf, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap), *nb;
    ssize_t got = 1;
    int fd, rc = 0;

    *buf = NULL;
    *len = 0;
    if (!b)
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((fd = sc_io_open_regular(path, O_RDONLY, 0)) < 0) {
        free(b);
        return fd;
    }
    while (rc == 0 && got > 0) {
        if (n + 1 == cap) {
            if (cap > SPLIT_MAX) {
                rc = sc_fail(SC_EINVAL, "'%s': larger than %u MiB", path,
                             SPLIT_MAX >> 20);
                break;
            }
            if (!(nb = realloc(b, cap *= 2))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
            b = nb;
        }
        if ((got = read(fd, b + n, cap - 1 - n)) < 0)
            rc = sc_fail(SC_EIO, "cannot read '%s': %s", path, strerror(errno));
        else
            n += (size_t)got;
    }
    close(fd);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

struct split_check {
    const sc_split *sp;
    const char *file, *ref;
};

/* Every member of the version is a dataset the split names. */
static int split_member(const sc_reg_artifact *x, void *ud)
{
    struct split_check *c = ud;
    const char *key = sc_split_key(x->path);
    uint64_t h;

    if (sc_split_find(c->sp, key, &h) < 0)
        return sc_fail(SC_EINVAL,
                       "'%s' does not name dataset '%s' of %s: a split of "
                       "another collection?",
                       c->file, key, c->ref);
    return 0;
}

/* collection split REF FILE: keep split file FILE with frozen version REF,
 * once its datasets are the version's; print its sha256. */
static int coll_split(sc_registry *reg, const char *ref, const char *file,
                      FILE *fp)
{
    struct split_check c = {NULL, file, ref};
    char *buf = NULL, *again = NULL, sha[65];
    size_t n = 0, n2 = 0;
    sc_split *sp = NULL;
    int64_t vid;
    int rc;

    if ((rc = sc_registry_collection_version(reg, ref, &vid)) < 0)
        return rc;
    /* the bytes kept are the bytes checked: read before and after */
    if ((rc = read_text(file, &buf, &n)) < 0 ||
        (rc = sc_split_read(file, &sp)) < 0 ||
        (rc = read_text(file, &again, &n2)) < 0)
        goto out;
    if (n != n2 || memcmp(buf, again, n)) {
        rc = sc_fail(SC_EIO, "'%s' changed while it was read", file);
        goto out;
    }
    c.sp = sp;
    if ((rc = sc_registry_collection_members(reg, vid, split_member, &c)) < 0)
        goto out;
    if ((rc = sc_registry_split_set(reg, vid, buf, n, sha)) < 0)
        rc = sc_fail_ctx(rc, "%s", ref);
    else
        fprintf(fp, "%s\t%s\n", ref, sha);
out:
    sc_split_free(sp);
    free(buf);
    free(again);
    return rc;
}

/* The split file of version VID of REF into FILE (exclusive, atomic). */
static int split_export(sc_registry *reg, int64_t vid, const char *ref,
                        const char *file)
{
    char *buf = NULL, sha[65];
    sc_atomic at = {0};
    size_t n;
    FILE *fp;
    int rc;

    if ((rc = sc_registry_split_get(reg, vid, &buf, &n, sha)) < 0)
        return rc;
    if (!buf)
        return sc_fail(SC_ENOTFOUND,
                       "%s has no split file (collection split stores one)",
                       ref);
    if ((rc = sc_io_atomic_open(file, &at, &fp)) == 0) {
        rc = fwrite(buf, 1, n, fp) == n
                 ? 0
                 : sc_fail(SC_EIO, "cannot write '%s'", file);
        rc = sc_io_atomic_finish(&at, rc);
    }
    free(buf);
    return rc;
}

/* The line show prints above the members of a version with a split. */
static int split_show(sc_registry *reg, int64_t vid, FILE *fp)
{
    char *buf = NULL, sha[65];
    size_t n;
    int rc;

    if ((rc = sc_registry_split_get(reg, vid, &buf, &n, sha)) == 0 && buf)
        fprintf(fp, "# split\t%s\t%zu bytes\n", sha, n);
    free(buf);
    return rc;
}

int cmd_collection(struct args *a, int argc, char **argv)
{
    static const char *const verbs[] = {"create", "add",    "remove", "freeze",
                                        "diff",   "export", "list",   "show",
                                        "split",  NULL};
    static const int min_ops[] = {1, 1, 1, 1, 2, 1, 0, 1, 2};
    sc_registry *reg = NULL;
    struct idlist l = {0};
    sc_atomic at = {0};
    FILE *fp = NULL;
    int64_t n, vid, version;
    int rc, v = -1;

    for (int i = 0; verbs[i]; i++)
        if (!strcmp(argv[0], verbs[i]))
            v = i;
    if (v < 0)
        return usage_fail("collection: unknown verb '%s' (create, "
                          "add, remove, freeze, diff, export, list, "
                          "show, split)",
                          argv[0]);
    if (argc - 1 < min_ops[v])
        return usage_fail("collection %s: missing operand", argv[0]);
    if (v == 8 && argc != 3)
        return usage_fail("collection split: NAME[@N] FILE");
    if (a->split_file && v != 5)
        return usage_fail("--split-file is an option of collection export");
    if ((rc = reg_open(a, v >= 4 && v != 8 ? SC_REGISTRY_READONLY : 0, &reg)) <
        0)
        return rc;
    if ((rc = out_open(a, &at, &fp)) < 0)
        goto out;
    switch (v) {
    case 0: /* create */
        rc = sc_registry_collection_create(reg, argv[1], a->description);
        break;
    case 1: /* add */
    case 2: /* remove */
        if ((rc = collect_ids(a, reg, argc - 2, argv + 2, &l)) == 0 && v == 1 &&
            !a->allow_derived)
            rc = check_derived(reg, argv[1], l.ids, l.n);
        if (rc == 0)
            rc = sc_registry_collection_edit(reg, argv[1], v == 2, l.ids,
                                             v == 1 ? l.w : NULL, l.n, &n);
        if (rc == 0)
            sc_log_info("'%s': %" PRId64 " members %s", argv[1], n,
                        v == 1 ? "added or changed" : "removed");
        break;
    case 3: /* freeze */
        if ((rc = sc_registry_collection_freeze(reg, argv[1], &version,
                                                &vid)) == 0)
            fprintf(fp, "%s@%" PRId64 "\n", argv[1], version);
        break;
    case 4: rc = coll_diff(reg, argv[1], argv[2], fp); break;
    case 5: /* export */
    case 7: /* show */ {
        struct out_rows o;
        int draft = v == 7 && !strchr(argv[1], '@');
        if (!draft &&
            (rc = sc_registry_collection_version(reg, argv[1], &vid)) < 0)
            break;
        if (v == 5 && a->split_file &&
            (rc = split_export(reg, vid, argv[1], a->split_file)) < 0)
            break;
        if (v == 7 && !draft && (rc = split_show(reg, vid, fp)) < 0)
            break;
        if ((rc = rows_begin(&o, fp, v == 5 || a->manifest, SC_MCOL_WEIGHT)) <
            0)
            break;
        rc = draft
                 ? sc_registry_collection_draft(reg, argv[1], rows_artifact, &o)
                 : sc_registry_collection_members(reg, vid, rows_artifact, &o);
        rows_end(&o);
        break;
    }
    case 8: rc = coll_split(reg, argv[1], argv[2], fp); break;
    case 6:
        fprintf(fp, "name\tversions\tmembers\tdescription\n");
        rc = sc_registry_collections(reg, list_row, fp);
        break;
    }
    rc = out_close(&at, rc);
out:
    idlist_release(&l);
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- runs ---- */

/* Link REF to RUN: a URI, a collection version NAME@N, an artifact, or
 * a file that is registered first. */
static int link_ref(sc_registry *reg, int64_t run, int output, const char *ref,
                    FILE *fp, sc_manifest *m)
{
    sc_reg_meta *meta = NULL;
    struct stat sb;
    int64_t id = 0, vid;
    int rc, status;

    if (strstr(ref, "://"))
        return sc_registry_run_link(reg, run, output, 0, 0, ref);
    if (strchr(ref, '@') && stat(ref, &sb) != 0 &&
        sc_registry_collection_version(reg, ref, &vid) == 0)
        return sc_registry_run_link(reg, run, output, 0, vid, NULL);
    if (output || stat(ref, &sb) == 0) {
        /* a file: registered (or found by its content) */
        if ((rc = sc_registry_describe(ref, SC_REG_ANY_FILE, NULL, &meta)) <
                0 ||
            (rc = sc_registry_add(reg, sc_reg_meta_dataset(meta), &id,
                                  &status)) < 0) {
            sc_reg_meta_free(meta);
            return rc;
        }
        if (m) {
            sc_mrow *row = NULL;
            if ((rc = sc_mrow_new(m, ref, &row)) == 0 &&
                (rc = sc_mrow_setf(row, SC_MCOL_ID, "%" PRId64, id)) == 0 &&
                (rc = sc_mrow_set(row, SC_MCOL_SHA256,
                                  sc_reg_meta_dataset(meta)->sha256)) == 0)
                rc = sc_manifest_write_row(m, row, fp);
            sc_mrow_free(row);
        }
        sc_reg_meta_free(meta);
        if (rc < 0)
            return rc;
    } else if ((rc = sc_registry_resolve(reg, ref, &id)) < 0) {
        return rc;
    }
    return sc_registry_run_link(reg, run, output, id, 0, NULL);
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    char *s;

    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    if (!(s = malloc(n)))
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int cmd_run(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    sc_manifest *m = NULL;
    sc_atomic at = {0};
    char host[256] = "", *args = NULL;
    FILE *fp = NULL;
    int64_t run;
    int rc, start = !strcmp(argv[0], "start");

    if (!start && strcmp(argv[0], "finish"))
        return usage_fail("run: unknown verb '%s' (start, finish)", argv[0]);
    if (start && !a->tool)
        return usage_fail("run start: --tool is required");
    if (!start && argc != 2)
        return usage_fail("run finish: missing operand");
    if ((rc = reg_open(a, 0, &reg)) < 0)
        return rc;
    if ((rc = out_open(a, &at, &fp)) < 0)
        goto out;
    if (start) {
        gethostname(host, sizeof host - 1);
        if (!(args = join_args(argc - 1, argv + 1))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto done;
        }
        if ((rc = sc_registry_run_start(reg, a->tool, a->tool_version, args,
                                        host, &run)) < 0)
            goto done;
        fprintf(fp, "%" PRId64 "\n", run);
    } else if ((rc = sc_parse_int(argv[1], 1, INT64_MAX, &run)) < 0) {
        goto done;
    }
    for (size_t i = 0; i < a->n_inputs && rc == 0; i++)
        rc = link_ref(reg, run, 0, a->inputs[i], fp, NULL);
    if (!start && rc == 0 && a->n_outputs) {
        if ((rc = sc_manifest_new(&m)) == 0 &&
            (rc = sc_manifest_add_col(m, SC_MCOL_ID)) == 0 &&
            (rc = sc_manifest_add_col(m, SC_MCOL_SHA256)) == 0)
            rc = sc_manifest_write_header(m, fp);
        for (size_t i = 0; i < a->n_outputs && rc == 0; i++)
            rc = link_ref(reg, run, 1, a->outputs[i], fp, m);
    }
    if (!start && rc == 0)
        rc = sc_registry_run_finish(reg, run, a->status ? a->status : "ok");
done:
    rc = out_close(&at, rc);
out:
    free(args);
    sc_manifest_free(m);
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- verify ---- */

struct verifier {
    const struct args *a;
    sc_registry *reg;
    FILE *fp;
    int64_t ok, missing, modified, unregistered;
    int rc;
};

static int verify_file(int64_t id, const char *path, const char *sha256,
                       int64_t size, int64_t mtime, void *ud)
{
    struct verifier *v = ud;
    char hex[SC_HASH_HEX_SIZE];
    const char *what = "ok";
    struct stat sb;
    int rc;

    if (sc_obj_is_remote(path)) {
        /* an object: its bytes hashed again as they are read (the size
         * first, from a HEAD, in the quick check) */
        sc_http_opts o = SC_HTTP_OPTS_INIT;
        sc_obj *ob = NULL;
        int64_t got = -1;

        if ((rc = sc_obj_open(path, &ob)) < 0)
            return rc;
        rc = v->a->quick ? sc_obj_head(&o, ob, &got, NULL)
                         : sc_obj_hash(&o, ob, &got, hex, NULL);
        sc_obj_free(ob);
        if (rc == SC_ENOTFOUND) {
            sc_err_clear();
            what = "missing";
            v->missing++;
        } else if (rc < 0) {
            return rc;
        } else if (got != size || (!v->a->quick && strcmp(hex, sha256))) {
            what = "modified";
            v->modified++;
        } else {
            v->ok++;
        }
    } else if (stat(path, &sb) != 0) {
        what = "missing";
        v->missing++;
    } else if (v->a->quick && (int64_t)sb.st_size == size &&
               (int64_t)sb.st_mtime == mtime) {
        v->ok++;
    } else if ((rc = sc_hash_file(path, hex)) < 0) {
        return rc;
    } else if (strcmp(hex, sha256)) {
        what = "modified";
        v->modified++;
    } else {
        v->ok++;
    }
    fprintf(v->fp, "%s\t%" PRId64 "\t%s\n", what, id, path);
    return 0;
}

static struct verifier *walk_v; /* nftw has no user data */

static int walk_fn(const char *path, const struct stat *sb, int type,
                   struct FTW *ftw)
{
    static const char *const ext[] = {".h5ad", ".loom", ".h5", NULL};
    size_t n = strlen(path);
    int found = 0, known = 0;

    (void)sb;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    for (int i = 0; ext[i]; i++)
        if (n > strlen(ext[i]) && !strcmp(path + n - strlen(ext[i]), ext[i]))
            known = 1;
    if (!known)
        return 0;
    if ((walk_v->rc = sc_registry_has_path(walk_v->reg, path, &found)) < 0)
        return 1;
    if (!found) {
        walk_v->unregistered++;
        fprintf(walk_v->fp, "unregistered\t-\t%s\n", path);
    }
    return 0;
}

static int walk_root(int64_t id, const char *dir, void *ud)
{
    (void)id;
    (void)ud;
    if (nftw(dir, walk_fn, 16, FTW_PHYS) != 0 && walk_v->rc < 0)
        return walk_v->rc;
    return 0;
}

int cmd_verify(struct args *a, int argc, char **argv)
{
    struct verifier v = {a, NULL, NULL, 0, 0, 0, 0, 0};
    sc_atomic at = {0};
    int rc, ok = 0;

    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &v.reg)) < 0)
        return rc;
    if ((rc = out_open(a, &at, &v.fp)) < 0)
        goto out;
    if ((rc = sc_registry_check(v.reg, &ok)) == 0 && !ok)
        rc = sc_fail(SC_ECORRUPT, "registry '%s' fails its integrity check",
                     a->db);
    if (rc == 0)
        rc = sc_registry_files(v.reg, verify_file, &v);
    walk_v = &v;
    if (rc == 0 && argc == 0)
        rc = sc_registry_roots(v.reg, walk_root, &v);
    for (int i = 0; i < argc && rc == 0; i++)
        rc = walk_root(0, argv[i], &v);
    rc = out_close(&at, rc);
    if (rc == 0)
        sc_log_info("%" PRId64 " ok, %" PRId64 " missing, %" PRId64
                    " modified, %" PRId64 " unregistered",
                    v.ok, v.missing, v.modified, v.unregistered);
    if (rc == 0 && (v.missing || v.modified || v.unregistered))
        rc = sc_fail(SC_EIO,
                     "verify: %" PRId64 " missing, %" PRId64
                     " modified, %" PRId64 " unregistered",
                     v.missing, v.modified, v.unregistered);
out:
    if (sc_registry_close(v.reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}
