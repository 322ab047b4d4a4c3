/* sc_manifest: read and write the TSV manifest that flows between tools. */
/* SPDX-License-Identifier: MIT */
#include "sc_manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_map.h"

struct sc_manifest {
    char **cols;
    size_t ncols, cols_cap;
    sc_strmap col_index; /* column name -> index: headers may be wide */
    size_t ncols_in;     /* columns of the input's header */
    int frozen;          /* header written: no more columns */
    sc_mrow **rows;      /* stored rows */
    size_t nrows, rows_cap;
    sc_lines *in; /* input read row by row, or NULL */
    char *name;   /* for messages */
};

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

struct sc_mrow {
    sc_manifest *m;
    char **vals;  /* vals[i] for column i; NULL means empty */
    size_t nvals; /* may be fewer than m->ncols */
    long lineno;
    int stored; /* owned by m */
};

/* Make room for N elements of SIZE bytes in array P of capacity *CAP: the
 * array, moved perhaps, or NULL when out of memory (P is then unchanged). */
static void *reserve(void *p, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap : 8;

    if (n <= *cap)
        return p;
    while (c < n)
        c *= 2;
    if (!(p = realloc(p, c * size)))
        return NULL;
    *cap = c;
    return p;
}

/* ---- escaping ---- */

/* Undo the escapes of a field in place. */
static void unescape(char *s)
{
    char *w = s;

    for (; *s; s++) {
        if (*s == '\\' && s[1] && strchr("tnr\\#", s[1])) {
            s++;
            *w++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

void sc_manifest_put_escaped(const char *s, int first, FILE *fp)
{
    size_t n;

    if (first && *s == '#') {
        fputs("\\#", fp);
        s++;
    }
    while (*s) {
        n = strcspn(s, "\t\n\r\\");
        fwrite(s, 1, n, fp);
        s += n;
        if (!*s)
            break;
        fputc('\\', fp);
        fputc(*s == '\t'   ? 't'
              : *s == '\n' ? 'n'
              : *s == '\r' ? 'r'
                           : '\\',
              fp);
        s++;
    }
}

/* ---- columns ---- */

size_t sc_manifest_ncols(const sc_manifest *m)
{
    return m->ncols;
}

const char *sc_manifest_col(const sc_manifest *m, size_t i)
{
    return i < m->ncols ? m->cols[i] : NULL;
}

long sc_manifest_col_index(const sc_manifest *m, const char *name)
{
    return (long)sc_strmap_get(&m->col_index, name);
}

static int push_col(sc_manifest *m, const char *name)
{
    char **cols = reserve(m->cols, &m->cols_cap, m->ncols + 1, sizeof *cols);

    if (!cols)
        return sc_fail(SC_ENOMEM, "out of memory");
    m->cols = cols;
    if (!(m->cols[m->ncols] = strdup(name)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (sc_strmap_put(&m->col_index, m->cols[m->ncols], (int64_t)m->ncols) <
        0) {
        free(m->cols[m->ncols]);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    m->ncols++;
    return 0;
}

int sc_manifest_add_col(sc_manifest *m, const char *name)
{
    if (sc_manifest_col_index(m, name) >= 0)
        return 0;
    if (!*name || strpbrk(name, "\t\n\r"))
        return sc_fail(SC_EINVAL, "invalid column name '%s'", name);
    if (m->frozen)
        return sc_fail(SC_EINVAL, "cannot add column '%s' after the header",
                       name);
    return push_col(m, name);
}

/* ---- manifests and rows ---- */

static sc_manifest *manifest_alloc(const char *name)
{
    sc_manifest *m = calloc(1, sizeof *m);

    if (m && !(m->name = strdup(name))) {
        free(m);
        m = NULL;
    }
    return m;
}

int sc_manifest_new(sc_manifest **out)
{
    sc_manifest *m;

    *out = NULL;
    if (!(m = manifest_alloc("")) || push_col(m, SC_MCOL_PATH) < 0) {
        sc_manifest_free(m);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

static void row_free(sc_mrow *r)
{
    size_t i;

    for (i = 0; i < r->nvals; i++)
        free(r->vals[i]);
    free(r->vals);
    free(r);
}

void sc_manifest_free(sc_manifest *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->nrows; i++)
        row_free(m->rows[i]);
    for (i = 0; i < m->ncols; i++)
        free(m->cols[i]);
    free(m->rows);
    free(m->cols);
    sc_strmap_release(&m->col_index);
    sc_lines_close(m->in);
    free(m->name);
    free(m);
}

const char *sc_manifest_name(const sc_manifest *m)
{
    return m->name;
}

size_t sc_manifest_nrows(const sc_manifest *m)
{
    return m->nrows;
}

sc_mrow *sc_manifest_row(const sc_manifest *m, size_t i)
{
    return i < m->nrows ? m->rows[i] : NULL;
}

/* A row of M with room for its columns and no values. */
static sc_mrow *row_alloc(sc_manifest *m)
{
    sc_mrow *r = calloc(1, sizeof *r);

    if (r && !(r->vals = calloc(m->ncols, sizeof *r->vals))) {
        free(r);
        return NULL;
    }
    if (r) {
        r->m = m;
        r->nvals = m->ncols;
    }
    return r;
}

int sc_mrow_new(sc_manifest *m, const char *path, sc_mrow **out)
{
    sc_mrow *r;
    int rc;

    *out = NULL;
    if (!(r = row_alloc(m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = sc_mrow_set(r, SC_MCOL_PATH, path)) < 0) {
        row_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Store R (a row of M) in M. */
static int store_row(sc_manifest *m, sc_mrow *r)
{
    sc_mrow **rows = reserve(m->rows, &m->rows_cap, m->nrows + 1, sizeof *rows);

    if (!rows)
        return sc_fail(SC_ENOMEM, "out of memory");
    m->rows = rows;
    r->stored = 1;
    m->rows[m->nrows++] = r;
    return 0;
}

int sc_manifest_add_row(sc_manifest *m, const char *path, sc_mrow **row)
{
    sc_mrow *r;
    int rc;

    if (row)
        *row = NULL;
    if ((rc = sc_mrow_new(m, path, &r)) < 0)
        return rc;
    if ((rc = store_row(m, r)) < 0) {
        row_free(r);
        return rc;
    }
    if (row)
        *row = r;
    return 0;
}

void sc_mrow_free(sc_mrow *r)
{
    if (r && !r->stored)
        row_free(r);
}

const char *sc_mrow_get(const sc_mrow *r, const char *col)
{
    long i = sc_manifest_col_index(r->m, col);

    if (i < 0)
        return NULL;
    return (size_t)i < r->nvals && r->vals[i] ? r->vals[i] : "";
}

const char *sc_mrow_path(const sc_mrow *r)
{
    return r->nvals && r->vals[0] ? r->vals[0] : "";
}

long sc_mrow_lineno(const sc_mrow *r)
{
    return r->lineno;
}

int sc_mrow_set(sc_mrow *r, const char *col, const char *val)
{
    char **vals, *copy = NULL;
    long i;
    int rc;

    if (!strcmp(col, SC_MCOL_PATH) && (!val || !*val))
        return sc_fail(SC_EINVAL, "empty 'path'");
    if ((rc = sc_manifest_add_col(r->m, col)) < 0)
        return rc;
    i = sc_manifest_col_index(r->m, col);
    if ((size_t)i >= r->nvals) {
        if (!(vals = realloc(r->vals, r->m->ncols * sizeof *vals)))
            return sc_fail(SC_ENOMEM, "out of memory");
        memset(vals + r->nvals, 0, (r->m->ncols - r->nvals) * sizeof *vals);
        r->vals = vals;
        r->nvals = r->m->ncols;
    }
    if (val && *val && !(copy = strdup(val)))
        return sc_fail(SC_ENOMEM, "out of memory");
    free(r->vals[i]);
    r->vals[i] = copy;
    return 0;
}

int sc_mrow_setf(sc_mrow *r, const char *col, const char *fmt, ...)
{
    char small[64], *s = small;
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return sc_fail(SC_EINVAL, "cannot format value of column '%s'", col);
    if ((size_t)n >= sizeof small) {
        if (!(s = malloc((size_t)n + 1)))
            return sc_fail(SC_ENOMEM, "out of memory");
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    rc = sc_mrow_set(r, col, s);
    if (s != small)
        free(s);
    return rc;
}

/* ---- reading ---- */

/* The next line that is not a comment or empty: 1, 0 at the end, or < 0. */
static int next_line(sc_manifest *m, char **line, size_t *len)
{
    int rc;

    while ((rc = sc_lines_next(m->in, line, len)) > 0) {
        if (sc_lines_lineno(m->in) == 1 && *len >= 3 &&
            !memcmp(*line, "\xef\xbb\xbf", 3)) { /* a UTF-8 byte order mark */
            *line += 3;
            *len -= 3;
        }
        if (*len && **line != '#')
            break;
    }
    return rc;
}

static int format_error(const sc_manifest *m, const char *fmt, ...)
    SC_PRINTF(2, 3);

/* Fail with SC_EFORMAT and "'NAME' line N: <FMT...>". */
static int format_error(const sc_manifest *m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sc_fail(SC_EFORMAT, "'%s' line %ld: %s", m->name,
                   sc_lines_lineno(m->in), msg);
}

static size_t count_fields(const char *line)
{
    size_t n = 1;

    while ((line = strchr(line, '\t')))
        line++, n++;
    return n;
}

/* Split LINE at tabs (ending the fields with NULs) into FIELDS, which has
 * room for all of them (count_fields). */
static void split(char *line, char **fields)
{
    char *tab;

    for (*fields++ = line; (tab = strchr(line, '\t')); line = tab + 1) {
        *tab = '\0';
        *fields++ = tab + 1;
    }
}

static int read_header(sc_manifest *m)
{
    char *line, **fields = NULL;
    size_t len, n, i;
    int rc;

    if ((rc = next_line(m, &line, &len)) <= 0)
        return rc < 0 ? rc
                      : sc_fail(SC_EFORMAT, "'%s': no header line", m->name);
    n = count_fields(line);
    if (!(fields = malloc(n * sizeof *fields)))
        return sc_fail(SC_ENOMEM, "out of memory");
    split(line, fields);
    if (strcmp(fields[0], SC_MCOL_PATH) != 0) {
        rc = format_error(m, "first column is '%s', not 'path'", fields[0]);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (!*fields[i]) {
            rc = format_error(m, "empty column name (column %zu)", i + 1);
            goto out;
        }
        if (sc_manifest_col_index(m, fields[i]) >= 0) {
            rc = format_error(m, "duplicate column '%s'", fields[i]);
            goto out;
        }
        if ((rc = push_col(m, fields[i])) < 0)
            goto out;
    }
    m->ncols_in = n;
out:
    free(fields);
    return rc;
}

int sc_manifest_open(const char *path, sc_manifest **out)
{
    sc_manifest *m;
    int rc;

    *out = NULL;
    if (!(m = manifest_alloc(!strcmp(path, "-") ? "<stdin>" : path)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = sc_lines_open(path, &m->in)) < 0 || (rc = read_header(m)) < 0) {
        sc_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Parse data line LINE into a new row. */
static int parse_row(sc_manifest *m, char *line, sc_mrow **out)
{
    size_t n, i;
    sc_mrow *r;
    char **fields;
    int rc = 0;

    *out = NULL;
    if ((n = count_fields(line)) != m->ncols_in)
        return format_error(m, "%zu field%s, header has %zu", n,
                            n == 1 ? "" : "s", m->ncols_in);
    if (!(r = row_alloc(m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    fields = r->vals; /* split into the row, then copy each field */
    split(line, fields);
    for (i = 0; i < n; i++) {
        unescape(fields[i]);
        if (rc || !*fields[i])
            fields[i] = NULL;
        else if (!(fields[i] = strdup(fields[i])))
            rc = sc_fail(SC_ENOMEM, "out of memory");
    }
    if (!rc && !fields[0])
        rc = format_error(m, "empty 'path'");
    if (rc) {
        row_free(r);
        return rc;
    }
    r->lineno = sc_lines_lineno(m->in);
    *out = r;
    return 0;
}

int sc_manifest_next(sc_manifest *m, sc_mrow **row)
{
    char *line;
    size_t len;
    int rc;

    *row = NULL;
    if (!m->in)
        return sc_fail(SC_EINVAL, "manifest '%s' is not open for reading",
                       m->name);
    if ((rc = next_line(m, &line, &len)) <= 0)
        return rc;
    if ((rc = parse_row(m, line, row)) < 0)
        return rc;
    return 1;
}

int sc_manifest_read(const char *path, sc_manifest **out)
{
    sc_manifest *m;
    sc_mrow *r;
    int rc;

    *out = NULL;
    if ((rc = sc_manifest_open(path, &m)) < 0)
        return rc;
    while ((rc = sc_manifest_next(m, &r)) > 0) {
        if ((rc = store_row(m, r)) < 0) {
            row_free(r);
            break;
        }
    }
    sc_lines_close(m->in);
    m->in = NULL;
    if (rc < 0) {
        sc_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- writing ---- */

static int write_status(FILE *fp)
{
    if (ferror(fp))
        return sc_fail(SC_EIO, "cannot write manifest: %s",
                       strerror(errno ? errno : EIO));
    return 0;
}

int sc_manifest_write_header(sc_manifest *m, FILE *fp)
{
    size_t i;

    m->frozen = 1;
    errno = 0;
    for (i = 0; i < m->ncols; i++) {
        if (i)
            fputc('\t', fp);
        fputs(m->cols[i], fp);
    }
    fputc('\n', fp);
    return write_status(fp);
}

int sc_manifest_write_row(const sc_manifest *m, const sc_mrow *r, FILE *fp)
{
    size_t i;

    if (!m->frozen)
        return sc_fail(SC_EINVAL, "manifest row written before the header");
    if (r->m != m)
        return sc_fail(SC_EINVAL, "manifest row of another manifest");
    if (!*sc_mrow_path(r))
        return sc_fail(SC_EINVAL, "manifest row with an empty 'path'");
    errno = 0;
    for (i = 0; i < m->ncols; i++) {
        if (i)
            fputc('\t', fp);
        if (i < r->nvals && r->vals[i])
            sc_manifest_put_escaped(r->vals[i], i == 0, fp);
    }
    fputc('\n', fp);
    return write_status(fp);
}

int sc_manifest_write(sc_manifest *m, FILE *fp)
{
    size_t i;
    int rc;

    if ((rc = sc_manifest_write_header(m, fp)) < 0)
        return rc;
    for (i = 0; i < m->nrows; i++)
        if ((rc = sc_manifest_write_row(m, m->rows[i], fp)) < 0)
            return rc;
    return 0;
}

int sc_mrow_skipped(const sc_mrow *r)
{
    const char *st = sc_mrow_get(r, SC_MCOL_STATUS);

    return st && (!strcmp(st, "failed") || !strcmp(st, "refused"));
}

int sc_mrow_set_output(sc_mrow *r, const char *path)
{
    struct stat sb;
    int rc;

    if ((rc = sc_mrow_set(r, SC_MCOL_PATH, path)) < 0)
        return rc;
    if (sc_mrow_get(r, SC_MCOL_SHA256) &&
        (rc = sc_mrow_set(r, SC_MCOL_SHA256, "")) < 0)
        return rc;
    if (sc_mrow_get(r, SC_MCOL_SIZE)) {
        if (stat(path, &sb) == 0)
            rc = sc_mrow_setf(r, SC_MCOL_SIZE, "%lld", (long long)sb.st_size);
        else
            rc = sc_mrow_set(r, SC_MCOL_SIZE, "");
    }
    if (rc == 0 && sc_mrow_get(r, SC_MCOL_MTIME_NS)) {
        if (stat(path, &sb) == 0)
            rc = sc_mrow_setf(r, SC_MCOL_MTIME_NS, "%lld",
                              (long long)mtime_ns(&sb));
        else
            rc = sc_mrow_set(r, SC_MCOL_MTIME_NS, "");
    }
    return rc;
}

int sc_mrow_set_file(sc_mrow *r, int64_t size, const char *sha256)
{
    struct stat sb;
    int rc;

    if ((rc = sc_mrow_setf(r, SC_MCOL_SIZE, "%lld", (long long)size)) < 0 ||
        (sha256 && (rc = sc_mrow_set(r, SC_MCOL_SHA256, sha256)) < 0))
        return rc;
    if (stat(sc_mrow_path(r), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (int64_t)sb.st_size == size)
        return sc_mrow_setf(r, SC_MCOL_MTIME_NS, "%lld",
                            (long long)mtime_ns(&sb));
    return sc_mrow_set(r, SC_MCOL_MTIME_NS, "");
}

/* The value of column COL of R as a whole non-negative decimal number
 * (no sign, no spaces, not past LLONG_MAX) into *V; 0 when it is not one. */
static int plain_number(const sc_mrow *r, const char *col, long long *v)
{
    const char *s = sc_mrow_get(r, col);
    size_t n = s ? strspn(s, "0123456789") : 0;

    if (n == 0 || n > 19 || s[n])
        return 0;
    errno = 0;
    *v = strtoll(s, NULL, 10);
    return errno == 0;
}

int sc_mrow_trusted_sha256(const sc_mrow *r, const char *path,
                           char hex[SC_HASH_HEX_SIZE])
{
    const char *sha = r ? sc_mrow_get(r, SC_MCOL_SHA256) : NULL;
    long long size, mt;
    struct stat sb;

    if (!sha || strlen(sha) != SC_HASH_HEX_SIZE - 1 ||
        strspn(sha, "0123456789abcdefABCDEF") != SC_HASH_HEX_SIZE - 1)
        return 0;
    if (!plain_number(r, SC_MCOL_SIZE, &size) ||
        !plain_number(r, SC_MCOL_MTIME_NS, &mt)) {
        sc_log_info("'%s': hashing it: the manifest has no size and mtime_ns "
                    "for its sha256",
                    path);
        return 0;
    }
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (long long)sb.st_size != size || (long long)mtime_ns(&sb) != mt) {
        sc_log_info("'%s': hashing it: its size or mtime_ns differs from the "
                    "manifest's",
                    path);
        return 0;
    }
    for (int i = 0; i < SC_HASH_HEX_SIZE; i++)
        hex[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] + 32 : sha[i]);
    sc_log_info("'%s': sha256 from the manifest (size and mtime_ns unchanged)",
                path);
    return 1;
}

int sc_mrow_sha256(const sc_mrow *r, const char *path,
                   char hex[SC_HASH_HEX_SIZE])
{
    if (sc_mrow_trusted_sha256(r, path, hex))
        return 0;
    return sc_hash_file(path, hex);
}

int sc_manifest_each(sc_manifest *m, int from_stdin, int argc, char **argv,
                     FILE *fp, int keep_going, sc_mrow_fn fn, void *ud,
                     int *n_done, int *n_failed)
{
    sc_mrow *row = NULL;
    int rc = 0;

    *n_done = *n_failed = 0;
    for (int i = 0; rc == 0;) {
        char *path;
        int wrc;

        if (from_stdin) {
            if ((rc = sc_manifest_next(m, &row)) <= 0)
                break;
        } else {
            if (i >= argc)
                break;
            if ((rc = sc_mrow_new(m, argv[i++], &row)) < 0)
                break;
        }
        rc = 0; /* sc_manifest_next returns 1 for a row */
        if (!sc_mrow_skipped(row)) {
            /* FN may point the row at its output: keep the input path. */
            if (!(path = strdup(sc_mrow_path(row)))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
            rc = fn(ud, path, row);
            free(path);
            ++*n_done;
            if (rc < 0) {
                char msg[1024];

                ++*n_failed;
                snprintf(msg, sizeof msg, "%s", sc_errmsg());
                if (keep_going)
                    sc_log_warn("%s", msg);
                if (sc_mrow_set(row, SC_MCOL_STATUS, "failed") < 0 ||
                    sc_mrow_set(row, SC_MCOL_REASON, msg) < 0)
                    rc = SC_ENOMEM;
                else
                    sc_fail(rc, "%s", msg);
            }
        }
        wrc = sc_manifest_write_row(m, row, fp);
        if (wrc == 0 && fflush(fp) == EOF)
            wrc = sc_fail(SC_EIO, "cannot write the manifest: %s",
                          strerror(errno));
        if (wrc < 0)
            rc = wrc;
        else if (rc < 0 && keep_going && rc != SC_ENOMEM)
            rc = 0;
        sc_mrow_free(row);
        row = NULL;
    }
    sc_mrow_free(row);
    return rc < 0 ? rc : 0;
}
