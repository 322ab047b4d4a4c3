/* sc_onto_int.h: private to sc_onto*.c: the compiled form of one ontology. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ONTO_INT_H
#define SC_ONTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_onto.h"

/*
 * One loaded ontology is one contiguous blob, built in memory by the
 * parsers and written as it is to the cache, so that a cache hit is an mmap
 * and the queries read the same structures either way. Native byte order
 * (the header records it); every section is 8-byte aligned; strings are
 * offsets into the pool, whose offset 0 is "" and means "none"; terms are
 * sorted by id, and indices are local to the blob.
 */
#define ONTO_MAGIC  "SCONTO\r\n"
#define ONTO_FORMAT 1 /* bump on any change of the layout */
#define ONTO_ENDIAN 0x01020304u

enum { ONTO_DEPRECATED = 1 };

/* The label indexes, in the order of SC_ONTO_BY_*. */
#define ONTO_N_INDEX 4

struct onto_hdr {
    char magic[8];
    uint32_t format, endian;
    uint64_t size; /* of the whole blob */
    uint32_t crc;  /* crc32 of the bytes after this header */
    uint32_t n_terms;
    uint64_t n_anc;  /* links in each of anc and desc */
    uint64_t n_strs; /* synonym and consider offsets */
    uint64_t n_alt;  /* alt ids */
    uint64_t n_keys[ONTO_N_INDEX];
    uint64_t pool_size;
    /* where the data came from: the cache key (see sc_onto_cache.c) */
    uint64_t src_size;
    int64_t src_mtime, src_mtime_ns;
    uint32_t src_path, name, version, prefixes; /* pool offsets */
    /* section offsets from the start of the blob */
    uint64_t off_terms, off_anc, off_desc, off_strs, off_alt, off_pool;
    uint64_t off_keys[ONTO_N_INDEX];
};

struct onto_rec {
    uint32_t id, label, replaced_by; /* pool offsets */
    uint32_t flags;                  /* ONTO_DEPRECATED */
    uint32_t syn, n_syn;             /* range of strs */
    uint32_t cons, n_cons;           /* range of strs */
    uint64_t anc;                    /* range of anc, sorted by term */
    uint64_t desc;                   /* range of desc, sorted by term */
    uint32_t n_anc, n_desc;
    int32_t depth;
    uint32_t pad;
};

struct onto_link {
    uint32_t term, dist;
};

/* A string -> term pair of the alt id and label indexes, sorted by the
 * string (strcmp), then the term. */
struct onto_key {
    uint32_t str, term;
};

/* A blob and the pointers into it. */
struct onto_seg {
    unsigned char *blob;
    size_t size;
    int mapped; /* munmap, else free */
    int from_cache;
    const struct onto_hdr *h;
    const struct onto_rec *terms;
    const struct onto_link *anc, *desc;
    const uint32_t *strs;
    const struct onto_key *alt, *keys[ONTO_N_INDEX];
    const char *pool;
};

/* For tests: 0 turns off sc_onto_search's prefilters (a byte-histogram
 * bound before the edit distance, the query words' stems before the word
 * split), which must never change its answer. 1 by default. */
extern int sc_onto_search_prefilter;

/* Where a blob comes from, recorded in its header and compared when a
 * cache is read. PATH is the real path of the source. */
struct onto_src {
    const char *path;
    uint64_t size;
    int64_t mtime, mtime_ns;
};

/* Parse the guide JSON / OBO file at SRC->path into a new blob (*OUT, freed
 * with sc_onto_seg_free). NAME and VERSION: from the file name when found
 * there (may be NULL). 0, SC_EIO, SC_EFORMAT, SC_ENOMEM, SC_EUNSUP. */
int sc_onto_seg_parse_json(const struct onto_src *src, const char *name,
                           const char *version, struct onto_seg **out);
int sc_onto_seg_parse_obo(const struct onto_src *src, struct onto_seg **out);

/* The cache file for SRC in DIR, into BUF. 0 or SC_EINVAL (too long). */
int sc_onto_cache_name(const char *dir, const struct onto_src *src, char *buf,
                       size_t size);
/* Map the cache file PATH when it is sound and matches SRC: 0 with *OUT,
 * or a negative code (the caller parses the source instead). */
int sc_onto_cache_read(const char *path, const struct onto_src *src,
                       struct onto_seg **out);
/* Write SEG to PATH atomically (creating its directory). 0 or SC_E*. */
int sc_onto_cache_write(const char *path, const struct onto_seg *seg);

/* Check a blob of SIZE bytes (header, checksum, every offset and index)
 * and point SEG into it. 0, or SC_ECORRUPT with the reason. */
int sc_onto_seg_attach(struct onto_seg *seg, unsigned char *blob, size_t size);
/* The crc32 stored in a blob's header. */
uint32_t sc_onto_blob_crc(const unsigned char *blob, size_t size);
void sc_onto_seg_free(struct onto_seg *seg);

/* String of a blob's pool at offset OFF. */
static inline const char *onto_str(const struct onto_seg *s, uint32_t off)
{
    return s->pool + off;
}

/* 1 if S has an upper-case ASCII letter (its folded form differs). */
int sc_onto_has_upper(const char *s);

/* Name and version of an OBO file from its header (sc_onto_probe). */
int sc_onto_seg_probe_obo(const char *path, char *name, char *version,
                          size_t size);

/* The handle: the loaded blobs, their terms numbered one after another. */
struct sc_onto {
    unsigned flags;
    char *cache_dir; /* NULL: none, or the default not looked up yet */
    int cache_set;   /* cache_dir is decided */
    struct onto_seg **seg;
    sc_onto_term *base; /* first term of each */
    int n_seg, cap_seg;
    int64_t n_terms;
};

#endif
