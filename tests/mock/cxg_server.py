#!/usr/bin/python3
# A mock of the CELLxGENE curation API and a file server with fault injection.
# SPDX-License-Identifier: MIT
"""Serve, on 127.0.0.1 only:

  /curation/v1/datasets[?schema_version=V]     the dataset index
  /curation/v1/datasets/ID/versions            versions of a dataset
  /curation/v1/dataset_versions/ID             one version
  /curation/v1/collections[/ID]                collections
  /files/NAME                                  a file (Range honoured)
  /f/FAULT/NAME                                the same file with a fault
  /mirror/HOST/PATH                            generated reference files
                                               (a truncated gzip when PATH
                                               holds "broken")
  /_control/revise?dataset=ID                  publish a new version of ID
  /_control/reset                              forget fault counters

FAULT is one of: cut (the first response stops half-way), cut-norange (cut,
then Range ignored), norange (Range always ignored, 200 with the whole
file), 500 (two 500s, then the file), always500, 404, 410, 403, shortlen
(Content-Length and body 100 bytes short), longlen (Content-Length 100
bytes too long, the connection closes after the real end), slow (the first
response stalls half-way for 30 s), slowall (every response stalls),
redirect (302 to /files/NAME), redirect-loop (302 to itself); and the
hostile ones: html (200 with an HTML page), gzip (200 with the file
gzip-compressed and Content-Encoding: gzip), empty (200 with no body),
endless (200, chunked, a body that never ends), drip (the file at one byte
every 0.2 s: never stalled, never done). Faults of ranges, not in the
catalogue: midrange (a range that does not start at 0 is answered with a
Content-Range one byte later than asked), midshort (the first answer to
each range not at 0 is 100 bytes short, Content-Length and all), smallhead
(HEAD names a size of 1000 bytes; GETs answer with the real one).

  /_control/api?mode=M                         answer the dataset index
                                               badly until reset: object
                                               (one object, not an array),
                                               types (wrongly typed fields),
                                               huge (an endless chunked array)

Files come from --files DIRs (every regular file, by base name). Each
request is logged to --log as "METHOD PATH RANGE STATUS", RANGE "-" when
none. The chosen port is written to --port-file once the server listens.
The server stops by itself after --lifetime seconds.

With --plain, the catalogue holds every h5ad file of --h5ad (organism,
assay, tissue... taken in turn from the three datasets above, cell_count
read from the file) and no fault or hostile dataset: a clean portal for
running a whole pipeline.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}          # (fault, name) -> requests seen
FILES = {}           # served name -> path on disk
CATALOG = {}         # dataset_id -> list of version dicts, newest first
COLLECTIONS = {}     # collection_id -> dict
STATE = {"base": "", "log": None, "revisions": 0, "api": None}

FAULTS = {"cut", "cut-norange", "norange", "500", "always500", "404", "410",
          "403", "shortlen", "longlen", "slow", "slowall", "redirect",
          "redirect-loop", "html", "gzip", "empty", "endless", "drip"}
# Served under /f/ but not in the catalogue: faults of one range among
# several (what a whole-object reader in parallel ranged GETs meets).
RANGE_FAULTS = {"midrange", "midshort", "smallhead"}
API_MODES = {"object", "types", "huge"}


def uid(n, salt="d"):
    """A stable UUID-shaped id from a number."""
    h = hashlib.sha256(("%s%d" % (salt, n)).encode()).hexdigest()
    return "%s-%s-4%s-8%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


def term(label, tid):
    return {"label": label, "ontology_term_id": tid}


def n_obs(path):
    """The number of cells of h5ad file PATH (h5py only when asked)."""
    import h5py
    with h5py.File(path, "r") as f:
        obs = f["obs"]
        return len(obs[obs.attrs.get("_index", "_index")])


def build_catalog(h5ads, plain=False):
    """Datasets over the small h5ad files, plus fault and hostile ones
    (PLAIN: over every file, and nothing else)."""
    human = term("Homo sapiens", "NCBITaxon:9606")
    mouse = term("Mus musculus", "NCBITaxon:10090")
    v3 = term("10x 3' v3", "EFO:0009922")
    v2 = term("10x 3' v2", "EFO:0009899")
    lung = term("lung", "UBERON:0002048")
    blood = term("blood", "UBERON:0000178")
    normal = term("normal", "PATO:0000461")
    covid = term("COVID-19", "MONDO:0100096")
    bcell = term("B cell", "CL:0000236")
    tcell = term("T cell", "CL:0000084")
    coll_a = {"collection_id": uid(1, "c"), "collection_version_id": uid(1, "cv"),
              "name": "Tabula Mock", "doi": "10.1000/mock1"}
    coll_b = {"collection_id": uid(2, "c"), "collection_version_id": uid(2, "cv"),
              "name": "Mouse Atlas", "doi": None}
    coll_f = {"collection_id": uid(3, "c"), "collection_version_id": uid(3, "cv"),
              "name": "Faults", "doi": None}
    coll_h = {"collection_id": uid(4, "c"), "collection_version_id": uid(4, "cv"),
              "name": "Hostile", "doi": None}
    for c in (coll_a, coll_b, coll_f, coll_h):
        COLLECTIONS[c["collection_id"]] = c
    specs = [  # (collection, organism, assay, tissue, disease, cell type, susp, schema)
        (coll_a, human, v3, lung, normal, bcell, "cell", "5.2.0"),
        (coll_a, human, v2, blood, covid, tcell, "nucleus", "4.0.0"),
        (coll_b, mouse, v3, lung, normal, tcell, "cell", "5.2.0"),
    ]
    n = 0
    for i in range(len(h5ads) if plain else len(specs)):
        coll, org, assay, tis, dis, ct, susp, schema = specs[i % len(specs)]
        src = h5ads[i % len(h5ads)]
        add_dataset(n, coll, src, org, assay, tis, dis, ct, susp, schema,
                    "Dataset %d: %s" % (n, os.path.basename(src)),
                    cells=n_obs(src) if plain else None)
        n += 1
    if plain:
        return
    for fault in sorted(FAULTS):
        add_dataset(n, coll_f, h5ads[0], human, v3, lung, normal, bcell,
                    "cell", "5.2.0", "Fault %s" % fault, fault=fault)
        n += 1
    for hostile in ("../../etc/passwd", "/etc/passwd", ".hidden",
                    "a\tb", "x" * 300, "$(touch PWNED)", "a;touch PWNED",
                    "`touch PWNED`", "-rf", "a b"):
        add_dataset(n, coll_h, h5ads[0], human, v3, lung, normal, bcell,
                    "cell", "5.2.0", "Hostile %r" % hostile[:20], dvid=hostile)
        n += 1
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x.h5ad"):
        add_dataset(n, coll_h, h5ads[0], human, v3, lung, normal, bcell,
                    "cell", "5.2.0", "Hostile %s" % url.split(":")[0],
                    url=url)
        n += 1


def add_dataset(n, coll, src, org, assay, tis, dis, ct, susp, schema, title,
                fault=None, dvid=None, url=None, cells=None):
    did = uid(n)
    dvid = dvid or uid(n, "v0-")
    name = "%s.h5ad" % dvid
    if "/" not in name and "\t" not in name:
        FILES[name] = src
    path = "/f/%s/%s" % (fault, name) if fault else "/files/%s" % name
    path = url or path
    size = os.path.getsize(src)
    d = {
        "dataset_id": did, "dataset_version_id": dvid,
        "collection_id": coll["collection_id"],
        "collection_version_id": coll["collection_version_id"],
        "collection_name": coll["name"], "collection_doi": coll["doi"],
        "title": title, "schema_version": schema, "cell_count": 100 + n if cells is None else cells,
        "primary_cell_count": None, "mean_genes_per_cell": 1834.2,
        "assets": [{"filetype": "H5AD", "filesize": size, "url": path},
                   {"filetype": "RDS", "filesize": None, "url": path + ".rds"}],
        "organism": [org], "assay": [assay], "tissue": [tis], "disease": [dis],
        "cell_type": [ct], "development_stage": None, "sex": [],
        "self_reported_ethnicity": None,
        "suspension_type": [susp], "is_primary_data": [True],
        "donor_id": ["D1"], "batch_condition": None,
        "x_approximate_distribution": "COUNT", "explorer_url": None,
        "published_at": "2024-03-01T00:00:00+00:00", "revised_at": None,
        "processing_status": "SUCCESS", "future_key": {"nested": [1, 2]},
        "spatial": None,
    }
    CATALOG[did] = [d]


def absolute(d):
    """A copy of D with asset URLs made absolute on this server."""
    d = json.loads(json.dumps(d))
    for a in d.get("assets") or []:
        if a["url"].startswith("/"):
            a["url"] = STATE["base"] + urllib.parse.quote(a["url"], safe="/")
    return d


def revise(did):
    """Publish a new version of dataset DID (same file, new version id)."""
    old = CATALOG[did][0]
    STATE["revisions"] += 1
    new = json.loads(json.dumps(old))
    new["dataset_version_id"] = uid(STATE["revisions"], "rev-" + did)
    name = "%s.h5ad" % new["dataset_version_id"]
    FILES[name] = FILES.get("%s.h5ad" % old["dataset_version_id"])
    new["assets"][0]["url"] = "/files/%s" % name
    new["revised_at"] = "2025-01-01T00:00:00+00:00"
    CATALOG[did].insert(0, new)
    return new["dataset_version_id"]


def ref_body(host, path):
    """Deterministic content for a mirrored reference file."""
    text = ("reference %s%s\n" % (host, path)) * 200
    if path.endswith(".gz"):
        data = gzip.compress(text.encode(), mtime=0)
        return data[:-20] if "broken" in path else data
    if path.endswith(".json"):
        return json.dumps({"source": host + path}).encode()
    return text.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-cxg/1"

    def log_message(self, fmt, *args):  # quiet; we keep our own log
        pass

    def log_req(self, status):
        rng = self.headers.get("Range") or "-"
        with LOCK:
            if STATE["log"]:
                with open(STATE["log"], "a") as f:
                    f.write("%s %s %s %d\n" % (self.command, self.path,
                                               rng.replace(" ", ""), status))

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.log_req(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def problem(self, status, detail):
        self.send_json({"detail": detail, "title": "error",
                        "type": "about:blank"}, status)

    def send_bytes(self, data, status=200, headers=()):
        self.log_req(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        q = urllib.parse.parse_qs(url.query)
        m = re.match(r"^/curation/v1(/.*)$", path)
        if m:
            return self.api(m.group(1), q)
        if path.startswith("/_control/"):
            return self.control(path, q)
        if path.startswith("/files/"):
            return self.serve_file(path[len("/files/"):], None)
        m = re.match(r"^/f/([^/]+)/(.+)$", path)
        if m and (m.group(1) in FAULTS or m.group(1) in RANGE_FAULTS):
            return self.serve_file(m.group(2), m.group(1))
        m = re.match(r"^/mirror/([^/]+)(/.*)$", path)
        if m:
            return self.send_bytes(ref_body(m.group(1), m.group(2)))
        return self.problem(404, "no such path")

    def control(self, path, q):
        if path == "/_control/revise":
            did = (q.get("dataset") or [""])[0]
            if did not in CATALOG:
                return self.problem(404, "no dataset %s" % did)
            with LOCK:
                new = revise(did)
            return self.send_json({"dataset_version_id": new})
        if path == "/_control/reset":
            with LOCK:
                COUNTS.clear()
                STATE["api"] = None
            return self.send_json({})
        if path == "/_control/api":
            mode = (q.get("mode") or [""])[0]
            if mode not in API_MODES:
                return self.problem(404, "no api mode %s" % mode)
            STATE["api"] = mode
            return self.send_json({})
        return self.problem(404, "no such control")

    def api(self, path, q):
        if path == "/datasets":
            sv = (q.get("schema_version") or [None])[0]
            out = [absolute(v[0]) for v in CATALOG.values()
                   if not sv or v[0]["schema_version"] == sv
                   or v[0]["schema_version"].startswith(sv + ".")]
            mode = STATE["api"]
            if mode == "object":
                return self.send_json(out[0])
            if mode == "types":
                out[1]["assets"] = "file:///etc/passwd"
                out[0]["dataset_id"] = 7
                return self.send_json(out)
            if mode == "huge":
                return self.send_endless(b"[" + json.dumps(out[0]).encode(),
                                         b"," + json.dumps(out[0]).encode())
            return self.send_json(out)
        m = re.match(r"^/datasets/([^/]+)/versions$", path)
        if m:
            if m.group(1) not in CATALOG:
                return self.problem(404, "Dataset not found")
            return self.send_json([absolute(v) for v in CATALOG[m.group(1)]])
        m = re.match(r"^/dataset_versions/([^/]+)$", path)
        if m:
            for vs in CATALOG.values():
                for v in vs:
                    if v["dataset_version_id"] == m.group(1):
                        return self.send_json(absolute(v))
            return self.problem(404, "Dataset version not found")
        if path == "/collections":
            out = []
            for c in COLLECTIONS.values():
                c = dict(c, visibility="PUBLIC", links=[], consortia=None,
                         datasets=[{"dataset_id": k,
                                    "organism": v[0]["organism"]}
                                   for k, v in CATALOG.items()
                                   if v[0]["collection_id"] == c["collection_id"]])
                out.append(c)
            return self.send_json(out)
        m = re.match(r"^/collections/([^/]+)$", path)
        if m:
            c = COLLECTIONS.get(m.group(1))
            if not c:
                return self.problem(403, "Collection not found")
            ds = [absolute(v[0]) for v in CATALOG.values()
                  if v[0]["collection_id"] == c["collection_id"]]
            for d in ds:
                for k in ("collection_id", "collection_version_id",
                          "collection_name", "collection_doi"):
                    d.pop(k, None)
            return self.send_json(dict(c, visibility="PUBLIC", datasets=ds))
        return self.problem(404, "no such endpoint")

    def send_endless(self, head, chunk, limit=1 << 31):
        """200, chunked: HEAD then CHUNK again and again, up to LIMIT bytes
        (more than any client here accepts), or until the client leaves."""
        self.log_req(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        data = head
        block = chunk * max(1, 65536 // len(chunk))
        try:
            while sent < limit:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                sent += len(data)
                data = block
        except OSError:
            pass
        self.close_connection = True

    def hostile_file(self, src, fault):
        """The hostile faults: what a broken or malicious server sends."""
        with open(src, "rb") as f:
            data = f.read()
        if fault == "html":
            return self.send_bytes(b"<!DOCTYPE html>\n<html><body>Sign in"
                                   b"</body></html>\n", 200,
                                   [("Content-Type", "text/html")])
        if fault == "gzip":
            return self.send_bytes(gzip.compress(data, mtime=0), 200,
                                   [("Content-Encoding", "gzip")])
        if fault == "empty":
            return self.send_bytes(b"", 200)
        if fault == "endless":
            return self.send_endless(data, b"\0" * 65536)
        # drip: one byte every 0.2 s, for at most a minute
        self.log_req(200)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(min(len(data), 300)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass
        self.close_connection = True

    def serve_file(self, name, fault):
        src = FILES.get(name)
        with LOCK:
            key = (fault, name)
            COUNTS[key] = COUNTS.get(key, 0) + 1
            nth = COUNTS[key]
        if fault in ("404", "410", "403"):
            return self.problem(int(fault), "fault %s" % fault)
        if fault == "always500" or (fault == "500" and nth <= 2):
            return self.problem(500, "fault 500 (%d)" % nth)
        if fault == "redirect":
            return self.send_bytes(b"", 302, [("Location", "/files/" + name)])
        if fault == "redirect-loop":
            return self.send_bytes(b"", 302, [("Location", self.path)])
        if not src:
            return self.problem(404, "no such file")
        if fault in ("html", "gzip", "empty", "endless", "drip"):
            return self.hostile_file(src, fault)
        size = os.path.getsize(src)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        ignore = fault in ("norange",) or (fault == "cut-norange" and nth > 1)
        status = 200
        if rng and not ignore:
            m = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size:
                    return self.send_bytes(
                        b"", 416, [("Content-Range", "bytes */%d" % size)])
                status = 206
        count = end - start + 1
        announced = count
        cut_at = None
        stall = False
        shown = start
        first = False
        if fault == "midshort" and start > 0 and self.command == "GET":
            with LOCK:
                first = ("midshort", name, start) not in COUNTS
                COUNTS[("midshort", name, start)] = 1
        if fault == "shortlen" or first:
            announced = count = max(0, count - 100)
        elif fault == "midrange" and start > 0:
            shown = start + 1
        elif fault == "smallhead" and self.command == "HEAD":
            announced = min(count, 1000)
        elif fault == "longlen" and status == 200:
            announced = count + 100
            cut_at = count
        elif fault in ("cut", "cut-norange") and nth == 1:
            cut_at = count // 2
        elif (fault == "slow" and nth == 1) or fault == "slowall":
            cut_at = count // 2
            stall = True
        self.log_req(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if ignore else "bytes")
        if status == 206:
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (shown, shown + end - start,
                                                 size))
        self.send_header("Content-Length", str(announced))
        if cut_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        todo = count if cut_at is None else cut_at
        with open(src, "rb") as f:
            self.wfile.flush()
            self.connection.sendfile(f, start, todo) if todo else None
        if stall:
            time.sleep(30)
        if cut_at is not None:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", action="append", default=[],
                    help="directory of files to serve (repeatable)")
    ap.add_argument("--h5ad", default=None,
                    help="directory of h5ad files for the catalogue")
    ap.add_argument("--plain", action="store_true",
                    help="every --h5ad file, real cell counts, no faults")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", default=None)
    ap.add_argument("--lifetime", type=float, default=600)
    a = ap.parse_args()
    for d in a.files:
        for e in sorted(os.listdir(d)):
            p = os.path.join(d, e)
            if os.path.isfile(p):
                FILES[e] = p
    if a.h5ad:
        h5ads = sorted(os.path.join(a.h5ad, e) for e in os.listdir(a.h5ad)
                       if e.endswith(".h5ad"))
        h5ads.sort(key=os.path.getsize)
        build_catalog(h5ads if a.plain else h5ads[:3], a.plain)
    STATE["log"] = a.log
    if a.log:
        open(a.log, "w").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    STATE["base"] = "http://127.0.0.1:%d" % srv.server_address[1]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
