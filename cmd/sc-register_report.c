/* sc-register report: a static HTML report of the registry's datasets. */
/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>

#include "sc-register.h"
#include "sc_log.h"
#include "sc_report.h"

/* What the report collects from the query's artifacts. */
struct collect {
    json_t *rows;     /* the datasets table */
    json_t *sizes;    /* [{"n_obs", "n_vars"}] for the histograms */
    json_t *organism; /* name -> cells */
    json_t *assay;
    int64_t n, cells;
    int rc;
};

static void add_to(json_t *by, const char *key, int64_t n)
{
    json_t *v = json_object_get(by, key && *key ? key : "(none)");

    json_object_set_new(by, key && *key ? key : "(none)",
                        json_integer(json_integer_value(v) + n));
}

static int collect_artifact(const sc_reg_artifact *x, void *ud)
{
    struct collect *c = ud;
    json_t *row;

    row = json_pack("[I, s, s, I, I, s, s, I]", (json_int_t)x->id, x->path,
                    x->format, (json_int_t)x->n_obs, (json_int_t)x->n_vars,
                    x->organism ? x->organism : "", x->assay ? x->assay : "",
                    (json_int_t)x->version);
    if (!row || json_array_append_new(c->rows, row) < 0 ||
        json_array_append_new(
            c->sizes, json_pack("{s:I, s:I}", "n_obs", (json_int_t)x->n_obs,
                                "n_vars", (json_int_t)x->n_vars)) < 0)
        return c->rc = sc_fail(SC_ENOMEM, "out of memory");
    add_to(c->organism, x->organism, x->n_obs);
    add_to(c->assay, x->assay, x->n_obs);
    c->n++;
    c->cells += x->n_obs;
    return 0;
}

/* BY (name -> cells) as an array of {"name", "cells"}. */
static json_t *values_of(json_t *by)
{
    json_t *out = json_array(), *v;
    const char *k;

    json_object_foreach(by, k, v) json_array_append_new(
        out, json_pack("{s:s, s:O}", "name", k, "cells", v));
    return out;
}

struct terms {
    json_t *values;
    size_t n, max;
};

static int collect_term(const char *term, const char *label, int64_t n_cells,
                        int64_t n_datasets, void *ud)
{
    struct terms *t = ud;
    char name[512];

    (void)n_datasets;
    if (t->n++ >= t->max) /* most cells first: keep the top ones */
        return 0;
    snprintf(name, sizeof name, "%s (%s)", label && *label ? label : term,
             term);
    json_array_append_new(t->values, json_pack("{s:s, s:I}", "name", name,
                                               "cells", (json_int_t)n_cells));
    return 0;
}

/* The overview section's charts of cells per term of each field. */
static int term_charts(sc_registry *reg, json_t *charts)
{
    static const char *const fields[] = {"cell_type", "tissue", "disease"};
    char title[128];
    int rc;

    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        struct terms t = {json_array(), 0, 30};

        rc = sc_registry_counts(reg, 0, fields[i], collect_term, &t);
        if (rc < 0) {
            json_decref(t.values);
            return rc;
        }
        if (t.n > t.max)
            snprintf(title, sizeof title, "Cells per %s (top %zu of %zu)",
                     fields[i], t.max, t.n);
        else
            snprintf(title, sizeof title, "Cells per %s", fields[i]);
        json_array_append_new(charts,
                              sc_report_bars(title, t.values, "name", "cells"));
    }
    return 0;
}

int cmd_report(struct args *a, int argc, char **argv)
{
    struct query q;
    struct collect c = {0};
    sc_registry *reg = NULL;
    json_t *report = NULL, *charts, *sections;
    const char *dir = strcmp(a->output, "-") ? a->output : "sc-report";
    char text[256];
    int rc;

    (void)argv;
    if (argc > 0)
        return usage_fail("report takes options (query filters), not "
                          "operands");
    if ((rc = query_build(a, &q)) < 0)
        return rc;
    c.rows = json_array();
    c.sizes = json_array();
    c.organism = json_object();
    c.assay = json_object();
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0)
        goto out;
    if ((rc = sc_registry_query(reg, &q.q, collect_artifact, &c)) < 0 ||
        (rc = c.rc) < 0)
        goto out;
    charts = json_array();
    json_array_append_new(charts, sc_report_bars("Cells per organism",
                                                 values_of(c.organism), "name",
                                                 "cells"));
    json_array_append_new(
        charts,
        sc_report_bars("Cells per assay", values_of(c.assay), "name", "cells"));
    if ((rc = term_charts(reg, charts)) < 0) {
        json_decref(charts);
        goto out;
    }
    snprintf(text, sizeof text,
             "%" PRId64 " datasets, %" PRId64 " cells (cells per term: every "
             "latest dataset)",
             c.n, c.cells);
    sections = json_pack(
        "[{s:s, s:s, s:o}, {s:s, s:[o, o], s:{s:[s, s, s, s, s, s, s, s], "
        "s:O}}]",
        "title", "Overview", "text", text, "charts", charts, "title",
        "Datasets", "charts",
        sc_report_histogram("Cells per dataset", json_copy(c.sizes), "n_obs",
                            1),
        sc_report_histogram("Genes per dataset", json_copy(c.sizes), "n_vars",
                            0),
        "table", "columns", "id", "path", "format", "cells", "genes",
        "organism", "assay", "version", "rows", c.rows);
    report = json_pack("{s:o}", "sections", sections);
    if (!report) {
        rc = sc_fail(SC_ENOMEM, "cannot build the report: out of memory");
        goto out;
    }
    if ((rc = sc_report_write(dir, "sc-register report", report)) == 0) {
        sc_log_info("%" PRId64 " datasets", c.n);
        printf("%s/index.html\n", dir);
    }
out:
    json_decref(report);
    json_decref(c.rows);
    json_decref(c.sizes);
    json_decref(c.organism);
    json_decref(c.assay);
    query_release(&q);
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}
