/* sc_report: a static, self-contained HTML report (see sc_report.h). */
/* SPDX-License-Identifier: MIT */
#include "sc_report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    char path[4096], *text;
    size_t len;
    int rc;

    if ((rc = sc_share_path(rel, path, sizeof path)) < 0)
        return sc_fail(rc, "share file name too long: '%s'", rel);
    if ((rc = sc_io_read_file_gz(path, &text, &len)) < 0)
        return rc; /* "cannot open 'PATH': ..." or "cannot read 'PATH': ..." */
    if (fwrite(text, 1, len, fp) != len)
        rc = sc_fail(SC_EIO, "cannot write the report: %s", strerror(errno));
    free(text);
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
    "    if (v && typeof v === 'object') td.appendChild(link(v.text, "
    "v.href));\n"
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
    "  /* a lineage graph {nodes: [{key, label, kind, href?, start?}],\n"
    "     edges: [[from, to]]}: laid out by dagre (layered, top to bottom),\n"
    "     drawn as a Vega spec of paths, boxes and text marks */\n"
    "  function graph(g) {\n"
    "    var G = new dagre.graphlib.Graph(), kinds = {};\n"
    "    G.setGraph({rankdir: 'TB', nodesep: 14, ranksep: 22, marginx: 6, "
    "marginy: 6});\n"
    "    G.setDefaultEdgeLabel(function () { return {}; });\n"
    "    g.nodes.forEach(function (n) {\n"
    "      var t = String(n.label).replace(/^.*\\/([^\\/]*\\/[^\\/]*)$/, "
    "'$1');\n"
    "      if (t.length > 40) t = t.slice(0, 39) + '\\u2026';\n"
    "      kinds[n.kind] = 1;\n"
    "      G.setNode(n.key, {width: 6.2 * t.length + 16, height: 22, d: {\n"
    "        text: t, label: String(n.label), kind: n.kind, start: !!n.start,\n"
    "        href: n.href && /^[A-Za-z0-9_.-]+$/.test(n.href) && "
    "!/^\\./.test(n.href) ? n.href : null}});\n"
    "    });\n"
    "    g.edges.forEach(function (e) {\n"
    "      if (G.hasNode(e[0]) && G.hasNode(e[1]) && e[0] !== e[1]) "
    "G.setEdge(e[0], e[1]);\n"
    "    });\n"
    "    dagre.layout(G);\n"
    "    var nodes = G.nodes().map(function (k) {\n"
    "      var v = G.node(k), d = v.d;\n"
    "      d.x = v.x; d.y = v.y; d.w = v.width; d.h = v.height; return d;\n"
    "    });\n"
    "    var edges = G.edges().map(function (e) {\n"
    "      var p = G.edge(e).points, a = p[p.length - 1], b = p[p.length - "
    "2];\n"
    "      return {path: 'M' + p.map(function (q) { return q.x + ',' + q.y; "
    "}).join('L'),\n"
    "        x: a.x, y: a.y, angle: Math.atan2(a.y - b.y, a.x - b.x) * 180 / "
    "Math.PI + 90};\n"
    "    });\n"
    "    var gr = G.graph();\n"
    "    return {$schema: 'https://vega.github.io/schema/vega/v5.json',\n"
    "      width: Math.ceil(gr.width || 1), height: Math.ceil(gr.height || "
    "1), padding: 4,\n"
    "      data: [{name: 'vnodes', values: nodes}, {name: 'vedges', values: "
    "edges}],\n"
    "      scales: [{name: 'kind', type: 'ordinal', domain: "
    "Object.keys(kinds).sort(), range: 'category'}],\n"
    "      legends: [{fill: 'kind', title: 'kind', orient: 'right'}],\n"
    "      marks: [\n"
    "        {type: 'path', name: 'edges', from: {data: 'vedges'}, encode: "
    "{enter: {\n"
    "          path: {field: 'path'}, stroke: {value: '#888'}}}},\n"
    "        {type: 'symbol', name: 'arrows', from: {data: 'vedges'}, encode: "
    "{enter: {\n"
    "          x: {field: 'x'}, y: {field: 'y'}, shape: {value: "
    "'triangle-up'},\n"
    "          angle: {field: 'angle'}, size: {value: 40}, fill: {value: "
    "'#888'}}}},\n"
    "        {type: 'rect', name: 'nodes', from: {data: 'vnodes'}, encode: "
    "{enter: {\n"
    "          xc: {field: 'x'}, yc: {field: 'y'}, width: {field: 'w'}, "
    "height: {field: 'h'},\n"
    "          cornerRadius: {value: 4}, fill: {scale: 'kind', field: "
    "'kind'}, fillOpacity: {value: 0.3},\n"
    "          stroke: {value: '#333'}, strokeWidth: {signal: 'datum.start ? "
    "3 : 1'},\n"
    "          href: {field: 'href'}, tooltip: {field: 'label'}}}},\n"
    "        {type: 'text', name: 'labels', from: {data: 'vnodes'}, "
    "interactive: "
    "false, encode: {enter: {\n"
    "          x: {field: 'x'}, y: {field: 'y'}, text: {field: 'text'}, "
    "align: {value: 'center'},\n"
    "          baseline: {value: 'middle'}, fontSize: {value: 11}}}}]};\n"
    "  }\n"
    "  /* Charts are drawn when they come near the window (all of them at\n"
    "     once with #all in the address): a page of many charts is usable\n"
    "     as soon as the first screen is drawn. */\n"
    "  var done = [], lazy = location.hash !== '#all' &&\n"
    "    'IntersectionObserver' in window, first = true, io = null, waiting = "
    "0;\n"
    "  function drawn() {\n"
    "    /* the time since the navigation began, and the charts drawn */\n"
    "    var n = document.querySelectorAll('.chart svg, .graph svg').length;\n"
    "    document.documentElement.setAttribute('data-rendered-ms',\n"
    "      Math.round(performance.now()));\n"
    "    document.documentElement.setAttribute('data-drawn', n);\n"
    "  }\n"
    "  function embed(box, spec, what) {\n"
    "    return vegaEmbed(box, spec, {actions: false, renderer: 'svg'})\n"
    "      .then(function () { box.style.minHeight = '0'; })\n"
    "      .catch(function (e) {\n"
    "        console.error(e); box.textContent = what + ' failed: ' + e;\n"
    "      });\n"
    "  }\n"
    "  if (lazy)\n"
    "    io = new IntersectionObserver(function (es) {\n"
    "      es.forEach(function (e) {\n"
    "        var f = e.target.scDraw;\n"
    "        if (!e.isIntersecting || !f) return;\n"
    "        e.target.scDraw = null;\n"
    "        io.unobserve(e.target);\n"
    "        done.push(f());\n"
    "      });\n"
    "      if (first) { first = false; Promise.all(done).then(drawn); }\n"
    "    }, {rootMargin: '200px'});\n"
    "  function later(box, f) {\n"
    "    if (io) { box.scDraw = f; io.observe(box); waiting++; }\n"
    "    else done.push(f());\n"
    "  }\n"
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
    "      later(box, function () { return embed(box, spec, 'chart'); });\n"
    "    });\n"
    "    if (s.graph) {\n"
    "      var gbox = el('div', null, 'graph');\n"
    "      sec.appendChild(gbox);\n"
    "      later(gbox, function () { return embed(gbox, graph(s.graph), "
    "'graph'); });\n"
    "    }\n"
    "    if (s.table) table(s.table, sec);\n"
    "    main.appendChild(sec);\n"
    "  });\n"
    "  if (!waiting) Promise.all(done).then(drawn);\n"
    "})();\n";

static const char page_style[] =
    "body{font-family:sans-serif;margin:0;color:#222}"
    "header{background:#2c3e50;color:#fff;padding:10px 20px}"
    "nav a{color:#cde;margin-right:14px}"
    "main{padding:0 20px}"
    ".charts{display:flex;flex-wrap:wrap;gap:20px}"
    ".chart{min-width:240px;min-height:240px}.graph{min-height:60px}"
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

/* Write the new file REL of R from FN(FP, ARG). The report's directory is
 * new and ours (mkdtemp) and renamed whole when complete: its files are
 * created there directly, with no file-by-file rename nor fsync (10,000
 * dataset pages). */
static int write_file(sc_report *r, const char *rel,
                      int (*fn)(FILE *fp, const void *arg), const void *arg)
{
    char path[4096];
    FILE *fp;
    int fd, rc;

    if ((size_t)snprintf(path, sizeof path, "%s/%s", r->tmp, rel) >=
        sizeof path)
        return sc_fail(SC_EINVAL, "report file name too long: '%s'", rel);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 || !(fp = fdopen(fd, "w"))) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    rc = fn(fp, arg);
    if (fclose(fp) != 0 && rc == 0)
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

static int write_lib(FILE *fp, const void *arg)
{
    static const char *const libs[] = {
        "report/vendor/vega.min.js.gz", "report/vendor/vega-lite.min.js.gz",
        "report/vendor/vega-embed.min.js.gz", "report/vendor/dagre.min.js.gz"};
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
        rc = sc_fail(SC_EEXIST,
                     "'%s' exists already and is not an empty "
                     "directory",
                     dir);
        free(r->tmp);
        r->tmp = NULL;
        return sc_report_close(r, rc);
    }
    if (!mkdtemp(r->tmp)) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", r->tmp, strerror(errno));
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
    return ferror(fp)
               ? sc_fail(SC_EIO, "cannot write the report: %s", strerror(errno))
               : 0;
}

/* Check the report file name FILE (a relative name of [A-Za-z0-9_.-]
 * parts, at most one directory deep) and make its directory. 0, or
 * SC_EINVAL / SC_EIO. *UP is "../" for a file in a directory, else "". */
static int file_dir(sc_report *r, const char *file, const char **up)
{
    const char *slash = strchr(file, '/');

    *up = "";
    if (!*file ||
        strspn(file, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
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
        *up = "../";
    }
    return 0;
}

struct bytes {
    const char *data;
    size_t len;
};

static int write_bytes(FILE *fp, const void *arg)
{
    const struct bytes *b = arg;

    return b->len && fwrite(b->data, 1, b->len, fp) != b->len
               ? sc_fail(SC_EIO, "cannot write a report file: %s",
                         strerror(errno))
               : 0;
}

int sc_report_file(sc_report *r, const char *file, const char *data, size_t len)
{
    struct bytes b = {data, len};
    const char *up;
    int rc;

    if ((rc = file_dir(r, file, &up)) < 0)
        return rc;
    return write_file(r, file, write_bytes, &b);
}

int sc_report_page(sc_report *r, const char *file, const char *title,
                   const json_t *page)
{
    struct page p = {title, "", NULL};
    int rc;

    if ((rc = file_dir(r, file, &p.up)) < 0)
        return rc;
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
                 ? sc_fail(SC_EEXIST,
                           "'%s' exists already and is not an "
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
