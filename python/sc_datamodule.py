# SPDX-License-Identifier: MIT
"""A DataModule for sc-stream in plain torch (no Lightning), with the
options scDataLoader users know.

    from sc_datamodule import DataModule
    dm = DataModule(manifest="collection.tsv", labels=["cell_type_ontology_term_id"],
                    label_dir="labels/", how="most expr", max_len=1000, log1p=True,
                    weight_by=["cell_type_ontology_term_id"], num_workers=2)
    dm.setup()
    for epoch in range(3):
        for b in dm.train_dataloader(epoch):
            b["x"], b["genes"], b["class"], b["mask"]   # torch tensors
        for b in dm.val_dataloader(): ...

Every option is an sc-stream flag where one exists (DataModule.FLAGS lists
the scDataLoader names against them; stream_args(part) gives the command
line), so the work is done in C by one sc-stream per DataLoader worker and
rank; only what sc-stream has no flag for (binning of the values) is done
by the Collator, in the workers.

- splits: --split train|val|test by dataset (default) or by cell, with
  fractions and a seed, or a split file (sc-stream split); a part's cells do
  not depend on the world size.
- labels: integer codes of obs columns; with label_dir (the output of
  `sc-annotate export -d DIR`) a column NAME_ontology_term_id (or NAME) gets
  the codes of DIR/vocab_NAME.tsv (--vocab), leaves first as scPRINT's,
  and a LabelEncoder with its terms and hierarchy.
- genes: one reference list, or one per organism (GeneVocab): the lists are
  concatenated in the order given, and each dataset's genes sit at the
  offset of its organism's list, as in scDataLoader.
- sampling: weighted (--weight-by, --weight-scheme, --scaler, --cell-weight,
  --dataset-weights, -n) for the training part; by default the epoch then
  draws as many cells as the training part holds.
- add_zero_genes, downsample: as scDataLoader's collator (random
  unexpressed genes after the top / random expressed ones; reads lost as
  sampling and technical zeros), per cell in the workers from random
  numbers keyed by (seed, epoch, dataset, row): the same batches for a seed
  whatever the workers or ranks. Downsampling works on the counts (before
  normalize and log1p, which the collator then does), not on normalized
  values as scDataLoader's.
"""
import os

import numpy as np

import sc_stream

__all__ = ["DataModule", "Collator", "GeneVocab", "LabelEncoder", "binning", "downsample",
           "select_genes", "cell_rng", "read_vocab"]


# The columns of a vocabulary file that are not names of the term
# (lib/sc_vocab.h: code and the export's data columns).
_VOCAB_DATA_COLS = ("code", "is_leaf", "depth", "n_cells", "coarse_id", "coarse_label")


def _vocab_int(s):
    """The value of S when it is a whole decimal number (strtol's), else None."""
    t = s.lstrip(" \t\n\v\f\r")
    if t[:1] in ("+", "-"):
        t = t[1:]
    return int(s) if t.isdigit() and t.isascii() else None


def read_vocab(path):
    """The terms of a vocabulary file (vocab_FIELD.tsv), by code: a list of
    (names, label, is_leaf), names[0] the term, then its other names in
    file order; label the "label" column's value (else the term); is_leaf
    from the "is_leaf" column (else True). The rules of lib/sc_vocab.c's
    sc_vocab_read: '#' lines and empty lines skipped; a first line whose
    first field is not a number is a header, which must name "code" first,
    no column twice and none empty, and a column naming the term; codes run
    0, 1, 2, ... (a -1 line first is the unknown term, skipped); every line
    has the header's fields and a term after the code; the first name is
    not empty; one name never has two codes. A file breaking one raises
    ValueError naming the file and line, in sc_vocab_read's words."""
    terms, seen = [], {}
    header, named, col = None, None, {}
    lineno, any_line = 0, False

    def bad(msg):
        return ValueError("'%s' line %d: %s" % (path, lineno, msg))

    with open(path, "rb") as f:
        for raw in f:
            lineno += 1
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            if line.endswith("\r"):
                line = line[:-1]
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            code = _vocab_int(fields[0])
            first, any_line = not any_line, True
            if first and code is None:
                if fields[0] != "code":
                    raise bad("bad header: the first column is not 'code' but '%s'" % fields[0])
                for i, c in enumerate(fields):
                    if not c:
                        raise bad("bad header: an empty column name")
                    if c in fields[:i]:
                        raise bad("bad header: duplicate column '%s'" % c)
                named = [c not in _VOCAB_DATA_COLS for c in fields]
                if not any(named):
                    raise bad("bad header: no column names the term (term_id, label, ...)")
                header, col = fields, {c: i for i, c in enumerate(fields)}
                continue
            if code is None:
                raise bad("not a code: '%s'" % fields[0])
            if code == -1 and not terms:
                continue  # the unknown line
            if code != len(terms):
                raise bad("code %d, expected %d" % (code, len(terms)))
            if header and len(fields) != len(header):
                raise bad("%d fields, header has %d" % (len(fields), len(header)))
            if len(fields) < 2:
                raise bad("no term after the code")
            names = []
            for i in range(1, len(fields)):
                if header and not named[i]:
                    continue
                n = fields[i]
                if not n:
                    if not names:
                        raise bad("empty term")
                    continue  # only the first name must be there
                had = seen.setdefault(n, code)
                if had != code:
                    raise bad("duplicate term '%s' (codes %d and %d)" % (n, had, code))
                names.append(n)
            label = fields[col["label"]] if "label" in col else ""
            leaf = fields[col["is_leaf"]] == "1" if "is_leaf" in col else True
            terms.append((names, label or names[0], leaf))
    if not any_line:
        raise ValueError("'%s': empty vocabulary file (no header, no terms)" % path)
    return terms


class LabelEncoder:
    """The codes of one label column: code -> term (and back). From an
    sc-annotate export vocabulary (codes 0.. are the leaves, then their
    parents; -1 is unknown), or from the vocabulary of a stream header."""

    def __init__(self, name, terms, labels=None, is_leaf=None, hierarchy=None):
        self.name = name
        self.terms = list(terms)
        self.labels = list(labels) if labels is not None else list(self.terms)
        self.is_leaf = list(is_leaf) if is_leaf is not None else [True] * len(self.terms)
        self.n_leaves = sum(self.is_leaf)
        self.hierarchy = hierarchy  # parents x leaves, uint8 (1: leaf below parent)
        self._code = {}
        for c, (t, lab) in enumerate(zip(self.terms, self.labels)):
            self._code.setdefault(t, c)
            self._code.setdefault(lab, c)

    @classmethod
    def from_export(cls, path, name=None):
        """Read DIR/vocab_FIELD.tsv of `sc-annotate export` (and
        DIR/hierarchy_FIELD.npy beside it, when there). The format is
        described in lib/sc_vocab.h, whose sc_vocab_read sc-stream uses:
        a file it refuses is refused here too (read_vocab)."""
        rows = read_vocab(path)
        field = os.path.basename(path)[len("vocab_"):-len(".tsv")]
        hpath = os.path.join(os.path.dirname(path), "hierarchy_%s.npy" % field)
        h = np.load(hpath) if os.path.exists(hpath) else None
        return cls(name or field, [r[0][0] for r in rows], [r[1] for r in rows],
                   [r[2] for r in rows], h)

    def __len__(self):
        return len(self.terms)

    def encode(self, term):
        """The code of a term id or label (-1 when unknown)."""
        return self._code.get(term, -1)

    def decode(self, code):
        """The term id of a code (None for -1)."""
        return self.terms[code] if 0 <= code < len(self.terms) else None


class GeneVocab:
    """Reference gene lists, one per organism, concatenated in order: a
    dataset's genes use the columns [start, stop) of its organism. FILES:
    one path (all datasets), or a dict / list of (organism, path)."""

    def __init__(self, files):
        if isinstance(files, (str, os.PathLike)):
            files = [(None, files)]
        elif isinstance(files, dict):
            files = list(files.items())
        self.files = [(org, str(p)) for org, p in files]
        self.genes, self.offsets = [], {}
        for org, path in self.files:
            start = len(self.genes)
            with open(path) as f:
                for line in f:
                    if line.startswith("#"):
                        continue
                    g = line.rstrip("\r\n").split("\t")[0]
                    if g:
                        self.genes.append(g)
            self.offsets[org] = (start, len(self.genes))

    def __len__(self):
        return len(self.genes)

    def args(self):
        """sc-stream's --genes flags."""
        out = []
        for org, path in self.files:
            out += ["--genes", path if org is None else "%s=%s" % (org, path)]
        return out

    def check(self, genes):
        """Fail unless GENES (a stream header's) are these lists."""
        if list(genes) != self.genes:
            raise sc_stream.StreamError(
                "the stream's %d genes are not the %d of the reference lists %s"
                % (len(genes), len(self.genes), ", ".join(p for _, p in self.files)))

    def organism(self, column):
        """The organism whose list holds gene COLUMN."""
        for org, (a, b) in self.offsets.items():
            if a <= column < b:
                return org
        raise IndexError(column)


def binning(values, n_bins):
    """Per cell, the stored (non-zero) values as bin numbers 1..n_bins-1 at
    the quantiles of that cell's values (scGPT's and scDataLoader's value
    binning, without random tie-breaking); zero stays 0. VALUES: a 2-D
    array (dense or padded rows)."""
    v = np.asarray(values)
    out = np.zeros(v.shape, dtype=np.int64)
    edges_at = np.linspace(0, 1, n_bins - 1)
    for i in range(v.shape[0]):
        nz = np.nonzero(v[i] > 0)[0]
        if len(nz) == 0:
            continue
        edges = np.quantile(v[i, nz], edges_at)
        out[i, nz] = np.minimum(np.digitize(v[i, nz], edges), n_bins - 1)
    return out


def cell_rng(seed, epoch, dataset, row):
    """The random numbers of one cell: a pure function of the seed, the
    epoch and the cell (its dataset and row), not of the batch, the worker
    or the rank it comes in."""
    return np.random.default_rng([seed, epoch, int(dataset), int(row)])


def downsample(counts, renoise, rng):
    """scDataLoader's downsample_profile on one cell's COUNTS (all its genes,
    G of them), with RNG: a fraction t = 1 - sqrt(1 - renoise) of the reads
    is lost twice over, as sampling zeros (Poisson(U * t * total / (G / 2))
    reads less per gene, U uniform) and as technical zeros (each gene
    dropped with probability t); the result is clipped at 0, integers."""
    x = np.asarray(counts, dtype=np.float64)
    g = len(x)
    if g == 0:
        return x
    t = 1 - (1 - renoise) ** 0.5
    lost = rng.poisson(rng.random(g) * (t * x.sum() / (0.5 * g)))
    keep = rng.random(g) > t
    return np.maximum((x - lost) * keep, 0).astype(np.int64).astype(np.float64)


def select_genes(values, how, max_len, add_zero_genes, rng):
    """scDataLoader's gene choice for one cell of VALUES (all its genes):
    'most expr' the max_len largest (ties by gene), 'random expr' max_len
    expressed genes at random; when fewer are expressed, or with
    add_zero_genes, random unexpressed genes fill the row up to
    max_len + add_zero_genes (fewer unexpressed genes than that: the rest is
    padding, gene -1). Returns (genes, values) of that length."""
    v = np.asarray(values)
    nz = np.nonzero(v > 0)[0]
    k = min(max_len, len(nz))
    if how == "most expr":
        loc = nz[np.lexsort((nz, -v[nz]))[:k]]
    else:
        loc = nz[rng.choice(len(nz), k, replace=False)] if k else nz[:0]
    zeros = np.nonzero(v <= 0)[0]
    want = min(add_zero_genes + max_len - k, len(zeros))
    loc = np.concatenate((loc, zeros[rng.choice(len(zeros), want, replace=False)]))
    genes = np.full(max_len + add_zero_genes, -1, dtype=np.int64)
    vals = np.zeros(max_len + add_zero_genes, dtype=np.float32)
    genes[:len(loc)] = loc
    vals[:len(loc)] = v[loc]
    return genes, vals


class Collator:
    """A batch of ScStreamDataset (sc_stream.to_torch's dict) in the shape of
    scDataLoader's collator: x (values; bin numbers with n_bins), genes
    (column per value: the padded layout's, else 0..G-1), class (cells x
    label columns, int64 codes, -1 unknown), mask (False for padding cells),
    dataset and row. Runs in the DataLoader workers.

    With add_zero_genes or downsample (scDataLoader's options that sc-stream
    has no flag for) the batch holds every gene of each cell (CSR or dense
    rows) and the collator does, per cell with its own random numbers
    (cell_rng: deterministic for the seed and the epoch): downsample on the
    counts, then normalize (to a total of NORMALIZE) and log1p when given
    here, then with how 'most expr' / 'random expr' the choice of genes
    (select_genes: x and genes of max_len + add_zero_genes columns, padding
    gene -1 value 0), else dense rows of every gene."""

    def __init__(self, labels=(), n_bins=0, how="all", max_len=0, add_zero_genes=0,
                 downsample=None, normalize=None, log1p=False, seed=0, epoch=0):
        self.labels = list(labels)
        self.n_bins = n_bins
        self.how, self.max_len, self.add_zero_genes = how, max_len, add_zero_genes
        self.downsample, self.normalize, self.log1p = downsample, normalize, log1p
        self.seed, self.epoch = seed, epoch

    @property
    def per_cell(self):
        """Whether the collator works on each cell's whole row."""
        return self.downsample is not None or (self.how != "all" and self.add_zero_genes > 0)

    def _cells(self, x, t):
        import torch
        rows = x.to_dense().numpy() if x.layout != torch.strided else x.numpy()
        rows = rows.astype(np.float64)
        sel = self.how != "all"
        n = rows.shape[0]
        width = self.max_len + self.add_zero_genes if sel else rows.shape[1]
        xo = np.zeros((n, width), dtype=np.float32)
        go = np.full((n, width), -1, dtype=np.int64) if sel else None
        ds, rw = t["dataset"].numpy(), t["row"].numpy()
        for i in range(n):
            rng = cell_rng(self.seed, self.epoch, ds[i], rw[i])
            v = rows[i]
            if self.downsample is not None:
                v = downsample(v, self.downsample, rng)
            if self.normalize:
                s = v.sum()
                v = v * (self.normalize / s) if s > 0 else v
            if self.log1p:
                v = np.log1p(v)
            if sel:
                go[i], xo[i] = select_genes(v, self.how, self.max_len, self.add_zero_genes, rng)
            else:
                xo[i] = v
        x = torch.from_numpy(xo)
        genes = torch.from_numpy(go) if sel else torch.arange(width)
        return x, genes

    def __call__(self, t):
        import torch
        x = t["x"]
        n = x.shape[0]
        out = {"dataset": t["dataset"], "row": t["row"]}
        out["mask"] = torch.arange(n) < n - int(t["n_pad"])
        out["class"] = (torch.stack([t["labels"][k] for k in self.labels], 1)
                        if self.labels else torch.zeros((n, 0), dtype=torch.int64))
        if self.per_cell:
            x, out["genes"] = self._cells(x, t)
        elif "genes" in t:
            out["genes"] = t["genes"]
        elif x.layout == torch.strided:
            out["genes"] = torch.arange(x.shape[1])
        if self.n_bins:
            if x.layout != torch.strided:
                x = x.to_dense()
            x = torch.from_numpy(binning(x.numpy(), self.n_bins))
        out["x"] = x
        return out


def _csv(v):
    return v if isinstance(v, str) else ",".join(v)


class DataModule:
    """Train / validation / test loaders over sc-stream (see the module's
    doc). Call setup() once, then the *_dataloader() methods."""

    # scDataLoader's option -> the sc-stream flag that does it
    FLAGS = {
        "how='most expr', max_len": "--top-genes MAX_LEN",
        "how='random expr', max_len": "--random-genes MAX_LEN",
        "how='all'": "(CSR rows; --dense with dense=True)",
        "logp1": "--log1p",
        "norm_to": "--normalize=T",
        "n_bins": "(Collator, in the workers)",
        "add_zero_genes": "(Collator: whole rows from sc-stream, the genes chosen in the workers)",
        "downsample": "(Collator: on the counts, before norm_to and logp1, done there too)",
        "organisms / genelist": "--genes ORG=FILE (GeneVocab)",
        "clss_to_predict": "-l COL [--vocab COL=DIR/vocab_FIELD.tsv]",
        "label_to_weight, weight_scaler": "--weight-by COL --weight-scheme scaler --scaler S",
        "sampling by nnz": "--cell-weight nnz",
        "train_oversampling_per_epoch / n_samples": "-n N",
        "validation_split, test_split": "--split PART --split-fractions T,V,E",
        "split by dataset": "--split-by dataset",
        "split file": "--split-file FILE (sc-stream split)",
        "batch_size": "-b N",
        "num_workers": "(DataLoader workers: --rank/--world-size shares)",
    }

    def __init__(self, paths=(), manifest=None, labels=(), label_dir=None, genes=None,
                 join="outer", split_by="dataset", split_fractions=(0.8, 0.1, 0.1),
                 split_seed=0, split_file=None, weight_by=(), weight_scheme="scaler",
                 scaler=10, cell_weight=None, dataset_weights=False, n_samples=None,
                 how="all", max_len=1000, normalize=None, log1p=False, n_bins=0,
                 add_zero_genes=0, downsample=None,
                 dense=False, batch_size=256, num_workers=2, pin_memory=False, seed=0,
                 extra_args=(), exe=None, rank=None, world_size=None):
        if how not in ("all", "most expr", "random expr"):
            raise ValueError("how: 'all', 'most expr' or 'random expr', not %r" % (how,))
        if dense and how != "all":
            raise ValueError("dense rows hold all genes: how='all'")
        if add_zero_genes < 0 or (add_zero_genes and how == "all"):
            raise ValueError("add_zero_genes: a count >= 0, with how='most expr' or "
                             "'random expr'")
        if downsample is not None and not 0 <= downsample < 1:
            raise ValueError("downsample: a fraction in [0, 1), not %r" % (downsample,))
        self.add_zero_genes, self.downsample = add_zero_genes, downsample
        self.paths, self.manifest = [str(p) for p in paths], manifest
        self.labels = list(labels)
        self.label_dir = label_dir
        self.genes = genes if genes is None or isinstance(genes, GeneVocab) else GeneVocab(genes)
        self.join = join
        self.split_by, self.split_fractions = split_by, tuple(split_fractions)
        self.split_seed, self.split_file = split_seed, split_file
        self.weight_by, self.weight_scheme, self.scaler = list(weight_by), weight_scheme, scaler
        self.cell_weight, self.dataset_weights, self.n_samples = cell_weight, dataset_weights, n_samples
        self.how, self.max_len, self.normalize, self.log1p = how, max_len, normalize, log1p
        self.n_bins, self.dense = n_bins, dense
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.seed, self.extra_args, self.exe = seed, list(extra_args), exe
        self.rank, self.world_size = rank, world_size
        self.encoders = {}
        self.vocabs = {}
        for col in self.labels:
            path = self._vocab_file(col)
            if path:
                self.vocabs[col] = path
                self.encoders[col] = LabelEncoder.from_export(path, col)
        self.header = None
        self.n_cells = {}

    def _vocab_file(self, col):
        if not self.label_dir:
            return None
        field = col[:-len("_ontology_term_id")] if col.endswith("_ontology_term_id") else col
        path = os.path.join(self.label_dir, "vocab_%s.tsv" % field)
        return path if os.path.exists(path) else None

    @property
    def weighted(self):
        return bool(self.weight_by or self.cell_weight or self.dataset_weights or self.n_samples)

    def stream_args(self, part="train"):
        """The sc-stream flags of a part (train, val, test or None: all
        cells), before the epoch and the shares of ranks and workers."""
        a = ["--join", self.join] if self.genes is None else self.genes.args()
        for col in self.labels:
            a += ["-l", col]
            if col in self.vocabs:
                a += ["--vocab", "%s=%s" % (col, self.vocabs[col])]
        if part is not None:
            a += ["--split", part]
            if self.split_file:
                a += ["--split-file", str(self.split_file)]
            else:
                a += ["--split-by", self.split_by,
                      "--split-fractions", ",".join("%g" % f for f in self.split_fractions),
                      "--split-seed", str(self.split_seed)]
        if part == "train" and self.weighted:
            if self.weight_by:
                a += ["--weight-by", _csv(self.weight_by), "--weight-scheme", self.weight_scheme]
                if self.weight_scheme == "scaler":
                    a += ["--scaler", "%g" % self.scaler]
            if self.cell_weight:
                a += ["--cell-weight", self.cell_weight]
            if self.dataset_weights:
                a += ["--dataset-weights"]
            n = self.n_samples or self.n_cells.get("train")
            if n is None:
                raise RuntimeError("call setup() first: the training part's size is the "
                                   "number of draws")
            a += ["-n", str(n)]
        # downsampling works on counts: the collator then normalizes
        if self.normalize and self.downsample is None:
            a += ["--normalize=%g" % self.normalize]
        if self.log1p and self.downsample is None:
            a += ["--log1p"]
        if self._collator(0).per_cell:
            pass  # whole rows: the collator chooses the genes
        elif self.how == "most expr":
            a += ["--top-genes", str(self.max_len)]
        elif self.how == "random expr":
            a += ["--random-genes", str(self.max_len)]
        elif self.dense:
            a += ["--dense"]
        a += ["-b", str(self.batch_size), "--seed", str(self.seed)]
        return a + [str(x) for x in self.extra_args]

    def setup(self):
        """Read the headers: genes (checked against the reference lists),
        label vocabularies (LabelEncoders for columns without an export
        file) and the cells of each part. Returns self."""
        for part in ("train", "val", "test"):
            try:
                h = sc_stream.header(self.paths, self._unweighted(part), self.manifest,
                                     self.exe)
            except sc_stream.StreamError as e:
                if part == "train" or "no cell" not in str(e):
                    raise
                h = {"n_cells": 0}  # an empty part (fraction 0, or few datasets)
            self.n_cells[part] = h["n_cells"]
            if part == "train":
                self.header = h
        if self.genes is not None:
            self.genes.check(self.header["genes"])
        for col in self.labels:
            if col not in self.encoders:
                self.encoders[col] = LabelEncoder(col, self.header["labels"][col])
        return self

    def _unweighted(self, part):
        w = (self.weight_by, self.cell_weight, self.dataset_weights, self.n_samples)
        self.weight_by, self.cell_weight, self.dataset_weights, self.n_samples = [], None, False, None
        try:
            return self.stream_args(part)
        finally:
            self.weight_by, self.cell_weight, self.dataset_weights, self.n_samples = w

    @property
    def gene_names(self):
        return self.header["genes"]

    def dataset(self, part, epoch=0):
        """The ScStreamDataset of a part (batches collated in the workers)."""
        col = self._collator(epoch)
        kind = ("padded" if self.how != "all" and not col.per_cell
                else "dense" if self.dense else "csr")
        return sc_stream.ScStreamDataset(self.paths, self.stream_args(part), self.manifest,
                                         kind=kind, rank=self.rank, world_size=self.world_size,
                                         epoch=epoch, exe=self.exe, transform=col)

    def _collator(self, epoch):
        post = self.downsample is not None
        return Collator(self.labels, self.n_bins, self.how, self.max_len, self.add_zero_genes,
                        self.downsample, self.normalize if post else None,
                        self.log1p and post, self.seed, epoch)

    def _loader(self, part, epoch):
        import torch.utils.data as tud
        if self.header is None:
            self.setup()
        return tud.DataLoader(self.dataset(part, epoch), batch_size=None,
                              num_workers=self.num_workers, pin_memory=self.pin_memory)

    def train_dataloader(self, epoch=0):
        """The training part, shuffled (or weighted draws) for EPOCH."""
        return self._loader("train", epoch)

    def val_dataloader(self):
        """The validation part, the same cells in the same order every time."""
        return self._loader("val", 0)

    def test_dataloader(self):
        return self._loader("test", 0)
