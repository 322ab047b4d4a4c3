/* sc_stream_src: a dataset's matrix opened for streaming (a source):
 * h5ad opened directly, without obs, var and uns, other formats through
 * sc_adata_open; the raw pread readers over it. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_h5.h"
#include "sc_stream_int.h"

/* ------------------------------------------------------------------------ */
/* Sources                                                                  */

/* An h5ad matrix opened without reading obs, var and uns: that keeps the
 * re-opening of files evicted from the open-file cache cheap. Returns
 * SC_EUNSUP for layouts left to sc_adata_open. */
static int open_h5ad_direct(const char *path, const char *matrix, ss_src *s)
{
    char gpath[512], p_data[600], p_idx[600], p_ptr[600];
    char *enc = NULL;
    int64_t shape[2];
    int n = 0, rc;
    hid_t g = H5I_INVALID_HID;

    if (!matrix || !strcmp(matrix, "X"))
        snprintf(gpath, sizeof gpath, "/X");
    else if (!strcmp(matrix, "raw") || !strcmp(matrix, "raw/X"))
        snprintf(gpath, sizeof gpath, "/raw/X");
    else
        snprintf(gpath, sizeof gpath, "/layers/%s", matrix);
    if ((rc = sc_h5_open_ro(path, &s->file)) < 0)
        return rc;
    /* an AnnData tree (loom and 10x files have other layouts, and loom's
     * layers are genes x cells) */
    if (sc_h5_is_group(s->file, "obs") != 1 ||
        sc_h5_is_group(s->file, "var") != 1)
        return SC_EUNSUP;
    if (sc_h5_is_dataset(s->file, gpath) == 1) {
        /* dense: the reader handles 1-D/2-D details */
        return sc_mat_open_h5_dense(s->file, gpath, gpath, SC_MAT_DENSE,
                                    &s->mat);
    }
    if (sc_h5_is_group(s->file, gpath) != 1)
        return sc_fail(SC_EUNSUP, "no group");
    if ((g = H5Gopen2(s->file, gpath, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "'%s': cannot open %s", path, gpath);
    rc = sc_h5_attr_str(g, "encoding-type", &enc);
    if (rc == 0 && (!strcmp(enc, "csr_matrix") || !strcmp(enc, "csc_matrix")))
        rc = sc_h5_attr_i64(g, "shape", shape, 2, &n);
    else
        rc = SC_EUNSUP;
    H5Gclose(g);
    if (rc < 0 || n != 2) {
        free(enc);
        return SC_EUNSUP;
    }
    snprintf(p_data, sizeof p_data, "%s/data", gpath);
    snprintf(p_idx, sizeof p_idx, "%s/indices", gpath);
    snprintf(p_ptr, sizeof p_ptr, "%s/indptr", gpath);
    rc = sc_mat_open_h5_sparse(s->file, gpath, p_data, p_idx, p_ptr,
                               !strcmp(enc, "csc_matrix") ? SC_MAT_CSC
                                                          : SC_MAT_CSR,
                               shape[0], shape[1], &s->mat);
    if (rc == 0 && !strcmp(enc, "csr_matrix")) {
        rc = ss_raw_open(path, s->file, gpath, shape[0], shape[1], &s->raw);
        if (rc == SC_EUNSUP)
            rc = 0;
        if (rc == 0 && s->raw &&
            (!(s->path = strdup(path)) || !(s->gpath = strdup(gpath))))
            rc = sc_fail(SC_ENOMEM, "out of memory");
        s->shape[0] = shape[0];
        s->shape[1] = shape[1];
    }
    free(enc);
    return rc;
}

/* Close the HDF5 side of S when its raw reader reads without it: an open
 * HDF5 file costs about 530 KB (its metadata cache's hash table of 64 Ki
 * pointers, whatever the cache's configured size), against a few KB for
 * the fd, indptr and chunk table the raw reader keeps. */
static void src_detach(ss_src *s)
{
    const char *keep = getenv("SC_STREAM_KEEP_H5");
    if (s->ad || s->file < 0 || !s->raw || (keep && *keep) ||
        ss_raw_detach(s->raw) < 0)
        return;
    for (int w = 0; w < SS_RAW_PARTS; w++)
        if (s->part[w] && ss_raw_detach(s->part[w]) < 0) {
            ss_raw_close(s->part[w]);
            s->part[w] = NULL;
        }
    sc_mat_free(s->mat);
    s->mat = NULL;
    H5Fclose(s->file);
    s->file = H5I_INVALID_HID;
}

int ss_src_open(const char *path, const char *matrix, ss_src **out)
{
    int rc = ss_src_open_h5(path, matrix, out);
    if (rc == 0)
        src_detach(*out);
    return rc;
}

/* *OUT: an empty source (no HDF5 file), or SC_ENOMEM. */
static int src_new(ss_src **out)
{
    if (!(*out = calloc(1, sizeof **out)))
        return sc_fail(SC_ENOMEM, "out of memory");
    (*out)->file = H5I_INVALID_HID;
    return 0;
}

int ss_src_open_h5(const char *path, const char *matrix, ss_src **out)
{
    ss_src *s;
    int rc;

    *out = NULL;
    if ((rc = src_new(&s)) < 0)
        return rc;
    sc_h5_init();
    /* Try the file as an h5ad straight away (detecting the format first
     * would open it twice); anything else, or any problem, goes through
     * sc_adata_open, which also gives the error message. */
    if (open_h5ad_direct(path, matrix, s) == 0) {
        *out = s;
        return 0;
    }
    sc_err_clear();
    ss_raw_close(s->raw);
    s->raw = NULL;
    free(s->path);
    free(s->gpath);
    s->path = s->gpath = NULL;
    sc_mat_free(s->mat);
    s->mat = NULL;
    if (s->file >= 0)
        H5Fclose(s->file);
    s->file = H5I_INVALID_HID;
    if ((rc = sc_adata_open(path, 0, &s->ad)) < 0 ||
        (rc = ss_pick_matrix(s->ad, matrix, &s->mat)) < 0) {
        ss_src_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ss_src_reopen(const ss_raw *skel, const char *path, ss_src **out)
{
    ss_src *s;
    int rc;

    *out = NULL;
    if ((rc = src_new(&s)) < 0)
        return rc;
    if ((rc = ss_raw_reopen(skel, path, &s->raw)) < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

sc_mat *ss_src_mat(ss_src *s)
{
    return s->mat;
}

ss_raw *ss_src_raw(ss_src *s)
{
    return s->raw;
}

ss_raw *ss_src_raw_part(ss_src *s, int w)
{
    if (w == 0 || !s->raw)
        return s->raw;
    if (w >= SS_RAW_PARTS)
        return NULL;
    if (!s->part[w - 1] &&
        (s->file < 0 ? ss_raw_clone(s->raw, &s->part[w - 1])
                     : ss_raw_open(s->path, s->file, s->gpath, s->shape[0],
                                   s->shape[1], &s->part[w - 1])) < 0) {
        sc_err_clear();
        return NULL;
    }
    return s->part[w - 1];
}

void ss_src_close(ss_src *s)
{
    if (!s)
        return;
    ss_raw_close(s->raw);
    for (int w = 0; w < SS_RAW_PARTS; w++)
        ss_raw_close(s->part[w]);
    free(s->path);
    free(s->gpath);
    if (s->ad) {
        sc_adata_close(s->ad); /* owns the matrix */
    } else {
        sc_mat_free(s->mat);
        if (s->file >= 0)
            H5Fclose(s->file);
    }
    free(s);
}
