/* sc_report: a static, self-contained HTML report (see sc_report.h). */
/* SPDX-License-Identifier: MIT */
#include "sc_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sc_io.h"
#include "sc_share.h"

json_t *sc_report_bars(const char *title, json_t *values, const char *cat,
                       const char *num)
{
    return json_pack(
        "{s:s, s:s, s:{s:o}, s:s, s:{s:{s:s, s:s, s:{s:s, s:s}, s:n}, "
        "s:{s:s, s:s}, s:[{s:s, s:s}, {s:s, s:s}]}}",
        "$schema", "https://vega.github.io/schema/vega-lite/v5.json", "title",
        title, "data", "values", values, "mark", "bar", "encoding", "y",
        "field", cat, "type", "nominal", "sort", "op", "sum", "field", num,
        "title", "x", "field", num, "type", "quantitative", "tooltip", "field",
        cat, "type", "nominal", "field", num, "type", "quantitative");
}

json_t *sc_report_histogram(const char *title, json_t *values,
                            const char *field, int log)
{
    char expr[256];
    const char *as = field;

    if (log) {
        snprintf(expr, sizeof expr, "log(max(datum['%s'], 1)) / LN10", field);
        as = "log10";
    }
    return json_pack(
        "{s:s, s:s, s:{s:o}, s:[{s:s, s:s}], s:s, s:{s:{s:{s:i}, s:s, s:s, "
        "s:s}, s:{s:s, s:s}}}",
        "$schema", "https://vega.github.io/schema/vega-lite/v5.json", "title",
        title, "data", "values", values, "transform", "calculate",
        log ? expr : "1", "as", log ? as : "_one", "mark", "bar", "encoding",
        "x", "bin", "maxbins", 30, "field", log ? as : field, "type",
        "quantitative", "title", log ? "log10" : field, "y", "aggregate",
        "count", "type", "quantitative");
}

/* Copy the gzip-compressed share file REL, decompressed, to FP. */
static int copy_vendor(FILE *fp, const char *rel)
{
    char path[4096], buf[65536];
    gzFile gz;
    int n, rc;

    if ((rc = sc_share_path(rel, path, sizeof path)) < 0)
        return sc_fail(rc, "share file name too long: '%s'", rel);
    if (!(gz = gzopen(path, "rb")))
        return sc_fail(SC_EIO, "cannot open '%s': %s", path,
                       errno ? strerror(errno) : "out of memory");
    while ((n = gzread(gz, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, fp) != (size_t)n) {
            rc =
                sc_fail(SC_EIO, "cannot write the report: %s", strerror(errno));
            break;
        }
    if (n < 0 && rc == 0) {
        int e;
        rc = sc_fail(SC_ECORRUPT, "'%s': %s", path, gzerror(gz, &e));
    }
    gzclose(gz);
    return rc;
}

/* The page's script: render REPORT's sections, charts and tables. */
static const char page_script[] =
    "(function () {\n"
    "  var report = "
    "JSON.parse(document.getElementById('sc-data').textContent);\n"
    "  var main = document.getElementById('sc-main');\n"
    "  var nav = document.getElementById('sc-nav');\n"
    "  function el(tag, text, cls) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (text != null) e.textContent = text;\n"
    "    if (cls) e.className = cls;\n"
    "    return e;\n"
    "  }\n"
    "  function table(t, box) {\n"
    "    var page = 0, per = 50, pages = Math.max(1, Math.ceil(t.rows.length / "
    "per));\n"
    "    var tab = el('table'), info = el('span'), bar = el('div', null, "
    "'pager');\n"
    "    var prev = el('button', '\\u2190'), next = el('button', '\\u2192');\n"
    "    function show() {\n"
    "      tab.textContent = '';\n"
    "      var tr = el('tr');\n"
    "      t.columns.forEach(function (c) { tr.appendChild(el('th', c)); });\n"
    "      tab.appendChild(tr);\n"
    "      t.rows.slice(page * per, page * per + per).forEach(function (r) {\n"
    "        var tr = el('tr');\n"
    "        r.forEach(function (v) { tr.appendChild(el('td', v)); });\n"
    "        tab.appendChild(tr);\n"
    "      });\n"
    "      info.textContent = ' page ' + (page + 1) + ' of ' + pages + ' (' +\n"
    "        t.rows.length + ' rows) ';\n"
    "    }\n"
    "    prev.onclick = function () { if (page > 0) { page--; show(); } };\n"
    "    next.onclick = function () { if (page + 1 < pages) { page++; show(); "
    "} };\n"
    "    bar.appendChild(prev); bar.appendChild(info); bar.appendChild(next);\n"
    "    box.appendChild(bar); box.appendChild(tab);\n"
    "    show();\n"
    "  }\n"
    "  report.sections.forEach(function (s, i) {\n"
    "    var sec = el('section'), id = 'sec' + i, a = el('a', s.title);\n"
    "    sec.id = id; a.href = '#' + id; nav.appendChild(a);\n"
    "    sec.appendChild(el('h2', s.title));\n"
    "    if (s.text) sec.appendChild(el('p', s.text));\n"
    "    var grid = el('div', null, 'charts');\n"
    "    sec.appendChild(grid);\n"
    "    (s.charts || []).forEach(function (spec) {\n"
    "      var box = el('div', null, 'chart');\n"
    "      grid.appendChild(box);\n"
    "      vegaEmbed(box, spec, {actions: false, renderer: "
    "'svg'}).catch(function (e) {\n"
    "        console.error(e); box.textContent = 'chart failed: ' + e;\n"
    "      });\n"
    "    });\n"
    "    if (s.table) table(s.table, sec);\n"
    "    main.appendChild(sec);\n"
    "  });\n"
    "})();\n";

static const char page_style[] =
    "body{font-family:sans-serif;margin:0;color:#222}"
    "header{background:#2c3e50;color:#fff;padding:10px 20px}"
    "nav a{color:#cde;margin-right:14px}"
    "main{padding:0 20px}"
    ".charts{display:flex;flex-wrap:wrap;gap:20px}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    ".pager{margin:8px 0}";

static int write_page(FILE *fp, const char *title, const json_t *report)
{
    static const char *const libs[] = {"report/vendor/vega.min.js.gz",
                                       "report/vendor/vega-lite.min.js.gz",
                                       "report/vendor/vega-embed.min.js.gz"};
    char *data;
    int rc;

    /* JSON_ESCAPE_SLASH keeps "</script>" out of the data. */
    if (!(data = json_dumps(report, JSON_COMPACT | JSON_ESCAPE_SLASH)))
        return sc_fail(SC_ENOMEM, "cannot encode the report: out of memory");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>",
          fp);
    for (const char *p = title; *p; p++) {
        if (*p == '<')
            fputs("&lt;", fp);
        else if (*p == '&')
            fputs("&amp;", fp);
        else
            fputc(*p, fp);
    }
    fprintf(fp, "</title><style>%s</style>\n", page_style);
    rc = 0;
    for (size_t i = 0; i < sizeof libs / sizeof *libs && rc == 0; i++) {
        fputs("<script>\n", fp);
        rc = copy_vendor(fp, libs[i]);
        fputs("\n</script>\n", fp);
    }
    if (rc == 0)
        fprintf(fp,
                "</head><body><header><h1 id=\"sc-title\"></h1>"
                "<nav id=\"sc-nav\"></nav></header><main id=\"sc-main\"></main>"
                "<script type=\"application/json\" id=\"sc-data\">%s</script>"
                "<script>document.getElementById('sc-title').textContent = "
                "document.title;\n%s</script></body></html>\n",
                data, page_script);
    free(data);
    return rc;
}

int sc_report_write(const char *dir, const char *title, const json_t *report)
{
    char path[4096];
    struct stat st;
    sc_atomic at = {0};
    FILE *fp;
    int rc;

    if ((size_t)snprintf(path, sizeof path, "%s/index.html", dir) >=
        sizeof path)
        return sc_fail(SC_EINVAL, "report directory name too long: '%s'", dir);
    if (stat(path, &st) == 0)
        return sc_fail(SC_EEXIST, "'%s' exists already", path);
    if ((rc = sc_io_mkdir_p(dir)) < 0 ||
        (rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    return sc_io_atomic_finish(&at, write_page(fp, title, report));
}
