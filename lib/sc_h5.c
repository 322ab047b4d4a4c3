/* sc_h5: small HDF5 helpers shared by the h5ad, 10x and loom modules. */
/* SPDX-License-Identifier: MIT */
#include "sc_h5.h"

#include <errno.h>
#include <lzf.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_log.h"

/* Refuse in-memory sizes beyond this many bytes for one dataset read in
 * full (metadata arrays); a corrupt header claiming 2^60 elements must be an
 * error, not a malloc failure or a crash. */
#define MAX_READ_BYTES ((int64_t)1 << 36)

/* ------------------------------------------------------------------------ */
/* Declared sizes against the file size and the memory                      */

int64_t sc_mem_budget(void)
{
    static int64_t budget;
    long pages, psize;
    struct rlimit rl;
    FILE *f;
    char line[128];
    long long kb;

    if (budget)
        return budget;
    pages = sysconf(_SC_PHYS_PAGES);
    psize = sysconf(_SC_PAGESIZE);
    budget = pages > 0 && psize > 0 ? (int64_t)pages * psize : INT64_MAX;
    /* what the kernel can give without swapping others out */
    if ((f = fopen("/proc/meminfo", "r"))) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1 && kb > 0 &&
                kb < budget / 1024)
                budget = kb * 1024;
        fclose(f);
    }
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (int64_t)rl.rlim_cur < budget)
        budget = (int64_t)rl.rlim_cur;
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (int64_t)rl.rlim_cur < budget)
        budget = (int64_t)rl.rlim_cur;
    return budget;
}

/* a * b for a, b >= 0, saturating at INT64_MAX (negative: INT64_MAX). */
static int64_t mul_sat(int64_t a, int64_t b)
{
    if (a < 0 || b < 0)
        return INT64_MAX;
    return a && b > INT64_MAX / a ? INT64_MAX : a * b;
}

int sc_check_mem(const char *label, int64_t n, int64_t size)
{
    int64_t b = sc_mem_budget(), bytes = mul_sat(n, size);

    if (bytes > b)
        return sc_fail(SC_EFORMAT,
                       "%s: declares %lld bytes to load, more than the "
                       "memory (%lld bytes)",
                       label, (long long)bytes, (long long)b);
    return 0;
}

int sc_h5_check_declared(hid_t ds, const char *label, int load)
{
    hid_t fid, type;
    hsize_t fsize = 0;
    int64_t dims[SC_MAX_RANK], n = 1, bytes, most;
    int rank, rc;

    if ((rc = sc_h5_shape(ds, &rank, dims, label)) < 0)
        return rc;
    for (int i = 0; i < rank; i++)
        n = mul_sat(n, dims[i]);
    if ((type = H5Dget_type(ds)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot get the type", label);
    bytes = mul_sat(n, (int64_t)H5Tget_size(type));
    H5Tclose(type);
    if ((fid = H5Iget_file_id(ds)) < 0 || H5Fget_filesize(fid, &fsize) < 0) {
        if (fid >= 0)
            H5Fclose(fid);
        return sc_h5_fail(SC_EFORMAT, "%s: cannot get the file size", label);
    }
    H5Fclose(fid);
    most = mul_sat((int64_t)fsize, SC_MAX_INFLATE);
    if (bytes > most && bytes == INT64_MAX)
        return sc_fail(SC_EFORMAT,
                       "%s: declares over 2^63 bytes of values, more than a "
                       "%lld-byte file can hold (%d:1 at most)",
                       label, (long long)fsize, SC_MAX_INFLATE);
    if (bytes > most)
        return sc_fail(SC_EFORMAT,
                       "%s: declares %lld values (%lld bytes), more than a "
                       "%lld-byte file can hold (%d:1 at most)",
                       label, (long long)n, (long long)bytes, (long long)fsize,
                       SC_MAX_INFLATE);
    return load ? sc_check_mem(label, bytes, 1) : 0;
}

/* ------------------------------------------------------------------------ */
/* LZF filter (id 32000), decode only.  h5py writes cd_values {4, 261,
 * chunk_bytes}; Debian's plugin is not linked against liblzf, so we
 * register our own in-process.  A chunk that did not shrink is stored raw
 * with its filter-mask bit set and never reaches this function. */

#define LZF_FILTER_ID 32000

static size_t lzf_filter(unsigned flags, size_t cd_nelmts,
                         const unsigned cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf)
{
    size_t out_size;
    void *out = NULL;
    unsigned n = 0;

    if (!(flags & H5Z_FLAG_REVERSE))
        return 0; /* encoding unsupported: we never write LZF */
    out_size = cd_nelmts >= 3 && cd_values[2] ? cd_values[2] : *buf_size;
    for (int tries = 0; tries < 24; tries++) {
        void *p = realloc(out, out_size);
        if (!p)
            break;
        out = p;
        n = lzf_decompress(*buf, (unsigned)nbytes, out, (unsigned)out_size);
        if (n)
            break;
        if (errno != E2BIG)
            break;
        out_size *= 2;
    }
    if (!n) {
        free(out);
        return 0;
    }
    free(*buf);
    *buf = out;
    *buf_size = out_size;
    return n;
}

static const H5Z_class2_t lzf_class = {
    H5Z_CLASS_T_VERS,
    (H5Z_filter_t)LZF_FILTER_ID,
    1,
    1,
    "lzf",
    NULL,
    NULL,
    (H5Z_func_t)lzf_filter,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void do_init(void)
{
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Zregister(&lzf_class) < 0)
        sc_log_warn("cannot register the LZF filter");
    /* Untrusted files: an external link must never make a reader open
     * another file (X read from elsewhere); traversing one fails. */
    if (H5Lis_registered(H5L_TYPE_EXTERNAL) > 0)
        H5Lunregister(H5L_TYPE_EXTERNAL);
}

/* HDF5's shutdown at exit, unless a file could not be closed. HDF5's own
 * atexit hook is turned off before anything initialises the library. */
static volatile sig_atomic_t abandoned;

static void term_at_exit(void)
{
    if (!abandoned)
        H5close();
}

__attribute__((constructor)) static void own_atexit(void)
{
    if (H5dont_atexit() >= 0)
        atexit(term_at_exit);
}

void sc_h5_abandon_file(void)
{
    abandoned = 1;
}

void sc_h5_init(void)
{
    pthread_once(&init_once, do_init);
}

/* ------------------------------------------------------------------------ */
/* Errors */

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    char *dst = data;

    (void)n;
    /* Keep the innermost description (the first one walked). */
    if (!dst[0] && err->desc) {
        const char *sys = strstr(err->desc, "error message = '");
        /* a failed read or write: the system's message, not the dump of
         * the driver's state around it */
        if (sys && strchr(sys + 17, '\''))
            snprintf(dst, 256, "%.*s", (int)(strchr(sys + 17, '\'') - sys - 17),
                     sys + 17);
        else
            snprintf(dst, 256, "%s", err->desc);
        for (char *c = dst; *c; c++) /* ctime's newline, in write errors */
            if (*c == '\n' || *c == '\r')
                *c = ' ';
    }
    return 0;
}

int sc_h5_fail(int code, const char *fmt, ...)
{
    char what[768], detail[256] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        return sc_fail(code, "%s: %s", what, detail);
    return sc_fail(code, "%s", what);
}

/* ------------------------------------------------------------------------ */
/* Types */

hid_t sc_h5_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

hid_t sc_h5_bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v = 0;

    H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    H5Tenum_insert(t, "TRUE", &v);
    return t;
}

hid_t sc_h5_file_type(sc_dtype t)
{
    switch (t) {
    case SC_DT_BOOL: return sc_h5_bool_type();
    case SC_DT_I8: return H5T_STD_I8LE;
    case SC_DT_I16: return H5T_STD_I16LE;
    case SC_DT_I32: return H5T_STD_I32LE;
    case SC_DT_I64: return H5T_STD_I64LE;
    case SC_DT_U8: return H5T_STD_U8LE;
    case SC_DT_U16: return H5T_STD_U16LE;
    case SC_DT_U32: return H5T_STD_U32LE;
    case SC_DT_U64: return H5T_STD_U64LE;
    case SC_DT_F32: return H5T_IEEE_F32LE;
    case SC_DT_F64: return H5T_IEEE_F64LE;
    case SC_DT_STR: return sc_h5_str_type();
    default: return H5I_INVALID_HID;
    }
}

hid_t sc_h5_mem_type(sc_dtype t)
{
    switch (t) {
    case SC_DT_BOOL: return sc_h5_bool_type();
    case SC_DT_I8: return H5T_NATIVE_INT8;
    case SC_DT_I16: return H5T_NATIVE_INT16;
    case SC_DT_I32: return H5T_NATIVE_INT32;
    case SC_DT_I64: return H5T_NATIVE_INT64;
    case SC_DT_U8: return H5T_NATIVE_UINT8;
    case SC_DT_U16: return H5T_NATIVE_UINT16;
    case SC_DT_U32: return H5T_NATIVE_UINT32;
    case SC_DT_U64: return H5T_NATIVE_UINT64;
    case SC_DT_F32: return H5T_NATIVE_FLOAT;
    case SC_DT_F64: return H5T_NATIVE_DOUBLE;
    case SC_DT_STR: return sc_h5_str_type();
    default: return H5I_INVALID_HID;
    }
}

int sc_h5_type_is_owned(sc_dtype t)
{
    return t == SC_DT_BOOL || t == SC_DT_STR;
}

static int is_bool_enum(hid_t type)
{
    int n = H5Tget_nmembers(type);
    int ok = 1;

    if (n != 2)
        return 0;
    for (unsigned i = 0; i < 2 && ok; i++) {
        char *name = H5Tget_member_name(type, i);
        long long v = -1;
        hid_t base = H5Tget_super(type);
        unsigned char raw[16] = {0};

        if (!name || base < 0) {
            ok = 0;
        } else if (H5Tget_member_value(type, i, raw) >= 0 &&
                   H5Tget_size(base) <= 8 &&
                   H5Tconvert(base, H5T_NATIVE_LLONG, 1, raw, NULL,
                              H5P_DEFAULT) >= 0) {
            memcpy(&v, raw, sizeof v);
            if (!((strcmp(name, "FALSE") == 0 && v == 0) ||
                  (strcmp(name, "TRUE") == 0 && v == 1)))
                ok = 0;
        } else {
            ok = 0;
        }
        if (base >= 0)
            H5Tclose(base);
        H5free_memory(name);
    }
    return ok;
}

sc_dtype sc_h5_dtype_of(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);

    switch (cls) {
    case H5T_INTEGER: {
        int sign = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: return sign ? SC_DT_I8 : SC_DT_U8;
        case 2: return sign ? SC_DT_I16 : SC_DT_U16;
        case 4: return sign ? SC_DT_I32 : SC_DT_U32;
        case 8: return sign ? SC_DT_I64 : SC_DT_U64;
        default: return SC_DT_NONE;
        }
    }
    case H5T_FLOAT:
        return size <= 4 ? SC_DT_F32 : size == 8 ? SC_DT_F64 : SC_DT_NONE;
    case H5T_STRING: return SC_DT_STR;
    case H5T_ENUM: return is_bool_enum(type) ? SC_DT_BOOL : SC_DT_NONE;
    default: return SC_DT_NONE;
    }
}

/* ------------------------------------------------------------------------ */
/* Strings of any HDF5 string type */

/* Read N strings of TYPE (file type) from a dataset or attribute into OUT
 * (malloc'd strings). IS_ATTR selects H5Aread. */
static int read_strings(hid_t obj, int is_attr, hid_t ftype, hid_t space,
                        int64_t n, char **out, const char *label)
{
    int rc = 0;

    if (H5Tis_variable_str(ftype) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        char **tmp = calloc(n ? (size_t)n : 1, sizeof *tmp);
        herr_t st;

        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ftype));
        if (!tmp) {
            H5Tclose(mt);
            return sc_fail(SC_ENOMEM, "out of memory reading '%s'", label);
        }
        st = is_attr ? H5Aread(obj, mt, tmp)
                     : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
        if (st < 0) {
            free(tmp);
            H5Tclose(mt);
            return sc_h5_fail(SC_EFORMAT, "cannot read strings of '%s'", label);
        }
        for (int64_t i = 0; i < n && rc == 0; i++) {
            out[i] = strdup(tmp[i] ? tmp[i] : "");
            if (!out[i])
                rc = sc_fail(SC_ENOMEM, "out of memory");
        }
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, tmp);
        free(tmp);
        H5Tclose(mt);
        return rc;
    }

    size_t sz = H5Tget_size(ftype);
    H5T_str_t pad = H5Tget_strpad(ftype);
    hid_t mt = H5Tcopy(ftype);
    char *buf;
    herr_t st;

    if (sz == 0 || (int64_t)sz * n > MAX_READ_BYTES) {
        H5Tclose(mt);
        return sc_fail(SC_EFORMAT, "'%s': implausible string size", label);
    }
    buf = malloc(sz * (size_t)(n ? n : 1));
    if (!buf) {
        H5Tclose(mt);
        return sc_fail(SC_ENOMEM, "out of memory reading '%s'", label);
    }
    st = is_attr ? H5Aread(obj, mt, buf)
                 : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Tclose(mt);
    if (st < 0) {
        free(buf);
        return sc_h5_fail(SC_EFORMAT, "cannot read strings of '%s'", label);
    }
    for (int64_t i = 0; i < n && rc == 0; i++) {
        const char *s = buf + (size_t)i * sz;
        size_t len = strnlen(s, sz);
        if (pad == H5T_STR_SPACEPAD)
            while (len > 0 && s[len - 1] == ' ')
                len--;
        out[i] = malloc(len + 1);
        if (!out[i]) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        memcpy(out[i], s, len);
        out[i][len] = '\0';
    }
    free(buf);
    return rc;
}

void sc_strv_free(char **v, int64_t n)
{
    if (!v)
        return;
    for (int64_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------------------------------------------------ */
/* Attributes */

int sc_h5_has_attr(hid_t obj, const char *name)
{
    return H5Aexists(obj, name) > 0;
}

static int space_count(hid_t space, int64_t *n)
{
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    H5S_class_t cls = H5Sget_simple_extent_type(space);

    if (cls == H5S_NULL) {
        *n = 0;
        return 0;
    }
    if (rank < 0)
        return -1;
    H5Sget_simple_extent_dims(space, dims, NULL);
    *n = 1;
    for (int i = 0; i < rank; i++)
        *n *= (int64_t)dims[i];
    return rank;
}

int sc_h5_attr_strs(hid_t obj, const char *name, char ***out, int64_t *n)
{
    hid_t a = -1, t = -1, s = -1;
    char **v = NULL;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (H5Aexists(obj, name) <= 0)
        return SC_ENOTFOUND;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 ||
        (s = H5Aget_space(a)) < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "cannot open attribute '%s'", name);
        goto out;
    }
    if (space_count(s, n) < 0 || *n < 0 || *n > (1 << 24)) {
        rc = sc_fail(SC_EFORMAT, "attribute '%s' has a bad shape", name);
        goto out;
    }
    if (H5Tget_class(t) != H5T_STRING) {
        if (*n == 0)
            goto out; /* h5py's empty float64 array */
        rc = sc_fail(SC_EFORMAT, "attribute '%s' is not a string", name);
        goto out;
    }
    if (!(v = calloc(*n ? (size_t)*n : 1, sizeof *v))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    rc = read_strings(a, 1, t, s, *n, v, name);
    if (rc == 0) {
        *out = v;
        v = NULL;
    }
out:
    if (v)
        sc_strv_free(v, *n);
    if (rc)
        *n = 0;
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

int sc_h5_attr_str(hid_t obj, const char *name, char **out)
{
    char **v;
    int64_t n;
    int rc;

    *out = NULL;
    if ((rc = sc_h5_attr_strs(obj, name, &v, &n)) < 0)
        return rc;
    if (n < 1) {
        sc_strv_free(v, n);
        return sc_fail(SC_EFORMAT, "attribute '%s' is empty", name);
    }
    *out = v[0];
    v[0] = NULL;
    sc_strv_free(v, n);
    return 0;
}

int sc_h5_attr_i64(hid_t obj, const char *name, int64_t *vals, int max, int *n)
{
    hid_t a = -1, t = -1, s = -1;
    int64_t cnt = 0;
    int rc = 0;

    *n = 0;
    if (H5Aexists(obj, name) <= 0)
        return SC_ENOTFOUND;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 ||
        (s = H5Aget_space(a)) < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "cannot open attribute '%s'", name);
        goto out;
    }
    if (H5Tget_class(t) != H5T_INTEGER && H5Tget_class(t) != H5T_FLOAT &&
        H5Tget_class(t) != H5T_ENUM) {
        rc = sc_fail(SC_EFORMAT, "attribute '%s' is not numeric", name);
        goto out;
    }
    if (space_count(s, &cnt) < 0 || cnt > max || cnt < 0) {
        rc = sc_fail(SC_EFORMAT,
                     "attribute '%s' has %lld values, expected "
                     "at most %d",
                     name, (long long)cnt, max);
        goto out;
    }
    {
        int64_t tmp[64];
        if (cnt > 64) {
            rc = sc_fail(SC_EFORMAT, "attribute '%s' too long", name);
            goto out;
        }
        if (H5Tget_class(t) == H5T_FLOAT) {
            double d[64];
            if (H5Aread(a, H5T_NATIVE_DOUBLE, d) < 0) {
                rc = sc_h5_fail(SC_EFORMAT, "cannot read attribute '%s'", name);
                goto out;
            }
            for (int64_t i = 0; i < cnt; i++) {
                if (!(d[i] >= -9.2e18 && d[i] <= 9.2e18)) {
                    rc = sc_fail(SC_EFORMAT, "attribute '%s' out of range",
                                 name);
                    goto out;
                }
                tmp[i] = (int64_t)d[i];
            }
        } else if (H5Aread(a, H5T_NATIVE_INT64, tmp) < 0) {
            rc = sc_h5_fail(SC_EFORMAT, "cannot read attribute '%s'", name);
            goto out;
        }
        memcpy(vals, tmp, (size_t)cnt * sizeof *tmp);
        *n = (int)cnt;
    }
out:
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

int sc_h5_attr_bool(hid_t obj, const char *name, int *out)
{
    int64_t v = 0;
    int n, rc;

    *out = 0;
    if ((rc = sc_h5_attr_i64(obj, name, &v, 1, &n)) < 0)
        return rc;
    if (n != 1)
        return sc_fail(SC_EFORMAT, "attribute '%s' is not a scalar", name);
    *out = v != 0;
    return 0;
}

static int write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                      hid_t space, const void *buf)
{
    hid_t a;
    herr_t st;

    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        return sc_h5_fail(SC_EHDF5, "cannot replace attribute '%s'", name);
    a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return sc_h5_fail(SC_EHDF5, "cannot create attribute '%s'", name);
    st = H5Awrite(a, mtype, buf);
    if (H5Aclose(a) < 0 || st < 0)
        return sc_h5_fail(SC_EHDF5, "cannot write attribute '%s'", name);
    return 0;
}

int sc_h5_write_attr_str(hid_t obj, const char *name, const char *val)
{
    hid_t t = sc_h5_str_type(), s = H5Screate(H5S_SCALAR);
    const char *v = val ? val : "";
    int rc = write_attr(obj, name, t, t, s, &v);

    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int sc_h5_write_attr_strs(hid_t obj, const char *name, const char *const *vals,
                          int64_t n)
{
    hsize_t dim = (hsize_t)n;
    hid_t t = sc_h5_str_type(), s = H5Screate_simple(1, &dim, NULL);
    const char **v = calloc(n ? (size_t)n : 1, sizeof *v);
    int rc;

    if (!v) {
        H5Sclose(s);
        H5Tclose(t);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = vals[i] ? vals[i] : "";
    rc = write_attr(obj, name, t, t, s, v);
    free(v);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int sc_h5_write_attr_i64(hid_t obj, const char *name, const int64_t *vals,
                         int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    int rc = write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s, vals);

    H5Sclose(s);
    return rc;
}

int sc_h5_write_attr_bool(hid_t obj, const char *name, int v)
{
    hid_t t = sc_h5_bool_type(), s = H5Screate(H5S_SCALAR);
    int8_t b = v ? 1 : 0;
    int rc = write_attr(obj, name, t, t, s, &b);

    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Datasets */

int sc_h5_shape(hid_t ds, int *rank, int64_t *dims, const char *label)
{
    hid_t s = H5Dget_space(ds);
    hsize_t d[H5S_MAX_RANK];
    int r;

    if (s < 0)
        return sc_h5_fail(SC_EFORMAT, "cannot get the shape of '%s'", label);
    if (H5Sget_simple_extent_type(s) == H5S_NULL) {
        H5Sclose(s);
        *rank = -1; /* a `null` element */
        return 0;
    }
    r = H5Sget_simple_extent_ndims(s);
    if (r < 0 || r > SC_MAX_RANK) {
        H5Sclose(s);
        return sc_fail(SC_EFORMAT, "'%s' has an unsupported rank", label);
    }
    H5Sget_simple_extent_dims(s, d, NULL);
    H5Sclose(s);
    *rank = r;
    for (int i = 0; i < r; i++)
        dims[i] = (int64_t)d[i];
    return 0;
}

int sc_h5_check_filters(hid_t ds, const char *label)
{
    hid_t pl = H5Dget_create_plist(ds);
    int n, rc = 0;

    if (pl < 0)
        return sc_h5_fail(SC_EFORMAT, "cannot inspect '%s'", label);
    n = H5Pget_nfilters(pl);
    for (int i = 0; i < n && rc == 0; i++) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd,
                                         sizeof name, name, NULL);
        if (id < 0 || H5Zfilter_avail(id) <= 0)
            rc = sc_fail(SC_EUNSUP,
                         "'%s' uses HDF5 filter %d%s%s%s, which is not "
                         "supported (gzip, shuffle, fletcher32, szip and lzf "
                         "are)",
                         label, (int)id, name[0] ? " (" : "", name,
                         name[0] ? ")" : "");
    }
    H5Pclose(pl);
    return rc;
}

int sc_h5_read_array(hid_t ds, const char *name, const char *label,
                     sc_elem **out)
{
    hid_t ft = -1, space = -1;
    sc_elem *e = NULL;
    int64_t dims[SC_MAX_RANK], n = 1;
    int rank, rc;
    sc_dtype dt;

    *out = NULL;
    if ((rc = sc_h5_shape(ds, &rank, dims, label)) < 0)
        return rc;
    if (rank < 0) {
        *out = sc_elem_new(SC_K_NULL, name);
        return *out ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    }
    if ((rc = sc_h5_check_filters(ds, label)) < 0)
        return rc;
    if ((ft = H5Dget_type(ds)) < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "cannot get the type of '%s'", label);
        goto out;
    }
    dt = sc_h5_dtype_of(ft);
    if (dt == SC_DT_NONE) {
        rc = sc_fail(SC_EFORMAT, "'%s' has an unsupported data type", label);
        goto out;
    }
    if ((rc = sc_h5_check_declared(ds, label, 1)) < 0)
        goto out;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (dims[i] > 0 && n > MAX_READ_BYTES / dims[i])) {
            rc = sc_fail(SC_EFORMAT, "'%s' is implausibly large", label);
            goto out;
        }
        n *= dims[i];
    }
    if (n > MAX_READ_BYTES / 16) {
        rc = sc_fail(SC_EFORMAT, "'%s' is too large to load (%lld values)",
                     label, (long long)n);
        goto out;
    }
    if (!(e = sc_elem_new_array(name, dt, rank, dims))) {
        rc = sc_fail(SC_ENOMEM, "out of memory reading '%s'", label);
        goto out;
    }
    if (n > 0) {
        if (dt == SC_DT_STR) {
            space = H5Dget_space(ds);
            rc = read_strings(ds, 0, ft, space, n, e->data, label);
        } else {
            hid_t mt = sc_h5_mem_type(dt);
            herr_t st = H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, e->data);
            if (sc_h5_type_is_owned(dt))
                H5Tclose(mt);
            if (st < 0)
                rc = sc_h5_fail(SC_EFORMAT, "cannot read '%s'", label);
            if (dt == SC_DT_BOOL) /* normalise any non-zero to 1 */
                for (int64_t i = 0; i < n; i++)
                    ((uint8_t *)e->data)[i] = ((uint8_t *)e->data)[i] != 0;
        }
    }
out:
    if (space >= 0)
        H5Sclose(space);
    if (ft >= 0)
        H5Tclose(ft);
    if (rc < 0) {
        sc_elem_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int sc_h5_read_path(hid_t loc, const char *path, const char *name,
                    const char *label, sc_elem **out)
{
    hid_t ds;
    int rc;

    *out = NULL;
    if (!sc_h5_is_dataset(loc, path))
        return sc_fail(SC_EFORMAT, "%s: missing dataset", label);
    if ((ds = H5Dopen2(loc, path, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    rc = sc_h5_read_array(ds, name, label, out);
    H5Dclose(ds);
    return rc;
}

void sc_h5_file_priv_free(void *priv)
{
    hid_t *f = priv;

    if (f && *f > 0)
        H5Fclose(*f);
    free(f);
}

int sc_h5_read_1d(hid_t ds, int64_t off, int64_t n, sc_dtype dtype, void *buf,
                  const char *label)
{
    hid_t fs = -1, ms = -1, mt;
    hsize_t start = (hsize_t)off, count = (hsize_t)n;
    int rc = 0;

    if (n == 0)
        return 0;
    mt = sc_h5_mem_type(dtype);
    if ((fs = H5Dget_space(ds)) < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) <
            0 ||
        (ms = H5Screate_simple(1, &count, NULL)) < 0 ||
        H5Dread(ds, mt, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = sc_h5_fail(SC_EFORMAT, "cannot read '%s' [%lld, %lld)", label,
                        (long long)off, (long long)(off + n));
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (sc_h5_type_is_owned(dtype))
        H5Tclose(mt);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Links */

int sc_h5_exists(hid_t loc, const char *path)
{
    /* H5Lexists needs each intermediate component to exist. */
    char buf[1024];
    size_t len = strlen(path);

    if (len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (char *p = buf + (buf[0] == '/'); *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
                return 0;
            *p = '/';
        }
    }
    return H5Lexists(loc, path, H5P_DEFAULT) > 0;
}

static int obj_type(hid_t loc, const char *path)
{
    H5O_info_t info;

    if (!sc_h5_exists(loc, path))
        return -1;
    if (H5Oget_info_by_name2(loc, path, &info, H5O_INFO_BASIC, H5P_DEFAULT) <
        0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    return (int)info.type;
}

int sc_h5_is_group(hid_t loc, const char *path)
{
    return obj_type(loc, path) == H5O_TYPE_GROUP;
}

int sc_h5_is_dataset(hid_t loc, const char *path)
{
    return obj_type(loc, path) == H5O_TYPE_DATASET;
}

struct list_ctx {
    char **v;
    int64_t n, cap;
    int rc;
};

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info,
                      void *data)
{
    struct list_ctx *c = data;

    (void)g;
    (void)info;
    if (c->n == c->cap) {
        int64_t cap = c->cap ? c->cap * 2 : 16;
        char **v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) {
            c->rc = sc_fail(SC_ENOMEM, "out of memory");
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    if (!(c->v[c->n] = strdup(name))) {
        c->rc = sc_fail(SC_ENOMEM, "out of memory");
        return -1;
    }
    c->n++;
    return 0;
}

int sc_h5_list(hid_t g, char ***out, int64_t *n)
{
    struct list_ctx c = {0};
    hid_t pl = H5Gget_create_plist(g);
    unsigned crt = 0;
    H5_index_t idx = H5_INDEX_NAME;
    herr_t st;

    if (pl >= 0) {
        if (H5Pget_link_creation_order(pl, &crt) >= 0 &&
            (crt & H5P_CRT_ORDER_INDEXED))
            idx = H5_INDEX_CRT_ORDER;
        H5Pclose(pl);
    }
    st = H5Literate(g, idx, H5_ITER_INC, NULL, list_cb, &c);
    if (st < 0 || c.rc < 0) {
        sc_strv_free(c.v, c.n);
        *out = NULL;
        *n = 0;
        return c.rc < 0 ? c.rc : sc_h5_fail(SC_EFORMAT, "cannot list a group");
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

int sc_h5_open_ro(const char *path, hid_t *out)
{
    FILE *f;
    hid_t fid;
    htri_t is;

    sc_h5_init();
    *out = H5I_INVALID_HID;
    {
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return sc_fail(SC_EFORMAT,
                           "'%s' is not a regular file (a FIFO or device "
                           "is refused)",
                           path);
    }
    if (!(f = fopen(path, "rb")))
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    fclose(f);
    is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return sc_fail(SC_EFORMAT,
                       "'%s' is not an HDF5 file (or is "
                       "truncated)",
                       path);
    }
    fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid < 0)
        return sc_h5_fail(SC_EFORMAT, "cannot open '%s' as HDF5", path);
    *out = fid;
    return 0;
}
