/* Unit tests for sc_h5chunk: libdeflate chunk writes and reads. */
/* SPDX-License-Identifier: MIT */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_h5chunk.h"
#include "unit.h"

#define CHUNK 1000

/* An empty, extendible, chunked float32 dataset with deflate (or, with
 * SHUFFLE, shuffle + deflate, which does not qualify). */
static hid_t make_ds(hid_t f, const char *name, int shuffle)
{
    hsize_t dims = 0, maxd = H5S_UNLIMITED, ch = CHUNK;
    hid_t sp = H5Screate_simple(1, &dims, &maxd),
          dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds;

    H5Pset_chunk(dcpl, 1, &ch);
    if (shuffle)
        H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    ds =
        H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return ds;
}

static void roundtrip(int threads)
{
    char dir[64], path[128];
    int64_t n = 10 * CHUNK + 337; /* a partial last chunk */
    float *v = malloc((size_t)n * sizeof *v),
          *back = malloc((size_t)n * sizeof *back);
    sc_h5chunk *c = NULL;
    hid_t f, ds;

    sc_h5_init();
    CHECK_INTEQ(unit_mkdtemp(dir, sizeof dir, "h5chunk"), 0);
    snprintf(path, sizeof path, "%s/c.h5", dir);
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ds = make_ds(f, "x", 0);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)((i * 7919) % 1000);
    CHECK_INTEQ(sc_h5chunk_open(ds, 4, 4, threads, &c), 0);
    /* uneven appends across chunk borders */
    for (int64_t i = 0; i < n;) {
        int64_t k = (i % 3 + 1) * 777;

        k = k < n - i ? k : n - i;
        CHECK_INTEQ(sc_h5chunk_append(c, v + i, (size_t)k), 0);
        i += k;
    }
    CHECK_INTEQ(sc_h5chunk_close(c, 0), 0);
    /* libhdf5 reads what we wrote */
    memset(back, 0, (size_t)n * sizeof *back);
    CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >=
          0);
    CHECK(memcmp(v, back, (size_t)n * sizeof *v) == 0);
    {
        hid_t sp = H5Dget_space(ds);
        hsize_t d;

        H5Sget_simple_extent_dims(sp, &d, NULL);
        CHECK_INTEQ(d, n);
        H5Sclose(sp);
    }
    /* and our reader, over a range that starts and ends inside chunks */
    memset(back, 0, (size_t)n * sizeof *back);
    CHECK_INTEQ(sc_h5chunk_read(ds, 1234, n - 2000, 4, back, threads, "x"), 0);
    CHECK(memcmp(v + 1234, back, (size_t)(n - 2000) * sizeof *v) == 0);
    /* a dataset with another filter does not qualify */
    {
        hid_t d2 = make_ds(f, "y", 1);

        CHECK_INTEQ(sc_h5chunk_open(d2, 4, 4, threads, &c), SC_EUNSUP);
        CHECK_INTEQ(sc_h5chunk_read(ds, 0, 10, 8, back, 1, "x"), SC_EUNSUP);
        H5Dclose(d2);
    }
    H5Dclose(ds);
    H5Fclose(f);
    unlink(path);
    rmdir(dir);
    free(v);
    free(back);
}

static void test_inline(void)
{
    roundtrip(1);
}

static void test_threads(void)
{
    roundtrip(3);
}

int main(void)
{
    RUN(test_inline);
    RUN(test_threads);
    return UNIT_DONE();
}
