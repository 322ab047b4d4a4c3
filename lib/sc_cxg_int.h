/* sc_cxg_int: declarations shared by the sc_cxg*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_CXG_INT_H
#define SC_CXG_INT_H

#include <jansson.h>
#include <stddef.h>

/* Parse TEXT (LEN bytes) as JSON, any value, into *OUT; NAME (a URL or
 * file) names it in messages. 0 or SC_EFORMAT. */
int cxg_parse_json(const char *text, size_t len, const char *name,
                   json_t **out);

#endif
