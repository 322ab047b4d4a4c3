/* Unit tests for sc_map: the string and uint64 -> int64 maps. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_map.h"
#include "unit.h"

static void test_put_get_first_wins(void)
{
    sc_strmap m = {0};
    CHECK_INTEQ(sc_strmap_get(&m, "a"), -1); /* empty map */
    CHECK(sc_strmap_find(&m, "a") == NULL);
    CHECK_INTEQ(sc_strmap_put(&m, "a", 1), 0);
    CHECK_INTEQ(sc_strmap_put(&m, "b", 2), 0);
    CHECK_INTEQ(sc_strmap_put(&m, "a", 9), 0); /* kept: 1 */
    CHECK_INTEQ(sc_strmap_get(&m, "a"), 1);
    CHECK_INTEQ(sc_strmap_get(&m, "b"), 2);
    CHECK_INTEQ(sc_strmap_get(&m, "c"), -1);
    CHECK_INTEQ(m.n, 2);
    sc_strmap_release(&m);
    CHECK_INTEQ(m.cap, 0);
}

static void test_slot_and_find(void)
{
    sc_strmap m = {0};
    int64_t *v;
    int added;
    CHECK_INTEQ(sc_strmap_slot(&m, "x", 5, &v, &added), 0);
    CHECK(added && *v == 5);
    *v = 7;
    CHECK_INTEQ(sc_strmap_slot(&m, "x", 5, &v, &added), 0);
    CHECK(!added && *v == 7);
    int64_t *f = sc_strmap_find(&m, "x");
    CHECK(f != NULL && *f == 7);
    *f = -2; /* values below -1 are the caller's markers */
    CHECK_INTEQ(sc_strmap_get(&m, "x"), -2);
    sc_strmap_release(&m);
}

/* many keys: the table grows and every key keeps its value; equal strings
 * at other addresses find the same entry */
static void test_growth(void)
{
    enum { N = 50000 };
    char(*keys)[16] = malloc(N * sizeof *keys);
    sc_strmap m = {0};
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "ENSG%011d", i);
        CHECK_INTEQ(sc_strmap_put(&m, keys[i], i), 0);
    }
    CHECK_INTEQ(m.n, N);
    CHECK(m.cap >= 2 * (size_t)N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char probe[16];
        snprintf(probe, sizeof probe, "ENSG%011d", i);
        bad += sc_strmap_get(&m, probe) != i;
    }
    CHECK_INTEQ(bad, 0);
    CHECK_INTEQ(sc_strmap_get(&m, "ENSG99999999999"), -1);
    sc_strmap_release(&m);
    free(keys);
}

static void test_hash(void)
{
    /* FNV-1a 64 of "a" */
    CHECK(sc_strhash("a", 0) == 0xaf63dc4c8601ec8cULL);
    /* continuing a hash is hashing the concatenation */
    CHECK(sc_strhash("b", sc_strhash("a", 0)) == sc_strhash("ab", 0));
}

/* uint64 keys, 0 and all-ones included, through growth */
static void test_u64(void)
{
    enum { N = 40000 };
    sc_u64map m = {0};
    int64_t *v;
    int added, bad = 0;
    CHECK(sc_u64map_find(&m, 0) == NULL);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = i * 0x100000001ULL; /* keys that differ in high bits */
        CHECK_INTEQ(sc_u64map_slot(&m, k, (int64_t)i, &v, &added), 0);
        bad += !added;
    }
    CHECK_INTEQ(sc_u64map_slot(&m, UINT64_MAX, -7, &v, &added), 0);
    CHECK(added);
    CHECK_INTEQ(bad, 0);
    CHECK_INTEQ(m.n, N + 1);
    for (uint64_t i = 0; i < N; i++) {
        const int64_t *f = sc_u64map_find(&m, i * 0x100000001ULL);
        bad += !f || *f != (int64_t)i;
    }
    CHECK_INTEQ(bad, 0);
    CHECK_INTEQ(*sc_u64map_find(&m, UINT64_MAX), -7);
    CHECK(sc_u64map_find(&m, 12345) == NULL);
    /* present: the old value stays, the new one is not used */
    CHECK_INTEQ(sc_u64map_slot(&m, 0, 99, &v, &added), 0);
    CHECK(!added && *v == 0);
    (*v)++;
    CHECK_INTEQ(*sc_u64map_find(&m, 0), 1);
    sc_u64map_release(&m);
    CHECK_INTEQ(m.cap, 0);
}

/* Copies stay in place and intact while the arena grows past blocks,
 * with a string longer than a block among them; NULs inside are kept. */
static void test_arena(void)
{
    enum { N = 40000 };
    sc_strarena a = {0};
    char **p = malloc(N * sizeof *p), key[32], *big = malloc(3u << 20);
    size_t bad = 0;

    CHECK(p && big);
    if (!p || !big)
        return;
    memset(big, 'x', 3u << 20);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "gene-%d", i);
        p[i] = i == N / 2 ? sc_strarena_dup(&a, big, 3u << 20)
                          : sc_strarena_dup(&a, key, (size_t)n);
        CHECK(p[i] != NULL);
    }
    CHECK(a.n_blk >= 3); /* 1 MiB blocks, the large copy in its own */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "gene-%d", i);
        if (i == N / 2)
            bad += strlen(p[i]) != 3u << 20;
        else
            bad += strcmp(p[i], key) != 0;
    }
    CHECK_INTEQ(bad, 0);
    char *z = sc_strarena_dup(&a, "a\0b", 3), *e = sc_strarena_dup(&a, "", 0);
    CHECK(z && memcmp(z, "a\0b", 4) == 0);
    CHECK(e && *e == '\0');
    sc_strarena_release(&a);
    CHECK_INTEQ(a.n_blk, 0);
    sc_strarena_release(&a); /* twice is harmless */
    free(p);
    free(big);
}

int main(void)
{
    RUN(test_put_get_first_wins);
    RUN(test_slot_and_find);
    RUN(test_growth);
    RUN(test_hash);
    RUN(test_u64);
    RUN(test_arena);
    return UNIT_DONE();
}
