#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_corpus.py TRUTH.json REPORT_DIR: compare the label mappings of
`sc-annotate annotate` (REPORT_DIR/<name>.annotate.json) with the truth of
scripts/make-corpus.  Every label whose truth is a term must map to it or be
left unmapped with a reason; a label whose truth is null must not map to a
term, except a misspelt one mapped by sc_match's fuzzy tier to the term it
was misspelt from (the truth's "suggestion"): that counts as right, any
other term as wrong.  Label columns of datasets that already have the term id column are
not mapped (status "kept") and not counted.  Prints the figures per truth tier; exit 1 on any wrong mapping."""
import collections
import json
import os
import sys


def main():
    truth_path, rdir = sys.argv[1], sys.argv[2]
    truth = json.load(open(truth_path))
    stats = collections.defaultdict(lambda: collections.Counter())
    wrong = []
    for d in truth["datasets"]:
        rp = os.path.join(rdir, d["name"] + ".annotate.json")
        if not os.path.exists(rp):
            continue
        rep = json.load(open(rp))
        for f in d.get("obs_fields", []):
            if f.get("kind") != "label":
                continue
            fr = rep["fields"].get(f["field"])
            if fr and fr.get("status") == "kept":
                continue    # the dataset has term ids: labels not mapped
            if not fr or fr.get("status") != "mapped" or fr["column"] != f["column"]:
                for s, t in f["values"].items():
                    stats[t.get("tier") or t.get("reason") or "?"]["column_not_found"] += 1
                continue
            got = {x["label"]: x for x in fr["labels"]}
            for s, t in f["values"].items():
                g = got.get(s)
                tier = t.get("tier") or ("null:" + (t.get("reason") or "?"))
                if g is None:
                    stats[tier]["missing"] += 1
                    continue
                exp, term = t.get("expect"), g.get("term_id")
                if term in (None, "unknown"):
                    if exp is not None and exp != "unknown" and not g.get("reason") \
                            and g["tier"] != "unknown":
                        wrong.append((d["name"], f["field"], s, exp, term, "no reason"))
                    stats[tier]["unmapped"] += 1
                elif term == exp:
                    stats[tier]["right"] += 1
                elif (exp is None and t.get("reason") == "misspelling"
                      and g["tier"] == "fuzzy" and term == t.get("suggestion")):
                    stats[tier]["right"] += 1
                else:
                    stats[tier]["wrong"] += 1
                    wrong.append((d["name"], f["field"], s, exp, term, g["tier"]))
    total = collections.Counter()
    print("truth_tier\tright\tunmapped\twrong")
    for k in sorted(stats):
        c = stats[k]
        total.update(c)
        print("%s\t%d\t%d\t%d" % (k, c["right"], c["unmapped"] + c["missing"] +
                                  c["column_not_found"], c["wrong"]))
    print("all\t%d\t%d\t%d" % (total["right"], total["unmapped"] + total["missing"] +
                               total["column_not_found"], total["wrong"]))
    for w in wrong:
        print("WRONG\t" + "\t".join(str(x) for x in w))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
