/* sc_report: a static, self-contained HTML report (see sc_report.h). */
/* SPDX-License-Identifier: MIT */
#include "sc_report.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

json_t *sc_report_link(const char *text, const char *href)
{
    return json_pack("{s:s, s:s}", "text", text, "href", href);
}

/* Copy the gzip-compressed share file REL, decompressed, to FP. */
static int copy_vendor(FILE *fp, const char *rel)
{
    char path[4096], buf[65536];
    gzFile gz;
    int n, rc = 0;

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

/* The page's script: render the page's data (links, sections, charts,
 * and tables); every string from the data is set as text. */
static const char page_script[] =
    "(function () {\n"
    "  var page = "
    "JSON.parse(document.getElementById('sc-data').textContent);\n"
    "  var main = document.getElementById('sc-main');\n"
    "  var nav = document.getElementById('sc-nav');\n"
    "  document.getElementById('sc-title').textContent = document.title;\n"
    "  function el(tag, text, cls) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (text != null) e.textContent = text;\n"
    "    if (cls) e.className = cls;\n"
    "    return e;\n"
    "  }\n"
    "  function link(text, href) {\n"
    "    if (!/^[A-Za-z0-9_.\\/-]+$/.test(href) || /^\\/|\\/\\//.test(href))\n"
    "      return el('span', text);\n"
    "    var a = el('a', text); a.setAttribute('href', href); return a;\n"
    "  }\n"
    "  function cell(v) {\n"
    "    var td = el('td');\n"
    "    if (v && typeof v === 'object') td.appendChild(link(v.text, v.href));\n"
    "    else td.textContent = v == null ? '' : v;\n"
    "    return td;\n"
    "  }\n"
    "  function table(t, box) {\n"
    "    var pg = 0, per = 50, pages = Math.max(1, Math.ceil(t.rows.length / "
    "per));\n"
    "    var tab = el('table'), info = el('span'), bar = el('div', null, "
    "'pager');\n"
    "    var prev = el('button', '\\u2190'), next = el('button', '\\u2192');\n"
    "    function show() {\n"
    "      tab.textContent = '';\n"
    "      var tr = el('tr');\n"
    "      t.columns.forEach(function (c) { tr.appendChild(el('th', c)); });\n"
    "      tab.appendChild(tr);\n"
    "      t.rows.slice(pg * per, pg * per + per).forEach(function (r) {\n"
    "        var tr = el('tr');\n"
    "        r.forEach(function (v) { tr.appendChild(cell(v)); });\n"
    "        tab.appendChild(tr);\n"
    "      });\n"
    "      info.textContent = ' page ' + (pg + 1) + ' of ' + pages + ' (' +\n"
    "        t.rows.length + ' rows) ';\n"
    "    }\n"
    "    prev.onclick = function () { if (pg > 0) { pg--; show(); } };\n"
    "    next.onclick = function () { if (pg + 1 < pages) { pg++; show(); "
    "} };\n"
    "    if (pages > 1) {\n"
    "      bar.appendChild(prev); bar.appendChild(info); "
    "bar.appendChild(next);\n"
    "      box.appendChild(bar);\n"
    "    }\n"
    "    box.appendChild(tab);\n"
    "    show();\n"
    "  }\n"
    "  var done = [];\n"
    "  (page.links || []).forEach(function (l) {\n"
    "    nav.appendChild(link(l[0], l[1]));\n"
    "  });\n"
    "  page.sections.forEach(function (s, i) {\n"
    "    var sec = el('section'), id = 'sec' + i;\n"
    "    sec.id = id;\n"
    "    sec.appendChild(el('h2', s.title));\n"
    "    if (s.text) sec.appendChild(el('p', s.text));\n"
    "    var grid = el('div', null, 'charts');\n"
    "    sec.appendChild(grid);\n"
    "    (s.charts || []).forEach(function (spec) {\n"
    "      var box = el('div', null, 'chart');\n"
    "      grid.appendChild(box);\n"
    "      done.push(vegaEmbed(box, spec, {actions: false, renderer: "
    "'svg'}).catch(function (e) {\n"
    "        console.error(e); box.textContent = 'chart failed: ' + e;\n"
    "      }));\n"
    "    });\n"
    "    if (s.table) table(s.table, sec);\n"
    "    main.appendChild(sec);\n"
    "  });\n"    "  /* when every chart is drawn: the time since the navigation began */\n"
    "  Promise.all(done).then(function () {\n"
    "    document.documentElement.setAttribute('data-rendered-ms',\n"
    "      Math.round(performance.now()));\n"
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

struct sc_report {
    char *dir; /* the report's name */
    char *tmp; /* the directory being written */
};

/* Remove DIR and what the report wrote in it (files, and directories of
 * files, DEPTH levels down). */
static void rm_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) <
                sizeof path &&
            unlink(path) < 0 && errno == EISDIR && depth > 0)
            rm_tree(path, depth - 1);
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Write the file REL of R from FN(FP, ARG), atomically. */
static int write_file(sc_report *r, const char *rel,
                      int (*fn)(FILE *fp, const void *arg), const void *arg)
{
    char path[4096];
    sc_atomic at = {0};
    FILE *fp;
    int rc;

    if ((size_t)snprintf(path, sizeof path, "%s/%s", r->tmp, rel) >=
        sizeof path)
        return sc_fail(SC_EINVAL, "report file name too long: '%s'", rel);
    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    return sc_io_atomic_finish(&at, fn(fp, arg));
}

static int write_lib(FILE *fp, const void *arg)
{
    static const char *const libs[] = {"report/vendor/vega.min.js.gz",
                                       "report/vendor/vega-lite.min.js.gz",
                                       "report/vendor/vega-embed.min.js.gz"};
    int rc = 0;

    (void)arg;
    for (size_t i = 0; i < sizeof libs / sizeof *libs && rc == 0; i++) {
        rc = copy_vendor(fp, libs[i]);
        fputs("\n;\n", fp);
    }
    return rc;
}

/* Whether DIR does not exist or is an empty directory. */
static int dir_free(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return errno == ENOENT;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

int sc_report_open(const char *dir, sc_report **out)
{
    sc_report *r = calloc(1, sizeof *r);
    int rc;

    *out = NULL;
    if (!r || !(r->dir = strdup(dir)) ||
        !(r->tmp = malloc(strlen(dir) + sizeof ".tmp.XXXXXX"))) {
        if (r)
            free(r->dir);
        free(r);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    sprintf(r->tmp, "%s.tmp.XXXXXX", dir);
    if (!dir_free(dir)) {
        rc = sc_fail(SC_EEXIST, "'%s' exists already and is not an empty "
                                "directory",
                     dir);
        free(r->tmp);
        r->tmp = NULL;
        return sc_report_close(r, rc);
    }
    if (!mkdtemp(r->tmp)) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", r->tmp,
                     strerror(errno));
        free(r->tmp);
        r->tmp = NULL;
        return sc_report_close(r, rc);
    }
    if ((rc = write_file(r, "sc-report.js", write_lib, NULL)) < 0)
        return sc_report_close(r, rc);
    *out = r;
    return 0;
}

struct page {
    const char *title, *up;
    char *data;
};

static int write_page(FILE *fp, const void *arg)
{
    const struct page *p = arg;

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>",
          fp);
    for (const char *s = p->title; *s; s++) {
        if (*s == '<')
            fputs("&lt;", fp);
        else if (*s == '&')
            fputs("&amp;", fp);
        else
            fputc(*s, fp);
    }
    fprintf(fp,
            "</title><style>%s</style>\n<script src=\"%ssc-report.js\">"
            "</script></head><body><header><h1 id=\"sc-title\"></h1>"
            "<nav id=\"sc-nav\"></nav></header><main id=\"sc-main\"></main>"
            "<script type=\"application/json\" id=\"sc-data\">%s</script>"
            "<script>%s</script></body></html>\n",
            page_style, p->up, p->data, page_script);
    return ferror(fp) ? sc_fail(SC_EIO, "cannot write the report: %s",
                                strerror(errno))
                      : 0;
}

int sc_report_page(sc_report *r, const char *file, const char *title,
                   const json_t *page)
{
    struct page p = {title, "", NULL};
    const char *slash = strchr(file, '/');
    int rc;

    if (!*file || strspn(file, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
                               "stuvwxyz0123456789_.-/") != strlen(file) ||
        file[0] == '.' || (slash && strchr(slash + 1, '/')) ||
        (slash && (slash == file || !slash[1])))
        return sc_fail(SC_EINVAL, "bad report page name '%s'", file);
    if (slash) {
        char d[4096];

        if ((size_t)snprintf(d, sizeof d, "%s/%.*s", r->tmp,
                             (int)(slash - file), file) >= sizeof d)
            return sc_fail(SC_EINVAL, "report file name too long: '%s'", file);
        if (mkdir(d, 0777) < 0 && errno != EEXIST)
            return sc_fail(SC_EIO, "cannot create '%s': %s", d,
                           strerror(errno));
        p.up = "../";
    }
    /* '<' as \u003c: no "</script>" nor "<!--" can end the data block */
    char *raw = json_dumps(page, JSON_COMPACT | JSON_ESCAPE_SLASH);
    size_t n = 0;

    if (!raw)
        return sc_fail(SC_ENOMEM, "cannot encode the report: out of memory");
    for (const char *s = raw; *s; s++)
        n += *s == '<';
    if (!(p.data = malloc(strlen(raw) + 5 * n + 1))) {
        free(raw);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    char *o = p.data;
    for (const char *s = raw; *s; s++)
        if (*s == '<')
            o += sprintf(o, "\\u003c");
        else
            *o++ = *s;
    *o = '\0';
    free(raw);
    rc = write_file(r, file, write_page, &p);
    free(p.data);
    return rc;
}

int sc_report_close(sc_report *r, int rc)
{
    if (!r)
        return rc;
    if (rc == 0 && rename(r->tmp, r->dir) < 0)
        rc = errno == ENOTEMPTY || errno == EEXIST
                 ? sc_fail(SC_EEXIST, "'%s' exists already and is not an "
                                      "empty directory",
                           r->dir)
                 : sc_fail(SC_EIO, "cannot rename '%s' to '%s': %s", r->tmp,
                           r->dir, strerror(errno));
    if (rc < 0 && r->tmp)
        rm_tree(r->tmp, 1);
    free(r->tmp);
    free(r->dir);
    free(r);
    return rc;
}
