/* sc_cxg_refs: the reference data a CELLxGENE schema version names
 * (ontologies, gene references, gene sets) and which of it share/ holds. */
/* SPDX-License-Identifier: MIT */
#include "sc_cxg.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_cxg_int.h"
#include "sc_io.h"

/* ---- reference data ---- */

void sc_cxg_refs_free(sc_cxg_ref *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].kind);
        free(v[i].name);
        free(v[i].version);
        free(v[i].url);
        free(v[i].dest);
    }
    free(v);
}

struct refs {
    sc_cxg_ref *v;
    size_t n, cap;
    const char *index; /* the file being read, for messages */
};

/* Replace every "{KEY}" in TPL by VAL: a new string, or NULL. */
static char *fill(const char *tpl, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val), n = strlen(tpl) + 1;
    const char *p;
    char *out, *w;

    for (p = tpl; (p = strstr(p, key)); p += kl)
        n += vl;
    if (!(out = malloc(n)))
        return NULL;
    for (w = out, p = tpl; *p;) {
        if (!strncmp(p, key, kl)) {
            memcpy(w, val, vl);
            w += vl;
            p += kl;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* Add a reference; DEST is built from the checked PARTS (NULL-ended). */
static int refs_add(struct refs *r, const char *kind, const char *name,
                    const char *version, const char *url,
                    const char *const *parts)
{
    sc_cxg_ref *e;
    size_t len = 1;
    int rc;

    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].url, url))
            return 0;
    for (int i = 0; parts[i]; i++) {
        if ((rc = sc_http_name_check(parts[i])) < 0)
            return sc_fail_ctx(SC_EFORMAT, "'%s'", r->index);
        len += strlen(parts[i]) + 1;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        sc_cxg_ref *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        r->v = v;
        r->cap = cap;
    }
    e = &r->v[r->n];
    memset(e, 0, sizeof *e);
    r->n++;
    if (!(e->kind = strdup(kind)) || !(e->name = strdup(name)) ||
        !(e->version = strdup(version)) || !(e->url = strdup(url)) ||
        !(e->dest = malloc(len)))
        return sc_fail(SC_ENOMEM, "out of memory");
    e->dest[0] = '\0';
    for (int i = 0; parts[i]; i++) {
        if (i)
            strcat(e->dest, "/");
        strcat(e->dest, parts[i]);
    }
    return 0;
}

static int refs_ontologies(struct refs *r, const char *path,
                           const char *schema_version)
{
    json_t *root = NULL, *onts, *o;
    const char *ont;
    size_t len;
    char *text;
    int rc;

    if ((rc = sc_io_read_file(path, &text, &len)) < 0)
        return rc;
    r->index = path;
    if ((rc = cxg_parse_json(text, len, path, &root)) < 0)
        goto out;
    onts = root;
    if (schema_version) {
        onts = json_object_get(root, schema_version);
        if (!onts) {
            rc = sc_fail(SC_ENOTFOUND, "'%s': no schema version '%s'", path,
                         schema_version);
            goto out;
        }
    }
    onts = json_object_get(onts, "ontologies");
    if (!json_is_object(onts)) {
        rc = sc_fail(SC_EFORMAT, "'%s': no \"ontologies\" object", path);
        goto out;
    }
    json_object_foreach(onts, ont, o)
    {
        const char *src = json_string_value(json_object_get(o, "source"));
        const char *file = json_string_value(json_object_get(o, "filename"));
        const char *ver = json_string_value(json_object_get(o, "version"));
        char *u1 = NULL, *url = NULL;
        if (!src || !file) {
            rc = sc_fail(SC_EFORMAT,
                         "'%s': ontology '%s' has no source or "
                         "filename",
                         path, ont);
            break;
        }
        if (!ver)
            ver = "";
        if (!(u1 = fill(src, "{version}", ver)) ||
            !(url = fill(u1, "{filename}", file))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
        } else {
            const char *parts[] = {"ontology", ont, ver[0] ? ver : "current",
                                   file, NULL};
            rc = refs_add(r, "ontology", ont, ver, url, parts);
        }
        free(u1);
        free(url);
        if (rc < 0)
            break;
    }
out:
    json_decref(root);
    free(text);
    return rc;
}

/* Trim spaces and one pair of quotes around S, in place. */
static char *yaml_scalar(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s) {
        e[-1] = '\0';
        s++;
    }
    return s;
}

/* gene_info.yml: "key:" lines, each followed by indented "url:" and an
 * optional "version:" (the two-level layout the validator uses). */
static int refs_genes(struct refs *r, const char *path, const char *set,
                      const char *sub)
{
    char *text, *line, *save = NULL, key[128] = "", url[2048] = "",
                       ver[128] = "";
    size_t len;
    int rc;

    if ((rc = sc_io_read_file(path, &text, &len)) == SC_ENOTFOUND) {
        sc_err_clear(); /* no such file: nothing to add */
        return 0;
    }
    if (rc < 0)
        return rc;
    r->index = path;
    for (line = strtok_r(text, "\n", &save);;
         line = strtok_r(NULL, "\n", &save)) {
        int top = line && line[0] != ' ' && line[0] != '\t' && line[0] != '#';
        if ((!line || top) && key[0] && url[0]) {
            char *u = fill(url, "{version}", ver);
            const char *base = u ? strrchr(u, '/') : NULL;
            if (!u)
                rc = sc_fail(SC_ENOMEM, "out of memory");
            else if (!base || !base[1])
                rc = sc_fail(SC_EFORMAT, "'%s': no file name in '%s'", path, u);
            else {
                const char *parts[] = {"genes",
                                       set,
                                       sub ? sub : key,
                                       sub ? key : base + 1,
                                       sub ? base + 1 : NULL,
                                       NULL};
                rc = refs_add(r, "genes", key, ver, u, parts);
            }
            free(u);
            if (rc < 0)
                break;
        }
        if (!line)
            break;
        if (top) {
            char *colon = strchr(line, ':');
            key[0] = url[0] = ver[0] = '\0';
            if (colon && !*yaml_scalar(colon + 1)) {
                *colon = '\0';
                snprintf(key, sizeof key, "%s", yaml_scalar(line));
            }
        } else if (key[0]) {
            char *s = yaml_scalar(line), *colon = strchr(s, ':');
            if (!colon)
                continue;
            *colon = '\0';
            if (!strcmp(s, "url"))
                snprintf(url, sizeof url, "%s", yaml_scalar(colon + 1));
            else if (!strcmp(s, "version"))
                snprintf(ver, sizeof ver, "%s", yaml_scalar(colon + 1));
        }
    }
    free(text);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The sorted names in directory PATH, without hidden ones; a missing or
 * unreadable directory has none. Returns 0 or SC_ENOMEM. */
static int list_dir(const char *path, char ***out, size_t *n)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char **v = NULL;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char **nv;
        if (e->d_name[0] == '.')
            continue;
        if (!(nv = realloc(v, (*n + 1) * sizeof *nv))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        v = nv;
        if (!(v[*n] = strdup(e->d_name))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc < 0) {
        names_free(v, *n);
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    *out = v;
    return 0;
}

/* genes/SET/gene_info.yml or genes/SET/SUB/gene_info.yml. */
static int refs_gene_sets(struct refs *r, const char *share, int *found)
{
    char **sets, **subs, path[4096];
    size_t ns, nsub;
    int rc;

    snprintf(path, sizeof path, "%s/genes", share);
    if ((rc = list_dir(path, &sets, &ns)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < ns; i++) {
        snprintf(path, sizeof path, "%s/genes/%s/gene_info.yml", share,
                 sets[i]);
        if (access(path, F_OK) == 0) {
            *found = 1;
            rc = refs_genes(r, path, sets[i], NULL);
            continue;
        }
        snprintf(path, sizeof path, "%s/genes/%s", share, sets[i]);
        if ((rc = list_dir(path, &subs, &nsub)) < 0)
            break;
        for (size_t j = 0; rc == 0 && j < nsub; j++) {
            snprintf(path, sizeof path, "%s/genes/%s/%s/gene_info.yml", share,
                     sets[i], subs[j]);
            if (access(path, F_OK) != 0)
                continue;
            *found = 1;
            rc = refs_genes(r, path, sets[i], subs[j]);
        }
        names_free(subs, nsub);
    }
    names_free(sets, ns);
    return rc;
}

int sc_cxg_refs(const char *share, const char *schema_version, sc_cxg_ref **out,
                size_t *n)
{
    struct refs r = {0};
    char path[4096];
    int rc, found = 0;

    *out = NULL;
    *n = 0;
    snprintf(path, sizeof path, "%s/ontology/cxg-guide/%s", share,
             schema_version ? "ontology_info.json"
                            : "latest_ontology_info.json");
    rc = refs_ontologies(&r, path, schema_version);
    if (rc == 0)
        found = 1;
    else if (rc == SC_ENOTFOUND && access(path, F_OK) != 0)
        rc = 0; /* no ontology index: the genes may still be there */
    if (rc == 0)
        rc = refs_gene_sets(&r, share, &found);
    if (rc == 0 && !found)
        rc = sc_fail(SC_ENOTFOUND, "no reference index under '%s'", share);
    if (rc < 0) {
        sc_cxg_refs_free(r.v, r.n);
        return rc;
    }
    *out = r.v;
    *n = r.n;
    return 0;
}
