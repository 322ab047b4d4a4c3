/* sc-annotate export: training vocabularies. */
/* SPDX-License-Identifier: MIT */
#include "sc-annotate.h"

int ann_cmd_export(const struct args *a, const sc_onto *o, FILE *fp,
                     int argc, char **argv)
{
    (void)a; (void)o; (void)fp; (void)argc; (void)argv;
    return sc_fail(SC_EUNSUP, "not yet");
}
