/* sc_hash: streaming SHA-256 (OpenSSL) for files and downloads, with a
 * state that can be saved and continued later. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HASH_H
#define SC_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/* Bytes of a hex digest with its NUL: 64 lower-case hex digits. */
#define SC_HASH_HEX_SIZE 65

typedef struct sc_hash sc_hash;

/* Start a SHA-256 computation. On success *OUT owns it: release it with
 * sc_hash_free(). Returns 0, SC_ENOMEM, or SC_EUNSUP when libcrypto has no
 * SHA-256 (message from OpenSSL); *OUT is then NULL. A handle is used by one
 * thread at a time; separate handles may run in parallel. */
SC_MUST_CHECK int sc_hash_new(sc_hash **out);

/* Feed N bytes of DATA (N may be 0). Returns 0, or SC_EUNSUP with
 * OpenSSL's message. */
SC_MUST_CHECK int sc_hash_update(sc_hash *h, const void *data, size_t n);

/* Write the digest of everything fed since sc_hash_new (or the previous
 * final) into HEX as 64 lower-case hex digits and a NUL, and start over, so
 * that H can hash another stream. Returns 0, or SC_EUNSUP. */
SC_MUST_CHECK int sc_hash_final(sc_hash *h, char hex[SC_HASH_HEX_SIZE]);

/* Bytes of the text form of a hash state, with its NUL. */
#define SC_HASH_STATE_SIZE 256

/* The state of H as one line of text without a newline ("sha256 LEN ..."):
 * the number of bytes fed so far (also in *FED) and what is needed to go on
 * from there, so that a download can keep it with its part file and
 * continue without hashing the part again. H is unchanged. Returns 0. */
SC_MUST_CHECK int sc_hash_state(const sc_hash *h, char text[SC_HASH_STATE_SIZE],
                                uint64_t *fed);

/* Make H continue from the state TEXT made by sc_hash_state() (a trailing
 * newline is allowed), as if the *FED bytes it counts had been fed to it.
 * Returns 0, or SC_EFORMAT ("not a sha256 state") with H unchanged. */
SC_MUST_CHECK int sc_hash_resume(sc_hash *h, const char *text, uint64_t *fed);

/* Free H; NULL is a no-op. */
void sc_hash_free(sc_hash *h);

/* The SHA-256 of the file at PATH ("-" reads stdin to its end), read in
 * large blocks, into HEX. Returns 0, or SC_EIO ("cannot read 'x.h5ad': Is a
 * directory"), SC_ENOMEM, SC_EUNSUP. Thread-safe. */
SC_MUST_CHECK int sc_hash_file(const char *path, char hex[SC_HASH_HEX_SIZE]);

#endif
