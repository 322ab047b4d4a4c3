/* sc_onto_cache: checking sc_onto's blobs, and keeping them in cache files. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_onto_int.h"

uint32_t sc_onto_blob_crc(const unsigned char *blob, size_t size)
{
    struct onto_hdr h;
    uint32_t crc;

    memcpy(&h, blob, sizeof h);
    h.crc = 0;
    crc = libdeflate_crc32(0, &h, sizeof h);
    return libdeflate_crc32(crc, blob + sizeof h, size - sizeof h);
}

static int bad(const char *what)
{
    return sc_fail(SC_ECORRUPT, "damaged ontology cache: %s", what);
}

/* Whether a section of N elements of ELEM bytes at OFF lies in the blob. */
static int section_ok(uint64_t off, uint64_t n, size_t elem, size_t size)
{
    return off % 8 == 0 && off >= sizeof(struct onto_hdr) && off <= size &&
           n <= (size - off) / elem;
}

static int check_links(const struct onto_link *l, uint64_t n, uint32_t terms)
{
    for (uint64_t i = 0; i < n; i++)
        if (l[i].term >= terms)
            return 0;
    return 1;
}

static int check_keys(const struct onto_key *k, uint64_t n, uint32_t terms,
                      uint64_t pool)
{
    for (uint64_t i = 0; i < n; i++)
        if (k[i].term >= terms || k[i].str >= pool)
            return 0;
    return 1;
}

int sc_onto_seg_attach(struct onto_seg *seg, unsigned char *blob, size_t size)
{
    const struct onto_hdr *h = (const struct onto_hdr *)blob;
    uint64_t pool;

    if (size < sizeof *h || memcmp(h->magic, ONTO_MAGIC, sizeof h->magic))
        return bad("not a cache file");
    if (h->format != ONTO_FORMAT || h->endian != ONTO_ENDIAN)
        return bad("another format version or byte order");
    if (h->size != size)
        return bad("wrong size");
    if (h->crc != sc_onto_blob_crc(blob, size))
        return bad("checksum mismatch");
    if (!section_ok(h->off_terms, h->n_terms, sizeof(struct onto_rec), size) ||
        !section_ok(h->off_anc, h->n_anc, sizeof(struct onto_link), size) ||
        !section_ok(h->off_desc, h->n_anc, sizeof(struct onto_link), size) ||
        !section_ok(h->off_strs, h->n_strs, sizeof(uint32_t), size) ||
        !section_ok(h->off_alt, h->n_alt, sizeof(struct onto_key), size) ||
        !section_ok(h->off_pool, h->pool_size, 1, size) || h->pool_size == 0)
        return bad("section out of bounds");
    for (int k = 0; k < ONTO_N_INDEX; k++)
        if (!section_ok(h->off_keys[k], h->n_keys[k], sizeof(struct onto_key),
                        size))
            return bad("section out of bounds");
    seg->blob = blob;
    seg->size = size;
    seg->h = h;
    seg->terms = (const struct onto_rec *)(blob + h->off_terms);
    seg->anc = (const struct onto_link *)(blob + h->off_anc);
    seg->desc = (const struct onto_link *)(blob + h->off_desc);
    seg->strs = (const uint32_t *)(blob + h->off_strs);
    seg->alt = (const struct onto_key *)(blob + h->off_alt);
    for (int k = 0; k < ONTO_N_INDEX; k++)
        seg->keys[k] = (const struct onto_key *)(blob + h->off_keys[k]);
    seg->pool = (const char *)blob + h->off_pool;
    /* Every string ends inside the pool, every range and index is in
     * bounds: then no query can read outside the blob. */
    pool = h->pool_size;
    if (seg->pool[0] || seg->pool[pool - 1])
        return bad("string pool not terminated");
    if (h->src_path >= pool || h->name >= pool || h->version >= pool ||
        h->prefixes >= pool)
        return bad("header string out of bounds");
    for (uint32_t i = 0; i < h->n_terms; i++) {
        const struct onto_rec *t = &seg->terms[i];

        if (t->id >= pool || t->label >= pool || t->replaced_by >= pool ||
            (uint64_t)t->syn + t->n_syn > h->n_strs ||
            (uint64_t)t->cons + t->n_cons > h->n_strs || t->anc > h->n_anc ||
            t->n_anc > h->n_anc - t->anc || t->desc > h->n_anc ||
            t->n_desc > h->n_anc - t->desc)
            return bad("term record out of bounds");
    }
    for (uint64_t i = 0; i < h->n_strs; i++)
        if (seg->strs[i] >= pool)
            return bad("string out of bounds");
    if (!check_links(seg->anc, h->n_anc, h->n_terms) ||
        !check_links(seg->desc, h->n_anc, h->n_terms) ||
        !check_keys(seg->alt, h->n_alt, h->n_terms, pool))
        return bad("index out of bounds");
    for (int k = 0; k < ONTO_N_INDEX; k++)
        if (!check_keys(seg->keys[k], h->n_keys[k], h->n_terms, pool))
            return bad("index out of bounds");
    return 0;
}

void sc_onto_seg_free(struct onto_seg *seg)
{
    if (!seg)
        return;
    if (seg->mapped)
        munmap(seg->blob, seg->size);
    else
        free(seg->blob);
    free(seg);
}

/* The key as a 64-bit FNV-1a hash: part of the cache file's name, so that
 * a changed source never even opens its old cache. */
static uint64_t key_hash(const struct onto_src *src)
{
    uint64_t h = 0xcbf29ce484222325ULL, v[4];
    const unsigned char *p;

    v[0] = src->size;
    v[1] = (uint64_t)src->mtime;
    v[2] = (uint64_t)src->mtime_ns;
    v[3] = ONTO_FORMAT;
    for (p = (const unsigned char *)src->path; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    for (p = (const unsigned char *)v; p < (const unsigned char *)(v + 4); p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

int sc_onto_cache_name(const char *dir, const struct onto_src *src, char *buf,
                       size_t size)
{
    const char *base = strrchr(src->path, '/');
    int n = snprintf(buf, size, "%s/%s.%016llx.onto", dir,
                     base ? base + 1 : src->path,
                     (unsigned long long)key_hash(src));

    if (n < 0 || (size_t)n >= size)
        return sc_fail(SC_EINVAL, "cache file name too long in '%s'", dir);
    return 0;
}

int sc_onto_cache_read(const char *path, const struct onto_src *src,
                       struct onto_seg **out)
{
    struct onto_seg *seg = NULL;
    struct stat st;
    void *map;
    int fd, rc;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sc_fail(SC_ENOTFOUND, "no cache '%s': %s", path,
                       strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size < (off_t)sizeof(struct onto_hdr)) {
        close(fd);
        return sc_fail(SC_ECORRUPT, "damaged ontology cache '%s'", path);
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sc_fail(SC_EIO, "cannot map '%s': %s", path, strerror(errno));
    if (!(seg = calloc(1, sizeof *seg))) {
        munmap(map, (size_t)st.st_size);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    seg->mapped = 1;
    seg->blob = map;
    seg->size = (size_t)st.st_size;
    if ((rc = sc_onto_seg_attach(seg, map, (size_t)st.st_size)) < 0) {
        sc_fail_ctx(rc, "'%s'", path);
        goto fail;
    }
    if (seg->h->src_size != src->size || seg->h->src_mtime != src->mtime ||
        seg->h->src_mtime_ns != src->mtime_ns ||
        strcmp(onto_str(seg, seg->h->src_path), src->path)) {
        rc = sc_fail(SC_ENOTFOUND, "cache '%s' is for another file", path);
        goto fail;
    }
    seg->from_cache = 1;
    *out = seg;
    return 0;
fail:
    sc_onto_seg_free(seg);
    return rc;
}

int sc_onto_cache_write(const char *path, const struct onto_seg *seg)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    sc_atomic a;
    FILE *fp;
    int rc;

    if (slash && (size_t)(slash - path) < sizeof dir && slash > path) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if ((rc = sc_io_mkdir_p(dir)) < 0)
            return rc;
    }
    if ((rc = sc_io_atomic_open(path, &a, &fp)) < 0)
        return rc;
    if (fwrite(seg->blob, 1, seg->size, fp) != seg->size) {
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
        sc_io_atomic_abort(&a);
        return rc;
    }
    return sc_io_atomic_commit(&a);
}
