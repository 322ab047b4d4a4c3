/* sc-fetch.h: declarations shared by the parts of sc-fetch. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_FETCH_H
#define SC_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "sc_cli.h"
#include "sc_cxg.h"
#include "sc_http.h"
#include "sc_manifest.h"

struct args {
    const char *dir;
    const char *output;
    const char *api_url;
    const char *sha256;
    const char *mirror;
    const char *schema_version; /* the last --schema-version */
    int n_schema;
    int manifest_fmt;
    int keep_going, dry_run, verify, check, force;
    uint64_t limit_rate;
    sc_cxg_filter filter;
    sc_http_opts http;
};

/* Dataset arrays from API calls, freed at the end. */
struct pool_of_datasets {
    struct {
        sc_cxg_dataset *v;
        size_t n;
    } * sets;
    size_t n;
};

/* The columns that describe the file a row fetched, last in every list. */
#define FILE_COLS                                                              \
    SC_MCOL_SOURCE, SC_MCOL_SIZE, SC_MCOL_SHA256, SC_MCOL_MTIME_NS,            \
        SC_MCOL_FETCHED_AT, SC_MCOL_FETCH_VERSION, SC_MCOL_MESSAGE

/* Columns of our manifests, in this order after "path". */
extern const char *const get_cols[];

/* sc-fetch.c: output and the catalogue. */

/* Write manifest M to a->output. */
int write_manifest(const struct args *a, sc_manifest *m);

/* Keep the array V of N datasets in P, freed by datasets_release (at
 * once when that fails). */
int keep_datasets(struct pool_of_datasets *p, sc_cxg_dataset *v, size_t n);

/* Free the datasets P keeps. */
void datasets_release(struct pool_of_datasets *p);

/* The CELLxGENE client of --api-url and the HTTP options of A. */
int api_client(const struct args *a, sc_cxg **c);

/* The index, filtered: schema_version goes to the server when it is the
 * only one asked for (the API filters on it too). */
int fetch_index(const struct args *a, sc_cxg *c, struct pool_of_datasets *p);

/* Metadata columns shared by `list -O manifest` and `get`. */
int set_dataset_cols(sc_mrow *r, const sc_cxg_dataset *d);

/* sc-fetch_get.c: the commands. */

int cmd_get(struct args *a, sc_cli *cli);

int cmd_refs(struct args *a, sc_cli *cli);

#endif
