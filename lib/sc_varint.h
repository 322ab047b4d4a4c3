/* sc_varint: LEB128 varints (7 bits a byte, low bits first, the high bit
 * set on every byte but the last), for compact streams of small integers
 * (sc-harmonize's spill, compressed packs). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_VARINT_H
#define SC_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Write V at P (at most 10 bytes); returns the bytes written. */
static inline size_t sc_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Read a varint of P (not past END) into *V; returns the byte after it, or
 * NULL when it runs past END or past 64 bits. */
static inline const uint8_t *sc_varint_get(const uint8_t *p, const uint8_t *end,
                                           uint64_t *v)
{
    uint64_t x = 0;
    int sh = 0;

    while (p < end && sh < 64) {
        x |= (uint64_t)(*p & 0x7f) << sh;
        if (!(*p++ & 0x80)) {
            *v = x;
            return p;
        }
        sh += 7;
    }
    return NULL;
}

/* The bytes sc_varint_put writes for V. */
static inline size_t sc_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#endif
