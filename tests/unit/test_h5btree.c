/* Unit tests for sc_h5_chunk_table: every chunk's address from one walk of
 * the chunk B-tree, checked against HDF5's own answer for each chunk. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_err.h"
#include "sc_h5.h"
#include "unit.h"

enum { PLAIN, LATEST, USERBLOCK, HOLES, BIGHEADER };

/* A 1-D int32 dataset "x" of N elements in chunks of CH, deflated, in a new
 * file at PATH written the way MODE says. */
static void make_file(const char *path, int mode, hsize_t n, hsize_t ch)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (mode == LATEST)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    if (mode == USERBLOCK)
        H5Pset_userblock(fcpl, 512);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    hid_t sp = H5Screate_simple(1, &n, NULL),
          dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &ch);
    H5Pset_deflate(dcpl, 1);
    hid_t ds =
        H5Dcreate2(f, "x", H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (mode == BIGHEADER) {
        /* attributes that overflow the first block of the object header */
        hsize_t an = 64;
        hid_t asp = H5Screate_simple(1, &an, NULL);
        int32_t av[64] = {0};
        for (int i = 0; i < 40; i++) {
            char name[16];
            snprintf(name, sizeof name, "a%d", i);
            hid_t a = H5Acreate2(ds, name, H5T_STD_I32LE, asp, H5P_DEFAULT,
                                 H5P_DEFAULT);
            H5Awrite(a, H5T_NATIVE_INT32, av);
            H5Aclose(a);
        }
        H5Sclose(asp);
    }
    int32_t *v = malloc(n * sizeof *v);
    for (hsize_t i = 0; i < n; i++)
        v[i] = (int32_t)(i * 2654435761u >> 7);
    if (mode == HOLES) {
        /* write every other chunk only: the rest are never allocated */
        for (hsize_t c = 0; c * ch < n; c += 2) {
            hsize_t off = c * ch, cnt = off + ch > n ? n - off : ch;
            hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &cnt, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
            H5Dwrite(ds, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, v + off);
            H5Sclose(ms);
            H5Sclose(fs);
        }
    } else {
        H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    }
    free(v);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    H5Pclose(fapl);
    H5Pclose(fcpl);
}

/* Build, read the table, compare with HDF5 chunk by chunk. Returns the
 * table's return code. */
static int check_file(int mode, hsize_t n, hsize_t ch)
{
    char dir[64], path[128];
    int rc;

    CHECK_INTEQ(unit_mkdtemp(dir, sizeof dir, "h5btree"), 0);
    snprintf(path, sizeof path, "%s/c.h5", dir);
    make_file(path, mode, n, ch);
    int64_t nc = (int64_t)((n + ch - 1) / ch);
    uint64_t *addr = malloc((size_t)nc * sizeof *addr);
    uint32_t *size = malloc((size_t)nc * sizeof *size),
             *mask = malloc((size_t)nc * sizeof *mask);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "x", H5P_DEFAULT);
    int fd = open(path, O_RDONLY);
    uint64_t base = mode == USERBLOCK ? 512 : 0;

    rc = sc_h5_chunk_table(ds, fd, (int64_t)ch, nc, addr, size, mask);
    for (int64_t c = 0; rc == 0 && c < nc; c++) {
        hsize_t coord = (hsize_t)c * ch, sz = 0;
        haddr_t a = HADDR_UNDEF;
        unsigned mk = 0;
        CHECK(H5Dget_chunk_info_by_coord(ds, &coord, &mk, &a, &sz) >= 0);
        if (a == HADDR_UNDEF) {
            CHECK_INTEQ(size[c], 0);
        } else {
            CHECK_INTEQ(addr[c], a + base);
            CHECK_INTEQ(size[c], sz);
            CHECK_INTEQ(mask[c], mk);
            /* the bytes there are a zlib stream */
            unsigned char z[2] = {0};
            CHECK_INTEQ(pread(fd, z, 2, (off_t)addr[c]), 2);
            CHECK_INTEQ(z[0], 0x78);
        }
        if (unit_failed_checks)
            break;
    }
    close(fd);
    H5Dclose(ds);
    H5Fclose(f);
    free(addr);
    free(size);
    free(mask);
    unlink(path);
    rmdir(dir);
    return rc;
}

static void test_one_leaf(void)
{
    CHECK_INTEQ(check_file(PLAIN, 5000, 100), 0);
}

/* 3,000 chunks: more than one B-tree level */
static void test_deep_tree(void)
{
    CHECK_INTEQ(check_file(PLAIN, 3000 * 50 + 7, 50), 0);
}

static void test_unallocated_chunks(void)
{
    CHECK_INTEQ(check_file(HOLES, 200 * 64, 64), 0);
}

static void test_user_block(void)
{
    CHECK_INTEQ(check_file(USERBLOCK, 10000, 100), 0);
}

static void test_continuation_block(void)
{
    CHECK_INTEQ(check_file(BIGHEADER, 10000, 100), 0);
}

/* the newest format indexes chunks otherwise: the caller is told */
static void test_other_index_declined(void)
{
    CHECK_INTEQ(check_file(LATEST, 10000, 100), SC_EUNSUP);
}

int main(void)
{
    sc_h5_init();
    RUN(test_one_leaf);
    RUN(test_deep_tree);
    RUN(test_unallocated_chunks);
    RUN(test_user_block);
    RUN(test_continuation_block);
    RUN(test_other_index_declined);
    return UNIT_DONE();
}
