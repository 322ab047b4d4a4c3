/* test_sample: counter-based RNG, permutations, alias tables, weights. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdint.h>

#include "sc_sample.h"
#include "unit.h"

static void test_rng_counter(void)
{
    sc_rng a, b;
    uint64_t key = sc_rng_key(7, 3, 1);

    sc_rng_init(&a, 7, 3, 1);
    for (int i = 0; i < 100; i++)
        CHECK(sc_rng_next(&a) == sc_rng_at(key, (uint64_t)i));
    /* any input changes the stream */
    CHECK(sc_rng_key(7, 3, 1) != sc_rng_key(8, 3, 1));
    CHECK(sc_rng_key(7, 3, 1) != sc_rng_key(7, 4, 1));
    CHECK(sc_rng_key(7, 3, 1) != sc_rng_key(7, 3, 2));
    /* swapped seed/epoch do not collide */
    CHECK(sc_rng_key(1, 2, 0) != sc_rng_key(2, 1, 0));
    sc_rng_init(&a, 1, 0, 0);
    sc_rng_init(&b, 1, 0, 0);
    CHECK(sc_rng_next(&a) == sc_rng_next(&b));
}

static void test_rng_uniform(void)
{
    sc_rng r;
    int count[10] = {0};
    double sum = 0, chi = 0;
    const int n = 100000;

    sc_rng_init(&r, 42, 0, 0);
    for (int i = 0; i < n; i++) {
        double u = sc_rng_double(&r);
        CHECK(u >= 0 && u < 1);
        sum += u;
        count[sc_rng_below(&r, 10)]++;
    }
    CHECK(fabs(sum / n - 0.5) < 0.01);
    for (int i = 0; i < 10; i++)
        chi += (count[i] - n / 10.0) * (count[i] - n / 10.0) / (n / 10.0);
    CHECK(chi < 27.88); /* chi-square 9 df, p = 0.001 */
    CHECK(sc_rng_below(&r, 1) == 0);
}

static void test_perm(void)
{
    uint64_t *p = NULL, *q = NULL, *e = NULL;
    uint8_t seen[1000] = {0};
    int same = 1;

    CHECK_INTEQ(sc_perm_new(1000, 5, 0, 1, &p), 0);
    CHECK_INTEQ(sc_perm_new(1000, 5, 0, 1, &q), 0);
    CHECK_INTEQ(sc_perm_new(1000, 5, 1, 1, &e), 0);
    for (int i = 0; i < 1000; i++) {
        CHECK(p[i] < 1000);
        seen[p[i]]++;
        CHECK(p[i] == q[i]);
        same &= p[i] == e[i];
    }
    for (int i = 0; i < 1000; i++)
        CHECK(seen[i] == 1);
    CHECK(!same);
    free(p);
    free(q);
    free(e);
    CHECK_INTEQ(sc_perm_new(0, 5, 0, 1, &p), 0);
    free(p);
}

static void test_alias(void)
{
    double w[5] = {1, 0, 3, 6, 10};
    long count[5] = {0};
    const long n = 200000;
    sc_alias *a = NULL;
    sc_rng r;
    double chi = 0;

    CHECK_INTEQ(sc_alias_new(w, 5, &a), 0);
    CHECK(sc_alias_size(a) == 5);
    CHECK(fabs(sc_alias_total(a) - 20) < 1e-12);
    sc_rng_init(&r, 1, 0, 0);
    for (long i = 0; i < n; i++)
        count[sc_alias_draw(a, &r)]++;
    CHECK(count[1] == 0);
    for (int i = 0; i < 5; i++) {
        double e = n * w[i] / 20;
        if (e > 0)
            chi += (count[i] - e) * (count[i] - e) / e;
    }
    CHECK(chi < 16.27); /* 3 df, p = 0.001 */
    sc_alias_free(a);

    double bad[2] = {1, -1}, zero[2] = {0, 0};
    CHECK_INTEQ(sc_alias_new(bad, 2, &a), SC_EINVAL);
    CHECK(a == NULL);
    CHECK_INTEQ(sc_alias_new(zero, 2, &a), SC_EINVAL);
    sc_alias_free(NULL);
}

/* More categories than torch.multinomial's 2^24: the table has no limit. */
static void test_alias_large(void)
{
    size_t n = (1u << 24) + 5;
    double *w = malloc(n * sizeof *w);
    sc_alias *a = NULL;
    sc_rng r;
    int hit_last = 0;

    for (size_t i = 0; i < n; i++)
        w[i] = i == n - 1 ? (double)n : 1.0; /* the last one half the mass */
    CHECK_INTEQ(sc_alias_new(w, n, &a), 0);
    sc_rng_init(&r, 3, 0, 0);
    for (int i = 0; i < 1000; i++)
        hit_last += sc_alias_draw(a, &r) == n - 1;
    CHECK(hit_last > 430 && hit_last < 570);
    sc_alias_free(a);
    free(w);
}

static void test_weights(void)
{
    CHECK(fabs(sc_weight_class(SC_WEIGHT_INV, 4, 10) - 0.25) < 1e-12);
    CHECK(fabs(sc_weight_class(SC_WEIGHT_SCALER, 10, 10) - 0.5) < 1e-12);
    CHECK(sc_weight_class(SC_WEIGHT_NONE, 10, 10) == 1);
    CHECK(fabs(sc_weight_nnz(2000) - 500.5) < 1e-9);
    CHECK(sc_weight_nnz(0) > 3 && sc_weight_nnz(0) < 4);
    double p[2] = {0.5, 0.5};
    CHECK(fabs(sc_expected_distinct(p, 2, 1) - 1) < 1e-12);
    CHECK(fabs(sc_expected_distinct(p, 2, 2) - 1.5) < 1e-12);
}

int main(void)
{
    RUN(test_rng_counter);
    RUN(test_rng_uniform);
    RUN(test_perm);
    RUN(test_alias);
    RUN(test_alias_large);
    RUN(test_weights);
    return UNIT_DONE();
}
