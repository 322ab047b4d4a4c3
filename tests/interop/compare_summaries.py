#!/usr/bin/python3
"""Compare two `sc-inspect --json` summaries: an input and its conversion.

Usage: compare_summaries.py ORIG.json CONVERTED.json
Every field must match except path, format and generation (the conversion
is an h5ad of the current generation); sums may differ by a relative 1e-6
(float32 storage), and a CSC matrix may come back as CSR. Prints the
differences and exits 1 if there are any. Stdlib only.
SPDX-License-Identifier: MIT
"""
import json
import sys

IGNORED = {"path", "format", "generation"}
RTOL = 1e-6


def walk(a, b, where, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if where == "" and k in IGNORED:
                continue
            if k not in a or k not in b:
                out.append("%s/%s: only in the %s" % (
                    where, k, "input" if k in a else "conversion"))
            elif k == "type" and (a[k], b[k]) == ("csc", "csr"):
                continue
            else:
                walk(a[k], b[k], "%s/%s" % (where, k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, "%s[%d]" % (where, i), out)
    elif (isinstance(a, float) and isinstance(b, (int, float))
          and not isinstance(b, bool)):
        if abs(a - b) > RTOL * abs(a):
            out.append("%s: %r became %r" % (where, a, b))
    elif a != b or type(a) != type(b):
        out.append("%s: %s became %s" % (where, json.dumps(a),
                                         json.dumps(b)))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    docs = []
    for path in argv[1:]:
        with open(path, encoding="utf-8") as f:
            docs.append(json.load(f))
    out = []
    walk(docs[0], docs[1], "", out)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
