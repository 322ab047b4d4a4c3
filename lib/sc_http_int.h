/* sc_http_int: what sc_http and sc_objstore share of a libcurl handle. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HTTP_INT_H
#define SC_HTTP_INT_H

#include <curl/curl.h>

#include "sc_http.h"

/* Set on the new handle C what every transfer of ours has: URL, the error
 * buffer ERRBUF, no signals, the connect timeout and stall cut of O, no
 * Accept-Encoding (the bytes as stored), O's user agent (else AGENT), and
 * the header, body and progress callbacks, each called with UD. */
void sc_http_easy_common(CURL *c, const sc_http_opts *o, const char *url,
                         char *errbuf, const char *agent,
                         curl_write_callback on_header,
                         curl_write_callback on_body,
                         curl_xferinfo_callback on_xferinfo, void *ud);

#endif
