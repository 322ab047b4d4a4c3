/* sc_registry_meta: read a dataset's registry metadata (terms, genes,
 * provenance). */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sc_adata.h"
#include "sc_hash.h"
#include "sc_registry.h"

struct sc_reg_meta {
    sc_reg_dataset d;
    char sha[SC_HASH_HEX_SIZE];
    sc_adata *ad;
    json_t *json; /* provenance given as JSON text */
    sc_reg_term *terms;
    size_t n_terms, cap_terms;
    sc_reg_step *steps;
    size_t n_steps, cap_steps;
    const char **genes;
    char **owned; /* strings and arrays to free */
    size_t n_owned, cap_owned;
    int oom;
};

static void *own(sc_reg_meta *m, void *p)
{
    if (!p) {
        m->oom = 1;
        return NULL;
    }
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? m->cap_owned * 2 : 16;
        char **v = realloc(m->owned, cap * sizeof *v);
        if (!v) {
            free(p);
            m->oom = 1;
            return NULL;
        }
        m->owned = v;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return p;
}

static char *own_str(sc_reg_meta *m, const char *s)
{
    return s ? own(m, strdup(s)) : NULL;
}

static void add_term(sc_reg_meta *m, const char *field, const char *term,
                     const char *label, int64_t n)
{
    if (m->n_terms == m->cap_terms) {
        size_t cap = m->cap_terms ? m->cap_terms * 2 : 32;
        sc_reg_term *v = realloc(m->terms, cap * sizeof *v);
        if (!v) {
            m->oom = 1;
            return;
        }
        m->terms = v;
        m->cap_terms = cap;
    }
    m->terms[m->n_terms++] = (sc_reg_term){field, term, label, n};
}

struct cell {
    const char *term, *label;
};

static int cmp_cell(const void *a, const void *b)
{
    return strcmp(((const struct cell *)a)->term,
                  ((const struct cell *)b)->term);
}

/* The terms of column COL (and labels from LAB, may be NULL) with their
 * cell counts, as terms of FIELD. */
static int column_terms(sc_reg_meta *m, const char *field, const sc_elem *col,
                        const sc_elem *lab, int64_t n_obs)
{
    struct cell *v;
    int64_t n = 0;

    if (n_obs <= 0)
        return 0;
    if (!(v = malloc((size_t)n_obs * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n_obs; i++) {
        const char *t = sc_elem_str(col, i);
        if (t && *t) {
            v[n].term = t;
            v[n++].label = lab ? sc_elem_str(lab, i) : NULL;
        }
    }
    qsort(v, (size_t)n, sizeof *v, cmp_cell);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && !strcmp(v[j].term, v[i].term))
            j++;
        add_term(m, field, v[i].term, v[i].label, j - i);
        i = j;
    }
    free(v);
    return m->oom ? sc_fail(SC_ENOMEM, "out of memory") : 0;
}

static const char *most_cells(const sc_reg_meta *m, const char *field)
{
    const sc_reg_term *best = NULL;
    for (size_t i = 0; i < m->n_terms; i++)
        if (!strcmp(m->terms[i].field, field) &&
            (!best || m->terms[i].n_cells > best->n_cells))
            best = &m->terms[i];
    return best ? best->term : NULL;
}

static int read_terms(sc_reg_meta *m)
{
    const sc_elem *obs = m->ad->obs;
    static const char suffix[] = "_ontology_term_id";
    const size_t ls = sizeof suffix - 1;
    const char *org;
    int rc;

    for (size_t i = 0; obs && i < obs->n_child; i++) {
        const sc_elem *c = obs->child[i];
        size_t n = c->name ? strlen(c->name) : 0;
        char *field;
        if (n <= ls || strcmp(c->name + n - ls, suffix) ||
            !sc_elem_is_strcol(c))
            continue;
        if (!(field = own(m, strndup(c->name, n - ls))))
            return sc_fail(SC_ENOMEM, "out of memory");
        const sc_elem *lab = sc_elem_get(obs, field);
        if (lab && !sc_elem_is_strcol(lab))
            lab = NULL;
        if ((rc = column_terms(m, field, c, lab, m->ad->n_obs)) < 0)
            return rc;
    }
    /* schema 4+: the organism is one value in uns */
    if (!most_cells(m, "organism") &&
        (org = sc_elem_get_str(m->ad->uns, "organism_ontology_term_id")))
        add_term(m, "organism", org, sc_elem_get_str(m->ad->uns, "organism"),
                 m->ad->n_obs);
    m->d.organism = sc_elem_organism(m->ad->uns, m->ad->obs, 0);
    m->d.assay = most_cells(m, "assay");
    m->d.schema_version = sc_elem_get_str(m->ad->uns, "schema_version");
    m->d.terms = m->terms;
    m->d.n_terms = m->n_terms;
    return m->oom ? sc_fail(SC_ENOMEM, "out of memory") : 0;
}

static int read_genes(sc_reg_meta *m)
{
    const sc_elem *idx = m->ad->var ? m->ad->var->index : NULL;
    int64_t n;

    if (!idx || idx->dtype != SC_DT_STR || (n = sc_elem_count(idx)) <= 0)
        return 0;
    if (!(m->genes = malloc((size_t)n * sizeof *m->genes)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        const char *g = sc_elem_str(idx, i);
        if (g && *g)
            m->genes[m->d.n_genes++] = g;
    }
    m->d.genes = m->genes;
    return 0;
}

/* ---- provenance ---- */

static sc_reg_step *new_step(sc_reg_meta *m)
{
    if (m->n_steps == m->cap_steps) {
        size_t cap = m->cap_steps ? m->cap_steps * 2 : 4;
        sc_reg_step *v = realloc(m->steps, cap * sizeof *v);
        if (!v) {
            m->oom = 1;
            return NULL;
        }
        m->steps = v;
        m->cap_steps = cap;
    }
    memset(&m->steps[m->n_steps], 0, sizeof *m->steps);
    return &m->steps[m->n_steps++];
}

/* A step from an uns dict: scalar strings, input_sha256 a string or a
 * 1-D array of strings. */
static int step_from_dict(sc_reg_meta *m, const sc_elem *d, const char *where)
{
    sc_reg_step *s;
    const sc_elem *in;

    if (d->kind != SC_K_DICT)
        return sc_fail(SC_EFORMAT, "%s is not a dict", where);
    if (!(s = new_step(m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    s->tool = sc_elem_get_str(d, "tool");
    s->version = sc_elem_get_str(d, "version");
    s->arguments = sc_elem_get_str(d, "arguments");
    s->host = sc_elem_get_str(d, "host");
    s->time = sc_elem_get_str(d, "time");
    if (!s->tool)
        return sc_fail(SC_EFORMAT, "%s has no 'tool' string", where);
    in = sc_elem_get(d, "input_sha256");
    if (in && in->kind == SC_K_ARRAY && in->dtype == SC_DT_STR) {
        int64_t n = sc_elem_count(in);
        const char **v = own(m, malloc(((size_t)n + 1) * sizeof *v));
        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++)
            v[i] = sc_elem_str(in, i);
        s->inputs = v;
        s->n_inputs = (size_t)n;
    }
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int step_from_json(sc_reg_meta *m, const json_t *o, const char *where)
{
    sc_reg_step *s;
    const json_t *in;

    if (!json_is_object(o))
        return sc_fail(SC_EFORMAT, "%s is not an object", where);
    if (!(s = new_step(m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    s->tool = jstr(o, "tool");
    s->version = jstr(o, "version");
    s->arguments = jstr(o, "arguments");
    s->host = jstr(o, "host");
    s->time = jstr(o, "time");
    if (!s->tool)
        return sc_fail(SC_EFORMAT, "%s has no 'tool' string", where);
    in = json_object_get(o, "input_sha256");
    if (json_is_string(in) || json_is_array(in)) {
        size_t n = json_is_string(in) ? 1 : json_array_size(in);
        const char **v = own(m, malloc((n + 1) * sizeof *v));
        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const char *x = json_string_value(
                json_is_string(in) ? in : json_array_get(in, i));
            if (!x)
                return sc_fail(SC_EFORMAT, "%s: input_sha256 is not text",
                               where);
            v[i] = x;
        }
        s->inputs = v;
        s->n_inputs = n;
    }
    return 0;
}

static int cmp_step_name(const void *a, const void *b)
{
    const sc_elem *x = *(sc_elem *const *)a, *y = *(sc_elem *const *)b;
    long i = strtol(x->name, NULL, 10), j = strtol(y->name, NULL, 10);
    return i < j ? -1 : i > j;
}

static int read_provenance(sc_reg_meta *m)
{
    const sc_elem *p =
        m->ad->uns ? sc_elem_get(m->ad->uns, "provenance") : NULL;
    const char *text;
    char where[64];
    int rc = 0;

    if (!p)
        return 0;
    if (p->kind == SC_K_DICT) {
        /* steps "0", "1", ... oldest first; a scalar input_sha256 is a
         * 1-element array to the reader */
        sc_elem **v = malloc((p->n_child + 1) * sizeof *v);
        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        memcpy(v, p->child, p->n_child * sizeof *v);
        qsort(v, p->n_child, sizeof *v, cmp_step_name);
        for (size_t i = 0; i < p->n_child && rc == 0; i++) {
            snprintf(where, sizeof where, "uns['provenance']['%.20s']",
                     v[i]->name);
            rc = step_from_dict(m, v[i], where);
        }
        free(v);
    } else if ((text = sc_elem_get_str(m->ad->uns, "provenance"))) {
        json_error_t err;
        if (!(m->json = json_loads(text, 0, &err)))
            return sc_fail(SC_EFORMAT, "uns['provenance']: bad JSON: %s",
                           err.text);
        if (json_is_object(m->json))
            rc = step_from_json(m, m->json, "uns['provenance']");
        for (size_t i = 0;
             json_is_array(m->json) && i < json_array_size(m->json) && rc == 0;
             i++) {
            snprintf(where, sizeof where, "uns['provenance'][%zu]", i);
            rc = step_from_json(m, json_array_get(m->json, i), where);
        }
    } else {
        return sc_fail(SC_EFORMAT, "uns['provenance'] is neither a dict of "
                                   "steps nor JSON text");
    }
    if (rc < 0)
        return rc;
    /* step k made the single input of step k + 1; the last made this file
     * (output NULL); an output we cannot name ("") is not linked */
    for (size_t i = 0; i + 1 < m->n_steps; i++)
        m->steps[i].output_sha256 =
            m->steps[i + 1].n_inputs == 1 ? m->steps[i + 1].inputs[0] : "";
    m->d.steps = m->steps;
    m->d.n_steps = m->n_steps;
    return 0;
}

int sc_registry_describe(const char *path, unsigned flags, const char *sha256,
                         sc_reg_meta **out)
{
    sc_reg_meta *m;
    struct stat sb;
    sc_format fmt;
    int rc;

    *out = NULL;
    if (stat(path, &sb) != 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (!(m = calloc(1, sizeof *m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    m->d.path = path;
    m->d.size = S_ISDIR(sb.st_mode) ? 0 : (int64_t)sb.st_size;
    m->d.mtime = (int64_t)sb.st_mtime;
    /* the first look into an untrusted file: a libhdf5 crash is its error */
    if ((rc = sc_adata_probe(path, SC_OPEN_VAR_IDS)) < 0)
        goto fail;
    fmt = sc_adata_detect(path);
    if (fmt == SC_FMT_UNKNOWN && !(flags & SC_REG_ANY_FILE)) {
        rc = sc_fail(SC_EFORMAT, "'%s' is not a dataset (h5ad, 10x, loom)",
                     path);
        goto fail;
    }
    if (fmt != SC_FMT_UNKNOWN) {
        if ((rc = sc_adata_open(path, SC_OPEN_VAR_IDS, &m->ad)) < 0)
            goto fail;
        m->d.format = sc_format_name(m->ad->format);
        m->d.n_obs = m->ad->n_obs;
        m->d.n_vars = m->ad->n_vars;
        if ((rc = read_terms(m)) < 0 || (rc = read_genes(m)) < 0 ||
            (rc = read_provenance(m)) < 0) {
            rc = sc_fail_ctx(rc, "'%s'", path);
            goto fail;
        }
        if ((flags & SC_REG_CHECK_X) && (rc = sc_adata_check_x(m->ad)) < 0)
            goto fail;
    } else {
        m->d.format = "file";
    }
    if (flags & SC_REG_NO_HASH) {
        snprintf(m->sha, sizeof m->sha, "%s", sha256 ? sha256 : "");
    } else if (S_ISDIR(sb.st_mode)) {
        rc = sc_fail(SC_EUNSUP,
                     "'%s': directories (10x MTX folders) are "
                     "not registered yet; register the files",
                     path);
        goto fail;
    } else if ((rc = sc_hash_file(path, m->sha)) < 0) {
        goto fail;
    }
    m->d.sha256 = m->sha;
    *out = m;
    return 0;
fail:
    sc_reg_meta_free(m);
    return rc;
}

const sc_reg_dataset *sc_reg_meta_dataset(const sc_reg_meta *m)
{
    return &m->d;
}

int sc_reg_meta_add_step(sc_reg_meta *m, const sc_reg_step *s)
{
    sc_reg_step *n;
    const char **in = NULL;

    if (s->n_inputs && !(in = own(m, malloc(s->n_inputs * sizeof *in))))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_inputs; i++)
        in[i] = own_str(m, s->inputs[i]);
    if (!(n = new_step(m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    n->tool = own_str(m, s->tool);
    n->version = own_str(m, s->version);
    n->arguments = own_str(m, s->arguments);
    n->host = own_str(m, s->host);
    n->time = own_str(m, s->time);
    n->output_sha256 = own_str(m, s->output_sha256);
    n->inputs = in;
    n->n_inputs = s->n_inputs;
    m->d.steps = m->steps;
    m->d.n_steps = m->n_steps;
    return m->oom ? sc_fail(SC_ENOMEM, "out of memory") : 0;
}

void sc_reg_meta_free(sc_reg_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->terms);
    free(m->steps);
    free(m->genes);
    json_decref(m->json);
    sc_adata_close(m->ad);
    free(m);
}
