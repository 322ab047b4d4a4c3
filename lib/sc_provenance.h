/* sc_provenance: the steps of uns['provenance'] (sc-register(1)). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_PROVENANCE_H
#define SC_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_adata.h"
#include "sc_err.h"

/*
 * uns['provenance'] as sc-register(1) describes it under PROVENANCE: a dict
 * of steps named "0", "1", ... oldest first, each a dict of strings (tool,
 * version, arguments, time, host, input_sha256, input_path) and a dict
 * "references" of reference data names to versions. A tool that writes an
 * h5ad keeps the steps of its input and appends its own.
 */

/* One step. Strings are borrowed; NULL or "" leaves a key out (tool is
 * required). REF_NAMES / REF_VERSIONS hold N_REFS pairs. */
typedef struct sc_prov_step {
    const char *tool, *version, *arguments;
    const char *input_sha256, *input_path;
    const char *const *ref_names, *const *ref_versions;
    size_t n_refs;
} sc_prov_step;

/*
 * Append step S to UNS['provenance'] (created when absent; an entry that is
 * not a dict of steps is replaced, and *REPLACED set to 1 when REPLACED is
 * not NULL), with the time now in UTC (ISO 8601, SOURCE_DATE_EPOCH
 * honoured) and the host name. Returns 0, SC_EINVAL (no tool) or
 * SC_ENOMEM; UNS is unchanged on failure.
 */
SC_MUST_CHECK int sc_provenance_add(sc_elem *uns, const sc_prov_step *s,
                                    int *replaced);

/* The time T (seconds since the epoch) in UTC, ISO 8601, into BUF:
 * "2026-11-24T21:40:30Z". The one format of the times the toolkit writes
 * (provenance, lineage, state files, listings). Thread-safe. */
void sc_time_iso(int64_t t, char buf[32]);

/* The provenance time into BUF: "2026-11-24T21:40:30Z", from
 * $SOURCE_DATE_EPOCH when it is set and valid, else now. Thread-safe. */
void sc_provenance_time(char *buf, size_t size);

#endif
