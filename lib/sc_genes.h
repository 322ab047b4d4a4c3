/* sc_genes: gene references per species; id, symbol and alias mapping. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_GENES_H
#define SC_GENES_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * The gene references are the CELLxGENE validator's lists (share/genes/
 * cxg-gencode/schema-7/genes_<species>.csv.gz: id, name, version, length,
 * type), the schema-5 lists of human and mouse for ids retired since
 * (GENCODE v44 / vM33), the HGNC set for human aliases and previous
 * symbols, and the human-mouse ortholog table. All are found through
 * sc_share_path(); versions are read from the data (gene_info.yml.gz).
 *
 * Mapping rules (sc_genes_map), in this order:
 *   - ids: an Ensembl version ("ENSG00000186092.7") and a "_PAR_Y" suffix
 *     are stripped; an id of the current list maps to itself; an id only in
 *     the schema-5 list (retired) maps forward to its unique successor (the
 *     one current gene of the same name), else it is dropped
 *     (retired_dropped); with SC_GENES_KEEP_RETIRED it maps to itself;
 *   - legacy "SYMBOL_ENSG00000290825" names map through their id;
 *   - symbols: a name carried by exactly one gene of the current list
 *     (symbol); a name carried by several genes, also when they differ only
 *     in case, is ambiguous and dropped;
 *   - every species: a name that matches exactly one gene ignoring case
 *     ("CD74" for mouse Cd74): case;
 *   - human only: an HGNC approved symbol whose gene is in the list; an
 *     alias or previous symbol (ignoring case) when every source (HGNC's
 *     aliases and previous symbols, NCBI Gene's symbols and synonyms) gives
 *     it to one gene, it is no HGNC approved symbol and no GENCODE name (v48
 *     or v44), and its gene is in the list; otherwise ambiguous or shadowed;
 *   - a symbol damaged by a spreadsheet ("7-Sep", "2.31E+13", any case),
 *     restored through share/genes/spreadsheet_damage.tsv.gz when the table
 *     gives one current gene of the species (restored), else dropped
 *     (ambiguous_restored);
 *   - "NAME-1" made unique by scanpy from a duplicate is dropped;
 *   - ERCC spike-in ids map with every species.
 * Whether two entries of one dataset may be summed is the caller's
 * decision (sc_harmonize_genes: only the same feature by evidence).
 *
 * Threading: loading needs the handle to itself; afterwards every query
 * may run from any number of threads.
 */

/* Species of the references (index into the species table). */
typedef struct sc_species {
    const char *name;     /* "human" */
    const char *latin;    /* "homo_sapiens": the reference file stem */
    const char *taxon;    /* "NCBITaxon:9606" */
    const char *prefixes; /* id prefixes, space-separated: "ENSG" */
} sc_species;

/* The number of species, and species I (static data). */
int sc_genes_n_species(void);
const sc_species *sc_genes_species(int i);
/* The species named by S: a name ("mouse"), a latin name, or an NCBITaxon
 * id in any spelling; -1 when none. */
int sc_genes_find_species(const char *s);
/* The species whose id prefix ID carries (after an optional version), -1
 * for none. ERCC spike-ins and SARS-CoV-2 ids are not a species: see
 * sc_genes_is_spike_in(). */
int sc_genes_species_of_id(const char *id);
/* 1 for ERCC spike-in ids ("ERCC-00002"). */
int sc_genes_is_spike_in(const char *id);

/* The version of the current gene list of SPECIES ("GENCODE 48",
 * "Ensembl 114"), read from the data without loading the list, into BUF of
 * SIZE bytes ("unknown" when it cannot be read). */
void sc_genes_reference_version(int species, char *buf, size_t size);

/* Why sc_genes_map() gave its answer (names as in make-corpus' truth). */
typedef enum sc_gene_kind {
    SC_GENE_ID = 0,             /* current id */
    SC_GENE_ID_VERSIONED,       /* current id with an Ensembl version */
    SC_GENE_PAR_Y,              /* "_PAR_Y" copy: the X gene */
    SC_GENE_RETIRED,            /* schema-5 id: its successor (or kept) */
    SC_GENE_SYMBOL,             /* unique gene name */
    SC_GENE_SYMBOL_ENSG,        /* legacy "SYMBOL_ENSG..." name */
    SC_GENE_CASE,               /* unique gene name ignoring case */
    SC_GENE_ALIAS,              /* unique alias (HGNC and NCBI agree) */
    SC_GENE_PREV,               /* unique HGNC previous symbol */
    SC_GENE_RESTORED,           /* spreadsheet-damaged symbol restored */
    SC_GENE_GENE_MAP,           /* given by a --gene-map file */
    SC_GENE_ORTHOLOG,           /* projected onto a one-to-one ortholog */
    SC_GENE_UNKNOWN,            /* dropped: not in the reference */
    SC_GENE_AMBIGUOUS_SYMBOL,   /* dropped: name of several genes */
    SC_GENE_AMBIGUOUS_ALIAS,    /* dropped: alias of several genes */
    SC_GENE_SHADOWED_ALIAS,     /* dropped: alias equal to an approved symbol */
    SC_GENE_AMBIGUOUS_RESTORED, /* dropped: damaged form of several genes */
    SC_GENE_RETIRED_DROPPED,    /* dropped: retired id, no unique successor */
    SC_GENE_MADE_UNIQUE,        /* dropped: "NAME-1" from a duplicate */
    SC_GENE_FOREIGN,            /* dropped: an id of another species */
    SC_GENE_COLLISION,          /* dropped: its gene is another entry's */
    SC_GENE_NO_ORTHOLOG,        /* dropped: no one-to-one ortholog */
    SC_GENE_GENE_MAP_DROPPED,   /* dropped: "-" in a --gene-map file */
    SC_GENE_N_KINDS
} sc_gene_kind;

/* "id", "id_versioned", "par_y", "retired", "symbol", ... */
const char *sc_gene_kind_name(sc_gene_kind k);
/* The kind named S, or -1. */
int sc_gene_kind_find(const char *s);

typedef struct sc_genes sc_genes;

enum {
    SC_GENES_NO_RETIRED = 1u << 0,   /* do not load the schema-5 list */
    SC_GENES_NO_HGNC = 1u << 1,      /* human: no aliases/previous symbols */
    SC_GENES_KEEP_RETIRED = 1u << 2, /* retired ids map to themselves */
};

/* Load the reference of SPECIES (sc_genes_find_species). On success *OUT
 * owns it: free with sc_genes_free(). Returns 0, SC_EINVAL (bad species),
 * SC_EIO / SC_EFORMAT naming the file, or SC_ENOMEM. */
SC_MUST_CHECK int sc_genes_load(int species, unsigned flags, sc_genes **out);
void sc_genes_free(sc_genes *g);

/* The species index, and the versions of the data loaded, e.g. "GENCODE 48;
 * retired: GENCODE 44; HGNC 2024-02-01" (borrowed). */
int sc_genes_species_index(const sc_genes *g);
const char *sc_genes_version(const sc_genes *g);

/* Genes: the current list first (0 .. sc_genes_n_current()-1), then the
 * retired ids. Accessors of gene I (strings borrowed until free). */
int64_t sc_genes_count(const sc_genes *g);
int64_t sc_genes_n_current(const sc_genes *g);
const char *sc_genes_id(const sc_genes *g, int64_t i);
const char *sc_genes_name(const sc_genes *g, int64_t i);
const char *sc_genes_type(const sc_genes *g, int64_t i);
int64_t sc_genes_length(const sc_genes *g, int64_t i);
int sc_genes_is_retired(const sc_genes *g, int64_t i);
/* 1 for the ERCC spike-ins, which every species' reference includes after
 * its own genes (feature ids "ERCC-00002", names "ERCC-00002 (spike-in
 * control)", type "synthetic"). */
int sc_genes_is_spike(const sc_genes *g, int64_t i);

/* QC groups of gene I (bits): mitochondrial (name "MT-..."), ribosomal
 * ("RPS..."/"RPL..."), hemoglobin ("HB..." but not "HBP..."), any case. */
enum { SC_GENE_MT = 1, SC_GENE_RIBO = 2, SC_GENE_HB = 4 };
unsigned sc_genes_qc_group(const sc_genes *g, int64_t i);

/* Index of the gene with id ID exactly (no stripping), or -1. */
int64_t sc_genes_find_id(const sc_genes *g, const char *id);

/* Map one var entry NAME (an id or a symbol, as found in a var column) by
 * the rules above: returns the gene index, or -1 when it is dropped, and
 * the reason in *KIND (may be NULL). Thread-safe. */
int64_t sc_genes_map(const sc_genes *g, const char *name, sc_gene_kind *kind);

/* The candidates of a name sc_genes_map() found ambiguous (KIND one of the
 * ambiguous or shadowed kinds): their symbols joined by '|' into BUF of
 * SIZE bytes ("" when none is known). Thread-safe. */
void sc_genes_candidates(const sc_genes *g, const char *name, sc_gene_kind kind,
                         char *buf, size_t size);

/* Human-mouse one-to-one orthologs (share/genes/orthologs): a new array
 * *OUT of sc_genes_count(FROM) entries (free() it) giving for each gene of
 * FROM the index of its one-to-one ortholog in TO, or -1. FROM and TO are
 * the human and mouse references, either way round. Returns 0, SC_EINVAL
 * (not human and mouse), SC_EIO / SC_EFORMAT, SC_ENOMEM. */
SC_MUST_CHECK int sc_genes_orthologs(const sc_genes *from, const sc_genes *to,
                                     int64_t **out);

/*
 * A gene-list file (sc-harmonize --gene-space, sc-stream --genes): one gene
 * id or symbol a line, plain or gzip. Blanks before the id are skipped; the
 * id ends at the first blank (space, tab, carriage return) or '#', so a
 * line may carry more columns or a comment after it; empty lines and lines
 * that start with '#' are skipped. The one reader of the format.
 */
/* Read gene list PATH ("-" for stdin) into *GENES (N strings, in order,
 * duplicates kept; free with sc_genes_list_free). Returns 0, SC_EFORMAT
 * for a list with no id ("gene list 'x.txt' has no gene ids"), or the
 * errors of sc_lines_open/next (SC_EIO, SC_ECORRUPT), or SC_ENOMEM. */
SC_MUST_CHECK int sc_genes_list_read(const char *path, char ***genes,
                                     size_t *n);
void sc_genes_list_free(char **genes, size_t n);

#endif
