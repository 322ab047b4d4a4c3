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

/* A table cell that links to the report page HREF (relative, made of
 * [A-Za-z0-9_./-] only: the page's script refuses any other) showing TEXT. */
json_t *sc_report_link(const char *text, const char *href);

/* A report being written: its pages go to a new directory beside DIR,
 * renamed to DIR when every page is written. */
typedef struct sc_report sc_report;

/*
 * Start the report DIR (it must not exist, or be an empty directory): a
 * new directory "DIR.tmp.XXXXXX" beside it holding sc-report.js, the
 * vendored vega, vega-lite, vega-embed and dagre bundles
 * (share/report/vendor/, gzip-compressed) and the page script that every page
 * loads from disk (no network). Returns 0, or SC_EIO / SC_ECORRUPT / SC_EEXIST
 * / SC_ENOMEM with the message; nothing is left behind on failure.
 */
SC_MUST_CHECK int sc_report_open(const char *dir, sc_report **out);

/*
 * Write the page FILE ("index.html", "d/12.html": a relative name of
 * [A-Za-z0-9_.-] parts, at most one directory deep) titled TITLE with
 * PAGE, an object {"links"?: [[text, href]...], "sections": [{"title",
 * "text"?, "charts"?: [spec...], "table"?: {"columns": [...],
 * "rows": [[cell...]...]}}...]}, where a cell is a string, a number or a
 * link (sc_report_link). A section may also hold "graph": {"nodes":
 * [{"key", "label", "kind", "href"?, "start"?: true}...], "edges": [[from
 * key, to key]...]}, a directed graph laid out in the page by the vendored
 * dagre (layered, top to bottom) and drawn with Vega marks: a box per node
 * coloured by its kind, showing the label's last two path parts (the whole
 * label as tooltip), linked to HREF (a page in the same directory, made of
 * [A-Za-z0-9_.-] only), the START node outlined. Every string is shown as
 * text (never parsed as HTML); tables are paginated, 50 rows a page.
 * Returns 0 or an error.
 */
SC_MUST_CHECK int sc_report_page(sc_report *r, const char *file,
                                 const char *title, const json_t *page);

/* Write the data file FILE (named as sc_report_page's pages are) holding
 * the LEN bytes of DATA, e.g. a TSV a page links to. Returns 0 or an
 * error. */
SC_MUST_CHECK int sc_report_file(sc_report *r, const char *file,
                                 const char *data, size_t len);

/* Finish R: with RC 0 rename its directory to DIR (SC_EEXIST when DIR is
 * not empty), else remove everything written. Returns RC or the commit's
 * error. R is freed either way; NULL is a no-op returning RC. */
SC_MUST_CHECK int sc_report_close(sc_report *r, int rc);

#endif
