/* sc_provenance: the steps of uns['provenance'] (sc-register(1)). */
/* SPDX-License-Identifier: MIT */
#include "sc_provenance.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sc_cli.h"

void sc_time_iso(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        buf[0] = '\0';
}

void sc_provenance_time(char *buf, size_t size)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    int64_t t = (int64_t)time(NULL), v;
    char iso[32];

    if (sde && *sde && sc_parse_int(sde, 0, INT64_MAX, &v) == 0)
        t = v;
    sc_err_clear();
    sc_time_iso(t, iso);
    snprintf(buf, size, "%s", iso);
}

/* Add the string KEY = VAL to DICT unless VAL is NULL or "". */
static int put(sc_elem *dict, const char *key, const char *val)
{
    sc_elem *e;

    if (!val || !*val)
        return 0;
    if (!(e = sc_elem_new_string(key, val)))
        return SC_ENOMEM;
    return sc_elem_add_take(dict, e);
}

int sc_provenance_add(sc_elem *uns, const sc_prov_step *s, int *replaced)
{
    sc_elem *p = sc_elem_get(uns, "provenance"), *step = NULL, *refs = NULL;
    char name[32], when[32], host[256];
    int rc = 0;

    if (replaced)
        *replaced = 0;
    if (!s->tool || !*s->tool)
        return sc_fail(SC_EINVAL, "a provenance step needs a tool");
    sc_provenance_time(when, sizeof when);
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    snprintf(name, sizeof name, "%zu",
             p && p->kind == SC_K_DICT ? p->n_child : (size_t)0);
    if (!(step = sc_elem_new(SC_K_DICT, name)) ||
        !(refs = sc_elem_new(SC_K_DICT, "references")))
        goto oom;
    if ((rc = put(step, "tool", s->tool)) < 0 ||
        (rc = put(step, "version", s->version)) < 0 ||
        (rc = put(step, "arguments", s->arguments)) < 0 ||
        (rc = put(step, "time", when)) < 0 ||
        (rc = put(step, "host", host)) < 0 ||
        (rc = put(step, "input_sha256", s->input_sha256)) < 0 ||
        (rc = put(step, "input_path", s->input_path)) < 0)
        goto fail;
    for (size_t i = 0; i < s->n_refs; i++)
        if ((rc = put(refs, s->ref_names[i], s->ref_versions[i])) < 0)
            goto fail;
    rc = sc_elem_add_take(step, refs);
    refs = NULL;
    if (rc < 0)
        goto fail;
    if (p && p->kind != SC_K_DICT) {
        sc_elem_remove(uns, "provenance");
        p = NULL;
        if (replaced)
            *replaced = 1;
    }
    if (!p) {
        if (!(p = sc_elem_new(SC_K_DICT, "provenance")))
            goto oom;
        if ((rc = sc_elem_add_take(uns, p)) < 0)
            goto fail;
    }
    return sc_elem_add_take(p, step);
oom:
    rc = sc_fail(SC_ENOMEM, "out of memory");
fail:
    sc_elem_free(step);
    sc_elem_free(refs);
    return rc;
}
