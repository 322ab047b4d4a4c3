/* sc_h5ad_read_int: declarations shared by the sc_h5ad_read*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_H5AD_READ_INT_H
#define SC_H5AD_READ_INT_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_adata.h"

/* The state of one open: the file and the generation of its layout. */
typedef struct rd {
    hid_t file;
    const char *path;
    int legacy; /* 2 = pre-0.7, 1 = 0.7, 0 = modern */
    int depth;  /* nesting of read_element: bounds link cycles */
} rd;

/* sc_h5ad_read.c: helpers. */

/* Join a label and a key: "obs" + "cell_type" -> "obs/cell_type". */
void h5r_join(char *buf, size_t size, const char *a, const char *b);

/* The length of the first dimension of E (rows of a column), or -1. */
int64_t h5r_first_dim(const sc_elem *e);

/* Convert any integer array element to an I32 code array in place. */
int h5r_to_i32_codes(sc_elem *codes, const char *label);

/* Codes of the categorical CAT must be -1 or index its categories. */
int h5r_check_codes(const sc_elem *cat, const char *label);

/* sc_h5ad_read_df.c: dataframes and compound datasets. */

/* Read a 1-D compound dataset as a SC_K_RECARRAY of field arrays. */
int h5r_read_compound(hid_t loc, const char *name, const char *label,
                      sc_elem **out);

/* Pre-0.7: a compound dataset with an `index` field becomes a dataframe. */
int h5r_compound_to_df(sc_elem *rec, const char *name, const char *label,
                       sc_elem **out);

/* A dataframe group (0.2.0 or 0.1.0, 0.7 categoricals) NAME in LOC. */
int h5r_read_dataframe(rd *r, hid_t loc, const char *name, const char *label,
                       sc_elem **out);

/* sc_h5ad_read.c: any element. */

/* Element NAME in LOC (LABEL names it in messages), by its encoding or
 * shape; nesting deeper than MAX_DEPTH (a link cycle) is refused. */
int h5r_read_element(rd *r, hid_t loc, const char *name, const char *label,
                     int dense_as_matrix, sc_elem **out);

#endif
