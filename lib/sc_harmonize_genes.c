/* sc_harmonize_genes: the var column, the organism and the gene mapping of
 * a dataset (sc_genes rules), and its part of the report. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_harmonize_int.h"
#include "sc_io.h"
#include "sc_log.h"

/* ------------------------------------------------------------------------ */
/* Genes                                                                    */

void hz_gene_map_release(gene_map *g)
{
    free(g->in_gene);
    free(g->kind);
    free(g->col);
    free(g->first);
    free(g->out_gene);
    free(g->alt_id);
    free(g->winner);
    free(g->own_gene);
    memset(g, 0, sizeof *g);
}

/* Candidate gene columns of VAR: the index, then string columns, the
 * well-known names first. */
static int gene_columns(const sc_elem *var, const sc_elem **cols,
                        const char **names, int max)
{
    static const char *const pref[] = {
        "gene_ids",     "feature_id",   "ensembl_id",  "gene_id", "ensembl",
        "gene_symbols", "feature_name", "gene_symbol", "symbol",  "gene_name",
        "gene",         "features",     NULL};
    int n = 0;

    if (var->index && sc_elem_is_strcol(var->index)) {
        cols[n] = var->index;
        names[n++] = "_index";
    }
    for (int p = 0; pref[p] && n < max; p++) {
        const sc_elem *c = sc_elem_get(var, pref[p]);

        if (c && sc_elem_is_strcol(c)) {
            cols[n] = c;
            names[n++] = c->name;
        }
    }
    for (size_t i = 0; i < var->n_child && n < max; i++) {
        const sc_elem *c = var->child[i];
        int seen = 0;

        for (int k = 0; k < n; k++)
            seen |= cols[k] == c;
        if (!seen && sc_elem_is_strcol(c) && !strstr(c->name, "__original")) {
            cols[n] = c;
            names[n++] = c->name;
        }
    }
    return n;
}

/* Species counts of the id-looking entries of COL. */
static int64_t count_species(const sc_elem *col, int64_t n, int64_t *cnt)
{
    int64_t ids = 0;

    memset(cnt, 0, 16 * sizeof *cnt);
    for (int64_t i = 0; i < n; i++) {
        const char *s = sc_elem_str(col, i);
        int sp = s ? sc_genes_species_of_id(s) : -1;

        if (sp >= 0) {
            cnt[sp]++;
            ids++;
        }
    }
    return ids;
}

static int64_t map_column(const sc_genes *g, const sc_elem *col, int64_t n,
                          int64_t *gene, sc_gene_kind *kind)
{
    int64_t hit = 0;

    for (int64_t i = 0; i < n; i++) {
        const char *s = sc_elem_str(col, i);
        sc_gene_kind k = SC_GENE_UNKNOWN;
        int64_t x = s ? sc_genes_map(g, s, &k) : -1;

        if (gene)
            gene[i] = x;
        if (kind)
            kind[i] = k;
        /* an id of another species is recognised too: a mixed-species
         * dataset still picks its id column */
        hit += x >= 0 || k == SC_GENE_FOREIGN;
    }
    return hit;
}

/* How strong the evidence of a mapping is: the lower, the stronger. */
static int tier_rank(sc_gene_kind k)
{
    switch (k) {
    case SC_GENE_ID:
    case SC_GENE_ID_VERSIONED:
    case SC_GENE_PAR_Y:
    case SC_GENE_SYMBOL_ENSG:
    case SC_GENE_GENE_MAP: return 0;
    case SC_GENE_SYMBOL: return 1;
    case SC_GENE_CASE: return 2;
    case SC_GENE_RESTORED: return 3;
    case SC_GENE_ALIAS:
    case SC_GENE_PREV: return 4;
    default: return 5; /* retired */
    }
}

/* The id part of S: no "_PAR_Y", no version. */
static size_t id_base_len(const char *s)
{
    size_t n = strcspn(s, ".");
    const char *p = strstr(s, "_PAR_Y");

    return p && (size_t)(p - s) < n ? (size_t)(p - s) : n;
}

/* Entries of one dataset that land on one gene are summed only when they
 * are the same feature by evidence: entries mapped by id (versions,
 * _PAR_Y copies of one id) or the very same name. Otherwise the entry of
 * the strongest tier (the first of them) is kept and the others are
 * dropped as collisions; *WINNER says which entry each lost to. */
static int resolve_collisions(const sc_genes *g, const sc_elem *col,
                              gene_map *gm)
{
    int64_t ng = sc_genes_count(g), n = gm->n_in;
    int64_t *lead = malloc((size_t)(ng ? ng : 1) * sizeof *lead);

    if (!lead)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t x = 0; x < ng; x++)
        lead[x] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = gm->in_gene[i];

        if (x >= 0 && (lead[x] < 0 ||
                       tier_rank(gm->kind[i]) < tier_rank(gm->kind[lead[x]])))
            lead[x] = i;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t x = gm->in_gene[i], j;
        int r;

        if (x < 0 || (j = lead[x]) == i)
            continue;
        r = tier_rank(gm->kind[i]);
        if (r == tier_rank(gm->kind[j])) {
            const char *a = sc_elem_str(col, i), *b = sc_elem_str(col, j);

            if (r == 0 || (a && b && strcmp(a, b) == 0))
                continue; /* the same feature */
            if (r == 5 && a && b && id_base_len(a) == id_base_len(b) &&
                strncmp(a, b, id_base_len(a)) == 0)
                continue; /* one retired id, two versions */
        }
        if (!gm->winner) {
            if (!(gm->winner = malloc((size_t)n * sizeof *gm->winner))) {
                free(lead);
                return sc_fail(SC_ENOMEM, "out of memory");
            }
            for (int64_t k = 0; k < n; k++)
                gm->winner[k] = -1;
        }
        gm->winner[i] = j;
        gm->in_gene[i] = -1;
        gm->kind[i] = SC_GENE_COLLISION;
    }
    free(lead);
    return 0;
}

/* Load the output gene space list (--gene-space FILE, sc_genes_list_read). */
static int load_space(sc_hz *h)
{
    size_t n;
    int rc;

    if (h->space || !h->o.gene_space || strcmp(h->o.gene_space, "all") == 0)
        return 0;
    if ((rc = sc_genes_list_read(h->o.gene_space, &h->space, &n)) < 0)
        return rc;
    h->n_space = (int64_t)n;
    return 0;
}

/* A mixed-species dataset is reported, not merged: map the ids of the
 * other species through their own lists for the report. */
static int map_foreign(sc_hz *h, const sc_elem *col, gene_map *gm)
{
    sc_genes *other;
    int rc;

    if (!(gm->alt_id =
              calloc((size_t)(gm->n_in ? gm->n_in : 1), sizeof *gm->alt_id)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < gm->n_in; i++) {
        const char *s = sc_elem_str(col, i);
        int sp = s ? sc_genes_species_of_id(s) : -1;
        int64_t x;

        if (gm->kind[i] != SC_GENE_FOREIGN || sp < 0)
            continue;
        if ((rc = hz_get_genes(h, sp, &other)) < 0)
            return rc;
        if ((x = sc_genes_map(other, s, NULL)) >= 0) {
            gm->alt_id[i] = sc_genes_id(other, x);
            gm->n_alt++; /* ids of a species' list are distinct */
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The gene map (--gene-map) and the gene report (DIR/<name>.genes.tsv)     */

void hz_gmap_free(hz_gmap *m)
{
    if (!m)
        return;
    for (int64_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->id[i]);
    }
    free(m->key);
    free(m->id);
    free(m->line);
    free(m->species);
    free(m->path);
    sc_strmap_release(&m->idx);
    free(m);
}

/* Undo the escapes of the gene report in S, in place: "\t", "\n", "\r",
 * "\\". */
static void unescape(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *w++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/* Check the id ID of line LINE of the map: in the current list of its
 * organism. *SP gets the organism (-1 for a spike-in). */
static int gmap_check_id(sc_hz *h, const char *path, long line, const char *id,
                         int *sp)
{
    sc_genes *g;
    int64_t x;
    int rc;

    *sp = -1;
    if (sc_genes_is_spike_in(id))
        return 0;
    if ((*sp = sc_genes_species_of_id(id)) < 0)
        return sc_fail(SC_EFORMAT,
                       "'%s' line %ld: '%s' is not an Ensembl gene id of a "
                       "known organism (give an id, or - to drop the entry)",
                       path, line, id);
    if ((rc = hz_get_genes(h, *sp, &g)) < 0)
        return rc;
    x = sc_genes_find_id(g, id);
    if (x < 0 || x >= sc_genes_n_current(g))
        return sc_fail(SC_EFORMAT,
                       "'%s' line %ld: '%s' is not in the %s gene list of "
                       "schema 7 (%s)",
                       path, line, id, sc_genes_species(*sp)->latin,
                       x < 0 ? "unknown id" : "a retired id");
    return 0;
}

static int gmap_add(hz_gmap *m, int64_t *cap, char *key, const char *id,
                    long line, int sp)
{
    if (m->n == *cap) {
        int64_t nc = *cap ? 2 * *cap : 256;
        char **k = realloc(m->key, (size_t)nc * sizeof *k), **v;
        long *l;
        int *s;

        if (k)
            m->key = k;
        v = k ? realloc(m->id, (size_t)nc * sizeof *v) : NULL;
        if (v)
            m->id = v;
        l = v ? realloc(m->line, (size_t)nc * sizeof *l) : NULL;
        if (l)
            m->line = l;
        s = l ? realloc(m->species, (size_t)nc * sizeof *s) : NULL;
        if (!s)
            return sc_fail(SC_ENOMEM, "out of memory");
        m->species = s;
        *cap = nc;
    }
    m->key[m->n] = strdup(key);
    m->id[m->n] = id ? strdup(id) : NULL;
    m->line[m->n] = line;
    m->species[m->n] = sp;
    if (!m->key[m->n] || (id && !m->id[m->n])) {
        free(m->key[m->n]);
        free(m->id[m->n]);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    m->n++;
    return 0;
}

int hz_gmap_load(sc_hz *h)
{
    const char *path = h->o.gene_map;
    sc_lines *l = NULL;
    hz_gmap *m;
    char *line;
    size_t len;
    int64_t cap = 0;
    int rc, seen_data = 0;

    if (!path)
        return 0;
    if (!(m = calloc(1, sizeof *m)) || !(m->path = strdup(path))) {
        free(m);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if ((rc = sc_lines_open(path, &l)) < 0)
        goto out;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        long ln = sc_lines_lineno(l);
        char *key = line, *id, *end;
        int sp = -1;

        if (strlen(line) != len) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: a NUL byte", path, ln);
            break;
        }
        if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
            continue;
        if (!(id = strchr(line, '\t'))) {
            rc = sc_fail(SC_EFORMAT,
                         "'%s' line %ld: expected 'input<TAB>gene_id' (an "
                         "Ensembl id, or - to drop the entry)",
                         path, ln);
            break;
        }
        *id++ = '\0';
        if ((end = strchr(id, '\t')))
            *end = '\0';
        if (!seen_data++ && strcmp(key, "input") == 0 &&
            strcmp(id, "gene_id") == 0)
            continue; /* the header of a gene report */
        unescape(key);
        id += strspn(id, " ");
        id[strcspn(id, " ")] = '\0';
        if (strcmp(id, "-") == 0)
            id = NULL;
        else if ((rc = gmap_check_id(h, path, ln, id, &sp)) < 0)
            break;
        {
            int64_t prev = sc_strmap_get(&m->idx, key);

            if (prev >= 0) {
                const char *a = m->id[prev], *b = id;

                if ((a || b) && (!a || !b || strcmp(a, b) != 0)) {
                    rc = sc_fail(SC_EFORMAT,
                                 "'%s' line %ld: '%s' is also mapped to '%s' "
                                 "at line %ld",
                                 path, ln, key, a ? a : "-", m->line[prev]);
                    break;
                }
                continue;
            }
        }
        if ((rc = gmap_add(m, &cap, key, id, ln, sp)) < 0 ||
            (rc = sc_strmap_put(&m->idx, m->key[m->n - 1], m->n - 1)) < 0)
            break;
    }
    sc_lines_close(l);
out:
    if (rc < 0) {
        hz_gmap_free(m);
        return rc;
    }
    h->gmap = m;
    return 0;
}

/* The map's entry for var entry I (its name in COL, else in the index),
 * or -1. */
static int64_t gmap_find(const hz_gmap *m, const sc_elem *var,
                         const sc_elem *col, int64_t i)
{
    const char *s = sc_elem_str(col, i);
    int64_t e = sc_strmap_get(&m->idx, s ? s : "");

    if (e < 0 && var->index && var->index != col &&
        (s = sc_elem_str(var->index, i)))
        e = sc_strmap_get(&m->idx, s);
    return e;
}

/* The curator's map wins over the rules. */
static int gmap_apply(const hz_gmap *m, const sc_genes *g, int sp,
                      const sc_elem *var, const sc_elem *col, gene_map *gm)
{
    for (int64_t i = 0; i < gm->n_in; i++) {
        int64_t e = gmap_find(m, var, col, i);

        if (e < 0)
            continue;
        if (!m->id[e]) {
            gm->in_gene[i] = -1;
            gm->kind[i] = SC_GENE_GENE_MAP_DROPPED;
            continue;
        }
        if (m->species[e] >= 0 && m->species[e] != sp)
            return sc_fail(SC_EFORMAT,
                           "'%s' line %ld: '%s' is not a gene of %s, the "
                           "organism of this dataset",
                           m->path, m->line[e], m->id[e],
                           sc_genes_species(sp)->latin);
        if ((gm->in_gene[i] = sc_genes_find_id(g, m->id[e])) < 0)
            return sc_fail(SC_EFORMAT,
                           "'%s' line %ld: '%s' is not in the %s "
                           "gene list",
                           m->path, m->line[e], m->id[e],
                           sc_genes_species(sp)->latin);
        gm->kind[i] = SC_GENE_GENE_MAP;
    }
    return 0;
}

/* Append S to FP with tabs, newlines, carriage returns and backslashes
 * escaped (the reader of --gene-map undoes them). */
static void put_escaped(FILE *fp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\t': fputs("\\t", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '\\': fputs("\\\\", fp); break;
        default: fputc(*s, fp);
        }
    }
}

int hz_genes_tsv(const gene_map *gm, const sc_elem *var, const char *input,
                 char **out, size_t *len)
{
    const sc_elem *col = strcmp(gm->column, "_index") == 0
                             ? var->index
                             : sc_elem_get(var, gm->column);
    const sc_genes *own = gm->own ? gm->own : gm->ref;
    char cand[4096];
    FILE *fp;

    *out = NULL;
    *len = 0;
    if (!(fp = open_memstream(out, len)))
        return sc_fail(SC_ENOMEM, "out of memory");
    fprintf(fp, "# sc-harmonize gene report of '");
    put_escaped(fp, input);
    fprintf(fp, "': var column %s, organism %s, reference %s\n", gm->column,
            gm->species >= 0 ? sc_genes_species(gm->species)->taxon : "",
            sc_genes_version(own));
    fprintf(fp, "# Edit gene_id (an Ensembl id of the organism, or - to drop "
                "the entry) and give this file to sc-harmonize --gene-map.\n");
    fprintf(fp, "input\tgene_id\tfeature_name\ttier\tcandidates\tnote\n");
    for (int64_t i = 0; i < gm->n_in; i++) {
        const char *s = sc_elem_str(col, i);
        int64_t x = gm->own_gene ? gm->own_gene[i] : gm->in_gene[i];
        sc_gene_kind k = gm->kind[i];

        put_escaped(fp, s ? s : "");
        if (x >= 0)
            fprintf(fp, "\t%s\t", sc_genes_id(own, x));
        else
            fputs("\t-\t", fp);
        if (x >= 0)
            put_escaped(fp, sc_genes_name(own, x));
        fprintf(fp, "\t%s\t", sc_gene_kind_name(k));
        cand[0] = '\0';
        if (s)
            sc_genes_candidates(own, s, k, cand, sizeof cand);
        put_escaped(fp, cand);
        fputc('\t', fp);
        if (k == SC_GENE_COLLISION && gm->winner && gm->winner[i] >= 0) {
            int64_t w = gm->winner[i];
            const char *ws = sc_elem_str(col, w);
            int64_t wx = gm->own_gene ? gm->own_gene[w] : gm->in_gene[w];

            fputs("same gene as '", fp);
            put_escaped(fp, ws ? ws : "");
            fprintf(fp, "' (entry %lld%s%s), which is kept", (long long)w + 1,
                    wx >= 0 ? ", " : "", wx >= 0 ? sc_genes_id(own, wx) : "");
        } else if (gm->own_gene && gm->in_gene[i] >= 0) {
            fprintf(fp, "ortholog %s %s", sc_genes_id(gm->ref, gm->in_gene[i]),
                    sc_genes_name(gm->ref, gm->in_gene[i]));
        } else if (gm->alt_id && gm->alt_id[i]) {
            fprintf(fp, "a gene of another organism: %s", gm->alt_id[i]);
        } else if (x >= 0 && gm->col[i] < 0 && !gm->own_gene) {
            fputs("not in the gene space", fp);
        }
        fputc('\n', fp);
    }
    if (fclose(fp) != 0) {
        free(*out);
        *out = NULL;
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    return 0;
}

/* Decide the organism, pick the best column and map every entry. */
int hz_map_genes(sc_hz *h, const sc_elem *var, int64_t n, const char *declared,
                 gene_map *gm, json_t *rep)
{
    const sc_elem *cols[32];
    const char *names[32];
    int nc = gene_columns(var, cols, names, 32), sp = -1, best = -1, rc;
    int64_t best_hit = -1, cnt[16], ids_best = 0;
    sc_genes *g = NULL;

    memset(gm, 0, sizeof *gm);
    gm->species = -1;
    gm->n_in = n;
    if (nc == 0)
        return sc_fail(SC_EFORMAT, "var has no column of gene names or ids");
    /* species from the ids of the column with the most ids */
    for (int c = 0; c < nc; c++) {
        int64_t cc[16], ids = count_species(cols[c], n, cc);

        if (ids > ids_best) {
            ids_best = ids;
            memcpy(cnt, cc, sizeof cc);
        }
    }
    if (h->o.organism)
        sp = sc_genes_find_species(h->o.organism);
    if (ids_best > 0) {
        int top = 0, k2 = 0;

        for (int s = 1; s < sc_genes_n_species(); s++)
            if (cnt[s] > cnt[top])
                top = s;
        for (int s = 0; s < sc_genes_n_species(); s++)
            if (s != top && cnt[s] > ids_best / 20 && cnt[s] >= 10)
                k2 = 1;
        memcpy(gm->species_count, cnt, sizeof cnt);
        gm->mixed = k2;
        if (sp < 0)
            sp = top;
        else if (sp != top)
            sc_log_warn("organism given as '%s' but the gene ids are %s",
                        h->o.organism, sc_genes_species(top)->name);
    }
    if (sp < 0 && declared)
        sp = sc_genes_find_species(declared);
    if (sp < 0) {
        /* symbols only: the species whose names match best */
        int64_t bh = -1;

        for (int s = 0; s < 2; s++) {
            if ((rc = hz_get_genes(h, s, &g)) < 0)
                return rc;
            for (int c = 0; c < nc; c++) {
                int64_t hit = map_column(g, cols[c], n, NULL, NULL);

                if (hit > bh) {
                    bh = hit;
                    sp = s;
                }
            }
        }
    }
    if (declared && sc_genes_find_species(declared) >= 0 &&
        sc_genes_find_species(declared) != sp)
        json_object_set_new(rep, "organism_conflict",
                            json_sprintf("metadata says %s, genes say %s",
                                         declared,
                                         sc_genes_species(sp)->taxon));
    gm->species = sp;
    if ((rc = hz_get_genes(h, sp, &g)) < 0)
        return rc;
    for (int c = 0; c < nc; c++) {
        int64_t hit = map_column(g, cols[c], n, NULL, NULL);

        if (hit > best_hit) {
            best_hit = hit;
            best = c;
        }
    }
    gm->column = names[best];
    if (!(gm->in_gene = malloc((size_t)(n ? n : 1) * sizeof *gm->in_gene)) ||
        !(gm->kind = malloc((size_t)(n ? n : 1) * sizeof *gm->kind)) ||
        !(gm->col = malloc((size_t)(n ? n : 1) * sizeof *gm->col)) ||
        !(gm->first = calloc((size_t)(n ? n : 1), 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    map_column(g, cols[best], n, gm->in_gene, gm->kind);
    if (h->gmap && (rc = gmap_apply(h->gmap, g, sp, var, cols[best], gm)) < 0)
        return rc;
    if ((rc = resolve_collisions(g, cols[best], gm)) < 0)
        return rc;
    gm->ref = g;
    gm->own = g;
    h->used_species = 1u << sp;
    if (gm->mixed && (rc = map_foreign(h, cols[best], gm)) < 0)
        return rc;

    /* ortholog projection: mouse genes onto human ones */
    if (h->o.orthologs && sp == 1) {
        sc_genes *hu;

        if ((rc = hz_get_genes(h, 0, &hu)) < 0)
            return rc;
        if (!h->ortho && (rc = sc_genes_orthologs(g, hu, &h->ortho)) < 0)
            return rc;
        if (!(gm->own_gene =
                  malloc((size_t)(n ? n : 1) * sizeof *gm->own_gene)))
            return sc_fail(SC_ENOMEM, "out of memory");
        memcpy(gm->own_gene, gm->in_gene, (size_t)n * sizeof *gm->own_gene);
        for (int64_t i = 0; i < n; i++)
            if (gm->in_gene[i] >= 0 &&
                (gm->in_gene[i] = h->ortho[gm->in_gene[i]]) < 0)
                gm->kind[i] = SC_GENE_NO_ORTHOLOG;
        gm->ref = hu;
        h->used_species |= 1u;
    }
    /* output columns */
    int64_t ng = sc_genes_count(gm->ref), *slot;

    if ((rc = load_space(h)) < 0)
        return rc;
    if (!(slot = malloc((size_t)ng * sizeof *slot)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < ng; i++)
        slot[i] = -1;
    if (h->o.gene_space) {
        /* a fixed space: its order, padded with genes of no counts */
        int all = strcmp(h->o.gene_space, "all") == 0;
        int64_t m = all ? sc_genes_n_current(gm->ref) : h->n_space;

        if (!(gm->out_gene = malloc((size_t)(m ? m : 1) * sizeof(int64_t)))) {
            free(slot);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        for (int64_t k = 0; k < m; k++) {
            int64_t x = all ? k : sc_genes_find_id(gm->ref, h->space[k]);

            if (x < 0 || slot[x] >= 0)
                continue;
            slot[x] = gm->n_out;
            gm->out_gene[gm->n_out++] = x;
        }
    } else {
        if (!(gm->out_gene = malloc((size_t)(n ? n : 1) * sizeof(int64_t)))) {
            free(slot);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t x = gm->in_gene[i];

        gm->col[i] = -1;
        if (x < 0)
            continue;
        if (slot[x] < 0 && !h->o.gene_space) {
            slot[x] = gm->n_out;
            gm->out_gene[gm->n_out++] = x;
        }
        gm->col[i] = (int32_t)slot[x]; /* -1: not in a fixed space */
    }
    /* first entries of each column, duplicates, and whether the first
     * entries come in column order (then rows need little sorting) */
    {
        int32_t *per = calloc((size_t)(gm->n_out ? gm->n_out : 1), sizeof *per);
        int32_t last = -1;

        if (!per) {
            free(slot);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        gm->monotone = 1;
        for (int64_t i = 0; i < n; i++) {
            int32_t c = gm->col[i];

            if (c < 0)
                continue;
            gm->first[i] = per[c]++ == 0;
            if (gm->first[i]) {
                gm->monotone &= c > last;
                last = c;
            }
        }
        for (int64_t c = 0; c < gm->n_out; c++)
            gm->n_dup_entries += per[c] > 1 ? per[c] : 0;
        free(per);
    }
    free(slot);
    for (int64_t i = 0; i < n; i++) {
        gm->kinds[gm->kind[i]]++;
        if (gm->in_gene[i] >= 0 && sc_genes_is_retired(gm->ref, gm->in_gene[i]))
            gm->n_retired++;
    }
    return 0;
}

/* The gene part of the report. */
int hz_genes_report(const gene_map *gm, const sc_elem *var, const char *table,
                    json_t *rep, int full)
{
    json_t *g = json_object(), *k = json_object();
    int64_t n_mapped_entries = 0;

    if (!g || !k)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int i = 0; i < SC_GENE_N_KINDS; i++)
        if (gm->kinds[i])
            json_object_set_new(k, sc_gene_kind_name((sc_gene_kind)i),
                                json_integer(gm->kinds[i]));
    for (int64_t i = 0; i < gm->n_in; i++)
        n_mapped_entries += gm->col[i] >= 0;
    json_object_set_new(g, "table", json_string(table));
    json_object_set_new(g, "column", json_string(gm->column));
    json_object_set_new(g, "species",
                        json_string(gm->species >= 0
                                        ? sc_genes_species(gm->species)->taxon
                                        : ""));
    json_object_set_new(g, "reference", json_string(sc_genes_version(gm->ref)));
    json_object_set_new(g, "n_entries", json_integer(gm->n_in));
    json_object_set_new(g, "n_mapped", json_integer(gm->n_out + gm->n_alt));
    json_object_set_new(g, "n_mapped_entries", json_integer(n_mapped_entries));
    json_object_set_new(g, "n_dropped",
                        json_integer(gm->n_in - n_mapped_entries));
    json_object_set_new(g, "n_duplicate_entries",
                        json_integer(gm->n_dup_entries));
    json_object_set_new(g, "n_retired", json_integer(gm->n_retired));
    json_object_set_new(g, "kinds", k);
    if (full) {
        const sc_elem *col = strcmp(gm->column, "_index") == 0
                                 ? var->index
                                 : sc_elem_get(var, gm->column);
        json_t *orig = json_array(), *exp = json_array(), *kd = json_array();

        for (int64_t i = 0; i < gm->n_in; i++) {
            const char *s = sc_elem_str(col, i);

            json_array_append_new(orig, json_string(s ? s : ""));
            json_array_append_new(
                exp, gm->col[i] >= 0
                         ? json_string(sc_genes_id(gm->ref, gm->in_gene[i]))
                     : gm->alt_id && gm->alt_id[i] ? json_string(gm->alt_id[i])
                                                   : json_null());
            json_array_append_new(kd,
                                  json_string(sc_gene_kind_name(gm->kind[i])));
        }
        json_object_set_new(g, "original", orig);
        json_object_set_new(g, "mapped", exp);
        json_object_set_new(g, "kind", kd);
    }
    json_object_set_new(rep, "genes", g);
    return 0;
}
