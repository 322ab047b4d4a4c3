/* sc_genes: gene references per species; id, symbol and alias mapping. */
/* SPDX-License-Identifier: MIT */
#include "sc_genes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_io.h"
#include "sc_share.h"
#include "sc_map.h"

static const sc_species species_tab[] = {
    {"human", "homo_sapiens", "NCBITaxon:9606", "ENSG"},
    {"mouse", "mus_musculus", "NCBITaxon:10090", "ENSMUSG"},
    {"marmoset", "callithrix_jacchus", "NCBITaxon:9483", "ENSCJAG"},
    {"crab-eating macaque", "macaca_fascicularis", "NCBITaxon:9541", "ENSMFAG"},
    {"rhesus macaque", "macaca_mulatta", "NCBITaxon:9544", "ENSMMUG"},
    {"chimpanzee", "pan_troglodytes", "NCBITaxon:9598", "ENSPTRG"},
    {"gorilla", "gorilla_gorilla", "NCBITaxon:9595", "ENSGGOG"},
    {"mouse lemur", "microcebus_murinus", "NCBITaxon:30608", "ENSMICG"},
    {"rabbit", "oryctolagus_cuniculus", "NCBITaxon:9986", "ENSOCUG"},
    {"rat", "rattus_norvegicus", "NCBITaxon:10116", "ENSRNOG"},
    {"pig", "sus_scrofa", "NCBITaxon:9823", "ENSSSCG"},
    {"zebrafish", "danio_rerio", "NCBITaxon:7955", "ENSDARG"},
    {"fruit fly", "drosophila_melanogaster", "NCBITaxon:7227", "FBgn FBti"},
    {"roundworm", "caenorhabditis_elegans", "NCBITaxon:6239", "WBGene"},
};
#define N_SPECIES ((int)(sizeof species_tab / sizeof *species_tab))

static const char *const kind_names[SC_GENE_N_KINDS] = {"id",
                                                        "id_versioned",
                                                        "par_y",
                                                        "retired",
                                                        "symbol",
                                                        "symbol_ensg",
                                                        "case",
                                                        "alias",
                                                        "prev",
                                                        "restored",
                                                        "gene_map",
                                                        "ortholog",
                                                        "unknown",
                                                        "ambiguous_symbol",
                                                        "ambiguous_alias",
                                                        "shadowed_alias",
                                                        "ambiguous_restored",
                                                        "retired_dropped",
                                                        "made_unique",
                                                        "foreign",
                                                        "collision",
                                                        "no_ortholog",
                                                        "gene_map_dropped"};

int sc_genes_n_species(void)
{
    return N_SPECIES;
}

const sc_species *sc_genes_species(int i)
{
    return i >= 0 && i < N_SPECIES ? &species_tab[i] : NULL;
}

const char *sc_gene_kind_name(sc_gene_kind k)
{
    return (unsigned)k < SC_GENE_N_KINDS ? kind_names[k] : "?";
}

int sc_gene_kind_find(const char *s)
{
    for (int k = 0; k < SC_GENE_N_KINDS; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

int sc_genes_find_species(const char *s)
{
    const char *num = NULL;

    if (!s)
        return -1;
    if (strncasecmp(s, "NCBITaxon:", 10) == 0 ||
        strncasecmp(s, "NCBITaxon_", 10) == 0)
        num = s + 10;
    for (int i = 0; i < N_SPECIES; i++) {
        const sc_species *sp = &species_tab[i];

        if (num ? strcmp(num, sp->taxon + 10) == 0
                : strcasecmp(s, sp->name) == 0 || strcasecmp(s, sp->latin) == 0)
            return i;
    }
    /* descendants of the schema's species (mouse strains, ...) */
    if (num && (strcmp(num, "10091") == 0 || strcmp(num, "10092") == 0 ||
                strcmp(num, "39442") == 0 || strcmp(num, "57486") == 0))
        return 1;
    return -1;
}

/* Length of the Ensembl-style prefix P if ID starts with it followed by a
 * digit, else 0. */
static size_t prefix_match(const char *id, const char *p, size_t n)
{
    return strncmp(id, p, n) == 0 && isdigit((unsigned char)id[n]) ? n : 0;
}

int sc_genes_species_of_id(const char *id)
{
    for (int i = 0; i < N_SPECIES; i++) {
        const char *p = species_tab[i].prefixes;

        while (*p) {
            size_t n = strcspn(p, " ");

            if (prefix_match(id, p, n))
                return i;
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    return -1;
}

int sc_genes_is_spike_in(const char *id)
{
    return strncmp(id, "ERCC-", 5) == 0 && isdigit((unsigned char)id[5]);
}

/* ------------------------------------------------------------------------ */
/* A string -> int64 hash table (open addressing, keys borrowed). */

/* Values below -1 are markers (AMBIG, ...), so COMBINE decides how a second
 * value for the same key merges: here a second, different value makes the
 * entry AMBIG. */
#define AMBIG    ((int64_t)-2)
#define SHADOWED ((int64_t)-3)

/* Add KEY -> VAL; with FIRST_WINS a present key keeps its value, else a
 * second, different value makes the entry AMBIG. */
static int smap_put(sc_strmap *m, const char *key, int64_t val, int first_wins)
{
    int64_t *v;
    int added, rc;

    if ((rc = sc_strmap_slot(m, key, val, &v, &added)) < 0)
        return rc;
    if (!added && !first_wins && *v != val)
        *v = AMBIG;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Strings in an sc_strarena (sc_map), upper-cased. */

/* Upper-case copy of S[0..N) in A. */
static char *arena_upper_n(sc_strarena *a, const char *s, size_t n)
{
    char *p = sc_strarena_dup(a, s, n);

    if (p)
        for (char *q = p; *q; q++)
            *q = (char)toupper((unsigned char)*q);
    return p;
}

static char *arena_upper(sc_strarena *a, const char *s)
{
    return arena_upper_n(a, s, strlen(s));
}

/* ------------------------------------------------------------------------ */

typedef struct gene {
    const char *id, *name, *type;
    int64_t length;
    int64_t succ;    /* retired: the successor, or -1 */
    int64_t next_up; /* current: the next gene of the same upper name */
    unsigned retired : 1, qc : 3, spike : 1;
} gene;

struct sc_genes {
    int species;
    unsigned flags;
    char version[256];
    gene *g;
    int64_t n, n_cur, cap;
    sc_strarena ar;
    sc_strmap by_id;      /* id -> gene */
    sc_strmap by_name;    /* current name -> gene or AMBIG */
    sc_strmap by_upper;   /* upper-case current name -> gene or AMBIG */
    sc_strmap all_upper;  /* upper-case names of current and retired lists */
    sc_strmap by_symbol;  /* human: upper approved HGNC symbol -> gene / -1 */
    sc_strmap by_alias;   /* human: upper alias/prev -> gene, AMBIG, SHADOWED */
    sc_strmap alias_kind; /* human: upper alias -> SC_GENE_ALIAS / _PREV */
    sc_strmap alias_cand; /* human: upper alias -> index into CAND */
    sc_strmap head_up;    /* upper current name -> last gene of that name */
    sc_strmap damage;     /* upper damaged form -> gene, or AMBIG */
    sc_strmap damage_cand; /* upper damaged form -> index into CAND */
    const char **cand;     /* candidate lists "SYM1|SYM2" (arena) */
    size_t n_cand, cap_cand;
};

void sc_genes_free(sc_genes *g)
{
    if (!g)
        return;
    sc_strmap_release(&g->by_id);
    sc_strmap_release(&g->by_name);
    sc_strmap_release(&g->by_upper);
    sc_strmap_release(&g->all_upper);
    sc_strmap_release(&g->by_symbol);
    sc_strmap_release(&g->by_alias);
    sc_strmap_release(&g->alias_kind);
    sc_strmap_release(&g->alias_cand);
    sc_strmap_release(&g->head_up);
    sc_strmap_release(&g->damage);
    sc_strmap_release(&g->damage_cand);
    free(g->cand);
    sc_strarena_release(&g->ar);
    free(g->g);
    free(g);
}

int sc_genes_species_index(const sc_genes *g)
{
    return g->species;
}

const char *sc_genes_version(const sc_genes *g)
{
    return g->version;
}

int64_t sc_genes_count(const sc_genes *g)
{
    return g->n;
}

int64_t sc_genes_n_current(const sc_genes *g)
{
    return g->n_cur;
}

const char *sc_genes_id(const sc_genes *g, int64_t i)
{
    return g->g[i].id;
}

const char *sc_genes_name(const sc_genes *g, int64_t i)
{
    return g->g[i].name;
}

const char *sc_genes_type(const sc_genes *g, int64_t i)
{
    return g->g[i].type;
}

int64_t sc_genes_length(const sc_genes *g, int64_t i)
{
    return g->g[i].length;
}

int sc_genes_is_retired(const sc_genes *g, int64_t i)
{
    return g->g[i].retired;
}

int sc_genes_is_spike(const sc_genes *g, int64_t i)
{
    return g->g[i].spike;
}

unsigned sc_genes_qc_group(const sc_genes *g, int64_t i)
{
    return g->g[i].qc;
}

int64_t sc_genes_find_id(const sc_genes *g, const char *id)
{
    return sc_strmap_get(&g->by_id, id);
}

static unsigned qc_group(const char *name)
{
    if (strncasecmp(name, "MT-", 3) == 0)
        return SC_GENE_MT;
    if (strncasecmp(name, "RPS", 3) == 0 || strncasecmp(name, "RPL", 3) == 0)
        return SC_GENE_RIBO;
    if (strncasecmp(name, "HB", 2) == 0 && name[2] &&
        toupper((unsigned char)name[2]) != 'P')
        return SC_GENE_HB;
    return 0;
}

/* Split LINE at SEP into at most MAX fields (in place). */
static int split(char *line, char sep, char **f, int max)
{
    int n = 0;

    for (;;) {
        if (n < max)
            f[n++] = line;
        char *p = strchr(line, sep);

        if (!p)
            return n;
        *p = '\0';
        line = p + 1;
    }
}

/* Open the bundled table REL (under share/); PATH gets its path for
 * messages. */
static int share_open(const char *rel, char *path, size_t size, sc_lines **l)
{
    int rc = sc_share_path(rel, path, size);

    return rc < 0 ? rc : sc_lines_open(path, l);
}

/* Split the current LINE of table PATH at SEP into exactly N fields, else
 * one error naming the file and line. */
static int row_fields(sc_lines *l, const char *path, char *line, char sep,
                      char **f, int n)
{
    if (split(line, sep, f, n) == n)
        return 0;
    return sc_fail(SC_EFORMAT, "'%s' line %ld: expected %d fields", path,
                   sc_lines_lineno(l), n);
}

static int add_gene(sc_genes *g, char **f, int retired)
{
    gene *x;

    if (g->n == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 65536;
        gene *p = realloc(g->g, (size_t)cap * sizeof *p);

        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        g->g = p;
        g->cap = cap;
    }
    x = &g->g[g->n];
    memset(x, 0, sizeof *x);
    if (!(x->id = sc_strarena_dup(&g->ar, f[0], strlen(f[0]))) ||
        !(x->name = sc_strarena_dup(&g->ar, f[1], strlen(f[1]))) ||
        !(x->type = sc_strarena_dup(&g->ar, f[4], strlen(f[4]))))
        return sc_fail(SC_ENOMEM, "out of memory");
    x->length = strtoll(f[3], NULL, 10);
    x->retired = retired ? 1 : 0;
    x->succ = x->next_up = -1;
    x->qc = qc_group(x->name) & 7;
    return (int)g->n++;
}

/* Read one gene CSV; RETIRED: keep only ids not loaded yet, flagged. */
static int read_csv(sc_genes *g, const char *rel, int retired)
{
    char path[4096];
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int rc;

    if ((rc = share_open(rel, path, sizeof path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *f[5];
        int64_t k;

        if (!*line)
            continue;
        if ((rc = row_fields(l, path, line, ',', f, 5)) < 0)
            break;
        const char *up = arena_upper(&g->ar, f[1]);

        if (!up) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        /* every name of either list counts as a gene name */
        if ((rc = smap_put(&g->all_upper, up, 0, 1)) < 0)
            break;
        if (sc_strmap_get(&g->by_id, f[0]) >= 0)
            continue; /* retired list: still current */
        if ((rc = add_gene(g, f, retired)) < 0)
            break;
        k = g->n - 1;
        if ((rc = smap_put(&g->by_id, g->g[k].id, k, 1)) < 0)
            break;
        if (retired || strcmp(g->g[k].name, g->g[k].id) == 0)
            continue; /* no name of its own */
        if ((rc = smap_put(&g->by_name, g->g[k].name, k, 0)) < 0 ||
            (rc = smap_put(&g->by_upper, up, k, 0)) < 0)
            break;
        /* chain the genes of one upper-case name (candidates) */
        {
            int64_t *v;
            int added;

            if ((rc = sc_strmap_slot(&g->head_up, up, k, &v, &added)) < 0)
                break;
            if (!added) {
                g->g[k].next_up = *v;
                *v = k;
            }
        }
    }
    sc_lines_close(l);
    return rc < 0 ? rc : 0;
}

/* The version of SPECIES in a gene_info.yml.gz: "version:" of its block,
 * else the Ensembl release in its URL. */
static void read_version(const char *rel, const char *latin, char *out,
                         size_t size)
{
    char path[4096], desc[128] = "", url_rel[32] = "";
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int in = 0;

    snprintf(out, size, "unknown");
    if (share_open(rel, path, sizeof path, &l) < 0) {
        sc_err_clear();
        return;
    }
    while (sc_lines_next(l, &line, &len) > 0) {
        const char *p = line;

        if (*line && *line != ' ' && *line != '#') {
            if (in)
                break;
            continue;
        }
        while (*p == ' ')
            p++;
        if (sscanf(p, "description: %127s", desc) == 1) {
            in = strcmp(desc, latin) == 0;
        } else if (in && strncmp(p, "version:", 8) == 0) {
            p += 8;
            while (*p == ' ')
                p++;
            snprintf(out, size, "GENCODE %s", p);
            break;
        } else if (in && strncmp(p, "url:", 4) == 0) {
            const char *r = strstr(p, "release-");

            if (r && sscanf(r + 8, "%31[0-9]", url_rel) == 1)
                snprintf(out, size, "Ensembl %s", url_rel);
        }
    }
    sc_lines_close(l);
}

void sc_genes_reference_version(int species, char *buf, size_t size)
{
    if (species < 0 || species >= N_SPECIES) {
        snprintf(buf, size, "unknown");
        return;
    }
    read_version("genes/cxg-gencode/schema-7/gene_info.yml.gz",
                 species_tab[species].latin, buf, size);
}

/* Strip the double quotes HGNC puts around pipe lists. */
static char *unquote(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Append SYM to the candidate list of KEY in M (no repeats). */
static int cand_add(sc_genes *g, sc_strmap *m, const char *key, const char *sym)
{
    int64_t *v;
    int added, rc;
    const char *old = NULL;
    char *s;
    size_t n;

    if ((rc = sc_strmap_slot(m, key, (int64_t)g->n_cand, &v, &added)) < 0)
        return rc;
    if (!added) {
        old = g->cand[*v];
        n = strlen(sym);
        for (const char *p = old; (p = strstr(p, sym)) != NULL; p++)
            if ((p == old || p[-1] == '|') && (p[n] == '|' || !p[n]))
                return 0; /* listed already */
    }
    if (added && g->n_cand == g->cap_cand) {
        size_t cap = g->cap_cand ? 2 * g->cap_cand : 4096;
        const char **c = realloc(g->cand, cap * sizeof *c);

        if (!c)
            return sc_fail(SC_ENOMEM, "out of memory");
        g->cand = c;
        g->cap_cand = cap;
    }
    {
        char buf[1024];
        int w = old ? snprintf(buf, sizeof buf, "%s|%s", old, sym)
                    : snprintf(buf, sizeof buf, "%s", sym);

        if (w < 0 || (size_t)w >= sizeof buf) {
            if (old)
                return 0; /* a list this long is ambiguous enough */
            w = 0;
        }
        if (!(s = sc_strarena_dup(&g->ar, buf, (size_t)w)))
            return sc_fail(SC_ENOMEM, "out of memory");
    }
    if (added)
        g->cand[g->n_cand++] = s;
    else
        g->cand[*v] = s;
    return 0;
}

/* Record that source row OWNER (a gene index >= 0 when it resolves to a
 * current gene, else a negative key of its own) calls its gene ALIAS (upper
 * case, arena) with kind K; SYM labels the owner among the candidates. */
static int alias_add(sc_genes *g, sc_strmap *owner, const char *alias,
                     int64_t who, sc_gene_kind k, const char *sym)
{
    int rc;

    if ((rc = smap_put(owner, alias, who, 0)) < 0 ||
        (rc = smap_put(&g->alias_kind, alias, k, 1)) < 0 ||
        (rc = smap_put(&g->by_alias, alias, who >= 0 ? who : -4, 1)) < 0 ||
        (rc = cand_add(g, &g->alias_cand, alias, sym)) < 0)
        return rc;
    if (sc_strmap_get(owner, alias) == AMBIG)
        *sc_strmap_find(&g->by_alias, alias) = AMBIG;
    return 0;
}

/* Every '|'-separated name of LIST as an alias of WHO. */
static int alias_list(sc_genes *g, sc_strmap *owner, const char *list,
                      int64_t who, sc_gene_kind k, const char *sym)
{
    int rc;

    while (*list) {
        size_t n = strcspn(list, "|");
        char *a = arena_upper_n(&g->ar, list, n);

        if (!a)
            return sc_fail(SC_ENOMEM, "out of memory");
        if (*a && (rc = alias_add(g, owner, a, who, k, sym)) < 0)
            return rc;
        list += n;
        if (*list == '|')
            list++;
    }
    return 0;
}

/* The label of gene WHO among candidates: its current name, else SYM. */
static const char *owner_label(const sc_genes *g, int64_t who, const char *sym)
{
    return who >= 0 ? g->g[who].name : sym;
}

/* HGNC approved symbols, aliases and previous symbols (human). */
static int read_hgnc(sc_genes *g, sc_strmap *owner)
{
    static const char rel[] = "genes/hgnc_complete_set_2024-02-01.tsv.gz";
    char path[4096];
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int col[4] = {-1, -1, -1, -1}, rc; /* symbol alias prev ens */

    if ((rc = share_open(rel, path, sizeof path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *f[64];
        int nf = split(line, '\t', f, 64);

        if (sc_lines_lineno(l) == 1) {
            static const char *const want[4] = {
                "symbol", "alias_symbol", "prev_symbol", "ensembl_gene_id"};

            for (int i = 0; i < nf; i++)
                for (int k = 0; k < 4; k++)
                    if (strcmp(f[i], want[k]) == 0)
                        col[k] = i;
            for (int k = 0; k < 4; k++)
                if (col[k] < 0) {
                    rc = sc_fail(SC_EFORMAT, "'%s': no column '%s'", path,
                                 want[k]);
                    goto out;
                }
            continue;
        }
        int mx = col[0];

        for (int k = 1; k < 4; k++)
            mx = col[k] > mx ? col[k] : mx;
        if (nf <= mx)
            continue;
        int64_t gi = sc_strmap_get(&g->by_id, f[col[3]]);
        /* the owner: its current gene, else this HGNC row */
        int64_t who =
            gi >= 0 && !g->g[gi].retired ? gi : -16 - sc_lines_lineno(l);
        char *sym = arena_upper(&g->ar, f[col[0]]);
        const char *lab;

        if (!sym) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        lab = owner_label(g, who, f[col[0]]);
        if (who < 0 && !(lab = sc_strarena_dup(&g->ar, lab, strlen(lab)))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        /* an approved symbol maps to its gene when that is current */
        if ((rc = smap_put(&g->by_symbol, sym, who >= 0 ? who : -1, 1)) < 0 ||
            (rc = alias_list(g, owner, unquote(f[col[1]]), who, SC_GENE_ALIAS,
                             lab)) < 0 ||
            (rc = alias_list(g, owner, unquote(f[col[2]]), who, SC_GENE_PREV,
                             lab)) < 0)
            goto out;
    }
    rc = rc < 0 ? rc : 0;
out:
    sc_lines_close(l);
    return rc;
}

/* NCBI Gene's symbols and synonyms (human): a second source of names.
 * Columns GeneID, Symbol, Synonyms, Ensembl (share/genes/ncbi). */
static int read_ncbi(sc_genes *g, sc_strmap *owner)
{
    static const char rel[] = "genes/ncbi/gene_info_homo_sapiens.tsv.gz";
    char path[4096];
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int rc;

    if ((rc = share_open(rel, path, sizeof path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *f[4], *e;
        int64_t who = -1;
        int nres = 0;

        if (!*line)
            continue;
        if ((rc = row_fields(l, path, line, '\t', f, 4)) < 0)
            break;
        if (sc_lines_lineno(l) == 1) {
            if (strcmp(f[0], "GeneID") != 0 || strcmp(f[1], "Symbol") != 0) {
                rc = sc_fail(SC_EFORMAT, "'%s': not a GeneID/Symbol table",
                             path);
                break;
            }
            continue;
        }
        /* the owner: the one current gene of its Ensembl ids, else itself */
        for (e = f[3]; *e;) {
            size_t n = strcspn(e, "|");
            char save = e[n];
            int64_t gi;

            e[n] = '\0';
            gi = sc_strmap_get(&g->by_id, e);
            e[n] = save;
            if (gi >= 0 && !g->g[gi].retired && gi != who) {
                who = gi;
                nres++;
            }
            e += n + (save == '|');
        }
        if (nres != 1)
            who = -(int64_t)1000000000 - strtoll(f[0], NULL, 10);
        const char *lab = owner_label(g, who, f[1]);
        char *sym = arena_upper(&g->ar, f[1]);

        if (!sym ||
            (who < 0 && !(lab = sc_strarena_dup(&g->ar, lab, strlen(lab))))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        /* its symbol names that gene too; the synonyms are aliases */
        if ((rc = alias_add(g, owner, sym, who, SC_GENE_ALIAS, lab)) < 0 ||
            (rc = alias_list(g, owner, f[2], who, SC_GENE_ALIAS, lab)) < 0)
            break;
    }
    sc_lines_close(l);
    return rc < 0 ? rc : 0;
}

/* Aliases equal to approved symbols or GENCODE names are not aliases. */
static void shadow_aliases(sc_genes *g)
{
    for (size_t j = 0; j < g->by_alias.cap; j++) {
        const char *a = g->by_alias.key[j];

        if (!a)
            continue;
        if (sc_strmap_get(&g->all_upper, a) >= 0)
            g->by_alias.val[j] = -1; /* a gene name: resolved as a symbol */
        else if (sc_strmap_find(&g->by_symbol, a))
            g->by_alias.val[j] = SHADOWED; /* an approved symbol */
    }
}

/* The spreadsheet damage table of the species: species, damaged (upper),
 * originals, status (unique / ambiguous), restored symbols. */
static int read_damage(sc_genes *g)
{
    static const char rel[] = "genes/spreadsheet_damage.tsv.gz";
    const char *latin = species_tab[g->species].latin;
    char path[4096];
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int rc;

    if ((rc = share_open(rel, path, sizeof path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *f[5], *d;
        int64_t gi = AMBIG;

        if (!*line || sc_lines_lineno(l) == 1)
            continue;
        if ((rc = row_fields(l, path, line, '\t', f, 5)) < 0)
            break;
        if (strcmp(f[0], latin) != 0)
            continue;
        if (strcmp(f[3], "unique") == 0) {
            gi = sc_strmap_get(&g->by_name, f[4]);
            if (gi < 0 || sc_strmap_get(&g->by_upper, f[1]) >= 0)
                gi = AMBIG; /* not one current gene, or a real name */
        }
        if (!(d = arena_upper(&g->ar, f[1]))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        if ((rc = smap_put(&g->damage, d, gi, 0)) < 0)
            break;
        for (char *s = f[4]; *s;) {
            size_t n = strcspn(s, "|");
            char *c = sc_strarena_dup(&g->ar, s, n);

            if (!c) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto out;
            }
            if ((rc = cand_add(g, &g->damage_cand, d, c)) < 0)
                goto out;
            s += n + (s[n] == '|');
        }
    }
out:
    sc_lines_close(l);
    return rc < 0 ? rc : 0;
}

/* Retired ids: the one current gene of the same name is the successor. */
static void link_successors(sc_genes *g)
{
    for (int64_t i = g->n_cur; i < g->n; i++) {
        gene *x = &g->g[i];

        if (x->retired && strcmp(x->name, x->id) != 0) {
            int64_t s = sc_strmap_get(&g->by_name, x->name);

            x->succ = s >= 0 && !g->g[s].spike ? s : -1;
        }
    }
}

int sc_genes_load(int species, unsigned flags, sc_genes **out)
{
    char rel[256], v[64];
    sc_genes *g;
    int rc;

    *out = NULL;
    if (species < 0 || species >= N_SPECIES)
        return sc_fail(SC_EINVAL, "no gene reference for species %d", species);
    if (!(g = calloc(1, sizeof *g)))
        return sc_fail(SC_ENOMEM, "out of memory");
    g->species = species;
    g->flags = flags;
    snprintf(rel, sizeof rel, "genes/cxg-gencode/schema-7/genes_%s.csv.gz",
             species_tab[species].latin);
    if ((rc = read_csv(g, rel, 0)) < 0)
        goto fail;
    /* ERCC spike-ins go with every species (schema: feature ids may be
     * ERCC ids whatever the organism) */
    {
        int64_t n0 = g->n;

        if ((rc = read_csv(g, "genes/cxg-gencode/schema-7/genes_ercc.csv.gz",
                           0)) < 0)
            goto fail;
        for (int64_t i = n0; i < g->n; i++)
            g->g[i].spike = 1;
    }
    g->n_cur = g->n;
    read_version("genes/cxg-gencode/schema-7/gene_info.yml.gz",
                 species_tab[species].latin, v, sizeof v);
    snprintf(g->version, sizeof g->version, "%s", v);
    if (species <= 1 && !(flags & SC_GENES_NO_RETIRED)) {
        snprintf(rel, sizeof rel, "genes/cxg-gencode/schema-5/genes_%s.csv.gz",
                 species_tab[species].latin);
        if ((rc = read_csv(g, rel, 1)) < 0)
            goto fail;
        link_successors(g);
        read_version("genes/cxg-gencode/schema-5/gene_info.yml.gz",
                     species_tab[species].latin, v, sizeof v);
        size_t n = strlen(g->version);
        snprintf(g->version + n, sizeof g->version - n, "; retired: %s", v);
    }
    if (species == 0 && !(flags & SC_GENES_NO_HGNC)) {
        sc_strmap owner = {0}; /* upper alias -> owner, or AMBIG */

        rc = read_hgnc(g, &owner);
        if (rc == 0)
            rc = read_ncbi(g, &owner);
        sc_strmap_release(&owner);
        if (rc < 0)
            goto fail;
        shadow_aliases(g);
        size_t n = strlen(g->version);
        snprintf(g->version + n, sizeof g->version - n,
                 "; HGNC 2024-02-01; NCBI Gene 2022-09-12");
    }
    if ((rc = read_damage(g)) < 0)
        goto fail;
    *out = g;
    return 0;
fail:
    sc_genes_free(g);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Mapping */

/* Copy ID without a "_PAR_Y" suffix and an Ensembl version into BUF; sets
 * *VERSIONED and *PAR_Y. */
static void strip_id(const char *id, char *buf, size_t size, int *versioned,
                     int *par_y)
{
    size_t n = strlen(id), dot;

    *versioned = *par_y = 0;
    if (n >= 6 && strcmp(id + n - 6, "_PAR_Y") == 0) {
        n -= 6;
        *par_y = 1;
    }
    if (n >= size)
        n = size - 1;
    memcpy(buf, id, n);
    buf[n] = '\0';
    dot = n;
    while (dot > 0 && isdigit((unsigned char)buf[dot - 1]))
        dot--;
    if (dot > 1 && dot < n && buf[dot - 1] == '.') {
        buf[dot - 1] = '\0';
        *versioned = 1;
    }
}

static void upper_copy(const char *s, char *up, size_t size)
{
    snprintf(up, size, "%s", s);
    for (char *q = up; *q; q++)
        *q = (char)toupper((unsigned char)*q);
}

static int64_t map_symbol(const sc_genes *g, const char *s, sc_gene_kind *k)
{
    int64_t i = sc_strmap_get(&g->by_name, s);
    char up[512];

    upper_copy(s, up, sizeof up);
    /* names that differ only in case are ambiguous too (CD4 / Cd4 style
     * clashes inside one list) */
    if (i == AMBIG || (i >= 0 && sc_strmap_get(&g->by_upper, up) == AMBIG)) {
        *k = SC_GENE_AMBIGUOUS_SYMBOL;
        return -1;
    }
    if (i >= 0) {
        *k = SC_GENE_SYMBOL;
        return i;
    }
    /* every species: one gene whatever the case */
    i = sc_strmap_get(&g->by_upper, up);
    if (i >= 0 || i == AMBIG) {
        *k = i >= 0 ? SC_GENE_CASE : SC_GENE_AMBIGUOUS_SYMBOL;
        return i >= 0 ? i : -1;
    }
    /* a spreadsheet-damaged symbol */
    i = sc_strmap_get(&g->damage, up);
    if (i >= 0 || i == AMBIG) {
        *k = i >= 0 ? SC_GENE_RESTORED : SC_GENE_AMBIGUOUS_RESTORED;
        return i >= 0 ? i : -1;
    }
    if (g->species != 0)
        return -1; /* no aliases for the others */
    if (sc_strmap_get(&g->all_upper, up) >= 0)
        return -1; /* a retired gene's name */
    i = sc_strmap_get(&g->by_symbol, up);
    if (i >= 0) {
        *k = SC_GENE_SYMBOL;
        return i;
    }
    i = sc_strmap_get(&g->by_alias, up);
    if (i >= 0) {
        *k = (sc_gene_kind)sc_strmap_get(&g->alias_kind, up);
        return i;
    }
    if (i == AMBIG)
        *k = SC_GENE_AMBIGUOUS_ALIAS;
    else if (i == SHADOWED)
        *k = SC_GENE_SHADOWED_ALIAS;
    return -1;
}

int64_t sc_genes_map(const sc_genes *g, const char *name, sc_gene_kind *kind)
{
    sc_gene_kind k = SC_GENE_UNKNOWN;
    char buf[512];
    int versioned, par_y, sp;
    int64_t i = -1;
    const char *u;

    if (!kind)
        kind = &k;
    *kind = SC_GENE_UNKNOWN;
    while (*name == ' ')
        name++;
    strip_id(name, buf, sizeof buf, &versioned, &par_y);
    sp = sc_genes_species_of_id(buf);
    if (sp >= 0 && sp != g->species) {
        *kind = SC_GENE_FOREIGN;
        return -1;
    }
    if (sp == g->species || par_y || sc_genes_is_spike_in(buf)) {
        i = sc_strmap_get(&g->by_id, buf);
        if (i >= 0 && g->g[i].retired) {
            /* forward to the successor, or kept on request */
            *kind = SC_GENE_RETIRED;
            if (g->flags & SC_GENES_KEEP_RETIRED)
                return i;
            if (g->g[i].succ < 0)
                *kind = SC_GENE_RETIRED_DROPPED;
            return g->g[i].succ;
        }
        if (i >= 0)
            *kind = par_y       ? SC_GENE_PAR_Y
                    : versioned ? SC_GENE_ID_VERSIONED
                                : SC_GENE_ID;
        return i;
    }
    /* a symbol */
    if ((i = map_symbol(g, name, kind)) >= 0 || *kind != SC_GENE_UNKNOWN)
        return i;
    /* legacy SYMBOL_ENSG... */
    if ((u = strrchr(name, '_')) && sc_genes_species_of_id(u + 1) >= 0) {
        i = sc_genes_map(g, u + 1, kind);
        if (i >= 0)
            *kind = SC_GENE_SYMBOL_ENSG;
        return i;
    }
    /* "NAME-1" or "NAME-1-dup" made unique from a duplicate name */
    snprintf(buf, sizeof buf, "%s", name);
    size_t n = strlen(buf);

    if (n > 4 && strcmp(buf + n - 4, "-dup") == 0)
        buf[n -= 4] = '\0';
    while (n > 0 && isdigit((unsigned char)buf[n - 1]))
        n--;
    if (n > 1 && n < strlen(buf) && buf[n - 1] == '-') {
        sc_gene_kind bk;

        buf[n - 1] = '\0';
        if (map_symbol(g, buf, &bk) >= 0 || bk != SC_GENE_UNKNOWN ||
            sc_strmap_get(&g->by_id, buf) >= 0)
            *kind = SC_GENE_MADE_UNIQUE;
    }
    return -1;
}

void sc_genes_candidates(const sc_genes *g, const char *name, sc_gene_kind kind,
                         char *buf, size_t size)
{
    char up[512];
    size_t used = 0;
    int64_t c;

    buf[0] = '\0';
    while (*name == ' ')
        name++;
    upper_copy(name, up, sizeof up);
    switch (kind) {
    case SC_GENE_AMBIGUOUS_SYMBOL:
        for (int64_t i = sc_strmap_get(&g->head_up, up); i >= 0 && used < size;
             i = g->g[i].next_up) {
            int w = snprintf(buf + used, size - used, "%s%s:%s",
                             used ? "|" : "", g->g[i].id, g->g[i].name);

            if (w < 0)
                break;
            used += (size_t)w;
        }
        break;
    case SC_GENE_AMBIGUOUS_ALIAS:
    case SC_GENE_SHADOWED_ALIAS:
        if ((c = sc_strmap_get(&g->alias_cand, up)) >= 0)
            snprintf(buf, size, "%s", g->cand[c]);
        break;
    case SC_GENE_AMBIGUOUS_RESTORED:
        if ((c = sc_strmap_get(&g->damage_cand, up)) >= 0)
            snprintf(buf, size, "%s", g->cand[c]);
        break;
    default: break;
    }
    if (size && used >= size)
        buf[size - 1] = '\0';
}

/* ------------------------------------------------------------------------ */

int sc_genes_orthologs(const sc_genes *from, const sc_genes *to, int64_t **out)
{
    char path[4096];
    sc_lines *l = NULL;
    char *line;
    size_t len;
    int64_t *map;
    int rc, human_from;

    *out = NULL;
    if (!((from->species == 0 && to->species == 1) ||
          (from->species == 1 && to->species == 0)))
        return sc_fail(SC_EINVAL, "orthologs are known for human and mouse "
                                  "only");
    human_from = from->species == 0;
    if (!(map = malloc((size_t)(from->n ? from->n : 1) * sizeof *map)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < from->n; i++)
        map[i] = -1;
    if ((rc = share_open("genes/orthologs/human_mouse_orthologs_ensembl.tsv.gz",
                         path, sizeof path, &l)) < 0) {
        free(map);
        return rc;
    }
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *f[12];

        if (sc_lines_lineno(l) == 1)
            continue;
        if (split(line, '\t', f, 12) < 11)
            continue;
        if (strcmp(f[10], "one2one") != 0)
            continue;
        int64_t h = sc_strmap_get(human_from ? &from->by_id : &to->by_id, f[0]);
        int64_t m = sc_strmap_get(human_from ? &to->by_id : &from->by_id, f[3]);

        if (h < 0 || m < 0)
            continue;
        if (human_from)
            map[h] = m;
        else
            map[m] = h;
    }
    sc_lines_close(l);
    if (rc < 0) {
        free(map);
        return rc;
    }
    *out = map;
    return 0;
}

/* ---- gene-list files ---- */

int sc_genes_list_read(const char *path, char ***genes, size_t *n)
{
    sc_lines *l = NULL;
    char *line, **v = NULL;
    size_t len, cap = 0, k = 0;
    int rc;

    *genes = NULL;
    *n = 0;
    if ((rc = sc_lines_open(path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *s = line + strspn(line, " \t");

        s[strcspn(s, " \t\r#")] = '\0';
        if (!*s)
            continue;
        if (k == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            char **p = realloc(v, nc * sizeof *p);

            if (!p) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
            v = p;
            cap = nc;
        }
        if (!(v[k] = strdup(s))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        k++;
    }
    if (rc == 0 && k == 0)
        rc = sc_fail(SC_EFORMAT, "gene list '%s' has no gene ids",
                     sc_lines_name(l));
    sc_lines_close(l);
    if (rc < 0) {
        sc_genes_list_free(v, k);
        return rc;
    }
    *genes = v;
    *n = k;
    return 0;
}

void sc_genes_list_free(char **genes, size_t n)
{
    for (size_t i = 0; genes && i < n; i++)
        free(genes[i]);
    free(genes);
}
