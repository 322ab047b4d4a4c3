/* sc-annotate validate: datasets against the CELLxGENE schema rules. */
/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "sc-annotate.h"
#include "sc_adata.h"
#include "sc_log.h"
#include "sc_schema.h"

static int one(const struct args *a, const sc_onto *o, const sc_schema *s,
               FILE *fp, const char *path, int *invalid)
{
    sc_schema_report rep = SC_SCHEMA_REPORT_INIT;
    sc_adata *ad = NULL;
    int rc;

    if ((rc = sc_adata_probe(path, 0)) < 0 ||
        (rc = sc_adata_open(path, 0, &ad)) < 0)
        return rc;
    rc = sc_schema_validate(s, o, ad, a->submission ? SC_SCHEMA_SUBMISSION : 0,
                            &rep);
    sc_adata_close(ad);
    if (rc < 0)
        goto out;
    if (a->json) {
        json_t *err = json_array(), *warn = json_array();
        json_t *cls = json_array();

        for (size_t i = 0; i < rep.n; i++) {
            json_array_append_new(rep.level[i] == SC_SCHEMA_ERROR ? err : warn,
                                  json_string(rep.text[i]));
            if (rep.level[i] == SC_SCHEMA_ERROR)
                json_array_append_new(
                    cls, json_string(sc_schema_class(rep.text[i])));
        }
        rc = ann_put_json(fp,
                          json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "path",
                                    path, "schema", sc_schema_title(s), "valid",
                                    rep.n_errors == 0, "errors", err,
                                    "error_classes", cls, "warnings", warn));
    } else {
        for (size_t i = 0; i < rep.n; i++)
            fprintf(fp, "%s: %s: %s\n", path,
                    rep.level[i] == SC_SCHEMA_ERROR ? "ERROR" : "WARNING",
                    rep.text[i]);
        fprintf(fp, "%s: %s (%zu errors, %zu warnings)\n", path,
                rep.n_errors ? "invalid" : "valid", rep.n_errors,
                rep.n_warnings);
    }
    if (rep.n_errors)
        (*invalid)++;
out:
    sc_schema_report_release(&rep);
    return rc;
}

int ann_cmd_validate(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                     char **argv)
{
    sc_schema *s = NULL;
    int rc, invalid = 0, failed = 0;

    if ((rc = sc_schema_load(NULL, &s)) < 0)
        return rc;
    for (int i = 0; i < argc; i++) {
        if ((rc = one(a, o, s, fp, argv[i], &invalid)) < 0) {
            if (!a->keep_going)
                break;
            sc_log_warn("%s", sc_errmsg());
            failed++;
            rc = 0;
        }
    }
    sc_schema_free(s);
    if (rc < 0)
        return rc;
    if (invalid)
        return sc_fail(SC_EREJECT, "%d of %d datasets not valid", invalid,
                       argc);
    return failed ? SC_EXIT_PARTIAL : 0;
}
