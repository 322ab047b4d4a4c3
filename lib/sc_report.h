/* sc_report: a static, self-contained HTML report of data and Vega-Lite
 * chart specs, rendered in the page by the vendored Vega libraries. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_REPORT_H
#define SC_REPORT_H

#include <jansson.h>

#include "sc_err.h"

/* A Vega-Lite bar chart of VALUES (an array of objects, stolen) with the
 * category field CAT (nominal, sorted by the value) and the quantity
 * field NUM, titled TITLE. NULL when out of memory. */
json_t *sc_report_bars(const char *title, json_t *values, const char *cat,
                       const char *num);

/* A Vega-Lite histogram of the numeric field FIELD of VALUES (stolen),
 * log-scaled when LOG is non-zero (computed as log10 of the field). */
json_t *sc_report_histogram(const char *title, json_t *values,
                            const char *field, int log);

/*
 * Write the report to DIR/index.html (DIR is created; the file must not
 * exist yet): the page titled TITLE, the vendored vega, vega-lite and
 * vega-embed bundles (share/report/vendor/, gzip-compressed) inlined, and
 * REPORT, an object {"sections": [{"title", "text"?, "charts": [spec...],
 * "table"?: {"columns": [...], "rows": [[...]...]}}...]}, rendered by the
 * page's script (tables paginated, 50 rows a page). Returns 0, or SC_EIO /
 * SC_ECORRUPT / SC_EEXIST / SC_ENOMEM with the message; nothing is left
 * behind on failure.
 */
SC_MUST_CHECK int sc_report_write(const char *dir, const char *title,
                                  const json_t *report);

#endif
