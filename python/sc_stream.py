# SPDX-License-Identifier: MIT
"""Read the batches of sc-stream (sc-batch(5)) as numpy arrays or torch tensors.

    from sc_stream import stream, ScStreamDataset
    for b in stream(["a.h5ad", "b.h5ad"], ["--join", "outer", "-l", "cell_type"]):
        b["indptr"], b["indices"], b["values"]   # CSR (numpy)
        b["labels"]["cell_type"], b["dataset"], b["row"], b["n_pad"]

`stream` starts sc-stream as a subprocess and yields one dict per batch;
`ScStreamDataset` is a torch IterableDataset that gives every DataLoader
worker its own share of the epoch (rank * workers + worker of world *
workers), so no h5py object is pickled and no file is opened twice.
numpy is required; torch only for ScStreamDataset and to_torch().

By default `stream` gives sc-stream a shared-memory ring (--ring-fd): the
batches are not copied through the pipe and their arrays are views of the
ring, valid until the next batch is asked for (copy what you keep longer;
ScStreamDataset does so in DataLoader worker processes). ring=False gives
every batch its own memory.

sc-stream's warnings (a dataset left out under -k, a missing column) become
StreamWarning Python warnings; its failure (any exit but 3, "some datasets
were left out under -k") raises StreamError with its message. Its stderr is
read by a thread of its own, so no number of warnings can block it. A
consumer that stops early (break, close(), an exception) ends sc-stream.

The sc-stream run is, in order: exe= when given, $SC_STREAM, the one
installed beside this module by `make install`, the first on PATH, then the
source tree's build/bin/sc-stream.
"""
import mmap
import os
import shutil
import re
import struct
import subprocess
import sys
import threading
import warnings
import zlib

import numpy as np

__all__ = ["StreamError", "StreamWarning", "Reader", "stream", "header", "to_torch", "ScStreamDataset",
           "CSR", "PADDED", "DENSE"]

CSR, PADDED, DENSE = 0, 1, 2
_HEAD = struct.Struct("<4sBBHQ")


# `make install` writes the directory it installed sc-stream to here
_BINDIR = None


class StreamError(Exception):
    """A damaged, torn or failed batch stream (the message is sc-stream's)."""


class StreamWarning(UserWarning):
    """A warning of sc-stream, such as a dataset left out under -k; path is
    the file it names (None when it names none)."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


def _u32(b, o):
    return struct.unpack_from("<I", b, o)[0], o + 4


def _u64(b, o):
    return struct.unpack_from("<Q", b, o)[0], o + 8


def _str(b, o):
    n, o = _u32(b, o)
    return bytes(b[o:o + n]).decode("utf-8"), o + n


class Reader:
    """Frames of a binary stream from a file object opened in binary mode."""

    def __init__(self, f, name="stream", ring_fd=None):
        self.f = f
        self.name = name
        self.frames = 0
        self._ring = self._ctrl = None
        self._held = None
        self.end = None
        t, p = self._frame()
        if t != "H":
            raise StreamError("%s: stream does not start with a header" % name)
        self.header = self._header(p)
        if "ring" in self.header["info"]:
            if ring_fd is None:
                raise StreamError("%s: batches in a shared-memory ring, and no ring given" % name)
            size = 4096 + int(self.header["info"]["ring"])
            self._ring = mmap.mmap(ring_fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            if self._ring[:8] != b"SCRING1\0":
                raise StreamError("%s: not an sc-batch ring" % name)
            self._ctrl = np.frombuffer(self._ring, dtype="<u8", count=4)

    def _read(self, n):
        # a fresh, uninitialised buffer per frame: the arrays of a batch are
        # views of it (no copy), valid after the next frame is read
        buf = np.empty(n, dtype=np.uint8)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.f.readinto(view[got:])
            if not k:
                break
            got += k
        return buf, got

    def _frame(self):
        head, got = self._read(16)
        if got == 0:
            raise StreamError("%s: stream ends without an end frame" % self.name)
        if got < 16:
            raise StreamError("%s: stream ends inside a frame" % self.name)
        magic, ftype, version, _, length = _HEAD.unpack_from(head)
        if magic != b"SCBF":
            raise StreamError("%s: not an sc-batch stream" % self.name)
        if version != 1:
            raise StreamError("%s: unsupported version %d" % (self.name, version))
        payload, got = self._read(length + 8)
        if got < length + 8:
            raise StreamError("%s: stream ends inside a frame" % self.name)
        crc = zlib.crc32(memoryview(payload)[:length], zlib.crc32(head))
        if crc != struct.unpack_from("<I", payload, length)[0]:
            raise StreamError("%s: frame %d: checksum mismatch" % (self.name, self.frames))
        self.frames += 1
        return chr(ftype), memoryview(payload)[:length]

    @staticmethod
    def _header(p):
        f32 = struct.unpack_from("<8I", p, 0)
        seed, n_batches, n_cells, n_info, n_genes, n_labels, n_ds = \
            struct.unpack_from("<7Q", p, 32)
        o = 88
        info = {}
        for _ in range(n_info):
            k, o = _str(p, o)
            v, o = _str(p, o)
            info[k] = v
        genes = []
        for _ in range(n_genes):
            g, o = _str(p, o)
            genes.append(g)
        labels = {}
        for _ in range(n_labels):
            name, o = _str(p, o)
            n, o = _u64(p, o)
            terms = []
            for _ in range(n):
                t, o = _str(p, o)
                terms.append(t)
            labels[name] = terms
        datasets = []
        for _ in range(n_ds):
            d, o = _str(p, o)
            datasets.append(d)
        return {"layout": f32[1], "row_len": f32[2], "batch_size": f32[3],
                "epoch": f32[4], "rank": f32[5], "world_size": f32[6],
                "seed": seed, "n_batches": n_batches, "n_cells": n_cells,
                "info": info, "genes": genes, "labels": labels,
                "datasets": datasets}

    def _batch(self, p):
        index, n, n_pad, nnz, n_labels, layout, row_len, _ = \
            struct.unpack_from("<QIIQIIII", p, 0)
        o = 40

        def arr(dtype, count):
            nonlocal o
            a = np.frombuffer(p, dtype=dtype, count=count, offset=o)
            o += (a.nbytes + 7) // 8 * 8
            return a

        b = {"index": index, "n_pad": n_pad, "layout": layout}
        if layout == CSR:
            b["indptr"] = arr("<i8", n + 1)
        if layout != DENSE:
            b["indices"] = arr("<i4", nnz)
        b["values"] = arr("<f4", nnz)
        if layout != CSR:
            if layout == PADDED:
                b["indices"] = b["indices"].reshape(n, row_len)
            b["values"] = b["values"].reshape(n, row_len)
        lab = arr("<i4", n_labels * n).reshape(n_labels, n)
        b["labels"] = dict(zip(self.header["labels"], lab))
        b["dataset"] = arr("<i4", n)
        b["row"] = arr("<i8", n)
        b["n_cells"] = n
        return b

    def release(self):
        """Give the ring space of the last batch back to sc-stream (done
        when the next batch is asked for)."""
        if self._held is not None:
            self._ctrl[3] = self._held
            self._held = None

    def __iter__(self):
        while True:
            self.release()
            t, p = self._frame()
            if t == "E":
                self.end = struct.unpack_from("<2Q", p, 0)
                return
            if t == "R" and self._ring is not None:
                off, n, end = struct.unpack_from("<3Q", p, 0)
                if off < 4096 or off + n > len(self._ring):
                    raise StreamError("%s: frame %d: batch outside the ring" % (self.name, self.frames))
                self._held = end
                yield self._batch(memoryview(self._ring)[off:off + n])
                continue
            if t != "B":
                raise StreamError("%s: unexpected frame '%s'" % (self.name, t))
            yield self._batch(p)


def _exe(exe):
    if exe:
        return exe
    if os.environ.get("SC_STREAM"):
        return os.environ["SC_STREAM"]
    if _BINDIR is not None and os.access(os.path.join(_BINDIR, "sc-stream"), os.X_OK):
        return os.path.join(_BINDIR, "sc-stream")
    found = shutil.which("sc-stream")
    if found:
        return found
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "build", "bin", "sc-stream")
    return here


_RING_BYTES = 256 << 20  # sc-stream's default --ring-size


def _ring_file(size=_RING_BYTES):
    """An unnamed file in shared memory (/dev/shm) when it has room for the
    ring (containers often give it 64 MB), else in the temporary directory
    (page cache), or None."""
    for d in ("/dev/shm", None):
        try:
            if d is not None:
                st = os.statvfs(d)
                if st.f_bavail * st.f_frsize < 2 * size:
                    continue
            if d is None:
                import tempfile
                f = tempfile.TemporaryFile()
                fd = os.dup(f.fileno())
                f.close()
                return fd
            return os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)
        except (OSError, AttributeError):
            continue
    return None


class _Stderr:
    """sc-stream's stderr, read by a thread: warnings are kept for the
    consumer's thread to issue, errors for StreamError, the rest (-v) goes
    to sys.stderr."""

    _TAG = re.compile(r"^sc-stream: (warning|error): (.*)$")
    _PATH = re.compile(r"'([^']+)'")

    def __init__(self, f):
        self.f = f
        self.lock = threading.Lock()
        self.warnings, self.errors = [], []
        self.thread = threading.Thread(target=self._run, name="sc-stream stderr", daemon=True)
        self.thread.start()

    def _run(self):
        for raw in iter(self.f.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            m = self._TAG.match(line)
            with self.lock:
                if m and m.group(1) == "warning":
                    self.warnings.append(m.group(2))
                elif m:
                    self.errors.append(m.group(2))
                elif line:
                    try:
                        sys.stderr.write(line + "\n")
                    except (OSError, ValueError):
                        pass
        self.f.close()

    def issue(self, stacklevel=3):
        """Issue the warnings read so far (in the calling thread)."""
        with self.lock:
            w, self.warnings = self.warnings, []
        for msg in w:
            m = self._PATH.search(msg)
            warnings.warn(StreamWarning(msg, m.group(1) if m else None), stacklevel=stacklevel)

    def finish(self):
        self.thread.join()
        self.issue(4)
        return "\n".join(self.errors)


def _end(proc):
    """End sc-stream (its consumer stopped early) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def stream(paths=(), args=(), manifest=None, exe=None, header=None, ring=True):
    """Run `sc-stream ARGS PATHS` (or `-m MANIFEST`) and yield its batches
    as dicts of numpy arrays. If HEADER is a dict it receives the stream
    header. With RING (default) the batches come through a shared-memory
    ring: their arrays are valid until the next batch is asked for.
    sc-stream's warnings are issued as StreamWarning; raises StreamError
    when sc-stream fails (exit 3, datasets left out under -k, is not a
    failure) or the stream is torn. Closing the generator early ends
    sc-stream."""
    cmd = [_exe(exe)] + [str(a) for a in args]
    if manifest is not None:
        cmd += ["-m", str(manifest)]
    fd = _ring_file() if ring else None
    if fd is not None:
        cmd += ["--ring-fd", str(fd)]
    cmd += ["-O", "binary", "--"] + [str(p) for p in paths]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=1 << 20,
                                pass_fds=(fd,) if fd is not None else ())
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    err = _Stderr(proc.stderr)
    try:  # a larger pipe: fewer switches between sc-stream and Python
        import fcntl
        fcntl.fcntl(proc.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
    done = False
    try:
        try:
            r = Reader(proc.stdout, "sc-stream", fd)
            if header is not None:
                header.update(r.header)
            for b in r:
                err.issue()
                b["header"] = r.header
                yield b
        except StreamError as e:
            proc.stdout.close()
            proc.wait()
            msg = err.finish()
            done = True
            raise StreamError(msg or str(e)) from None
        proc.stdout.close()
        rc = proc.wait()
        msg = err.finish()
        done = True
        if rc not in (0, 3):
            raise StreamError(msg or "sc-stream failed (exit %d)" % rc)
    finally:
        _end(proc)
        if not done:
            proc.stdout.close()
            err.thread.join()
        if fd is not None:
            os.close(fd)


def header(paths=(), args=(), manifest=None, exe=None):
    """The header sc-stream would write for these arguments (genes, label
    vocabularies, datasets, batch count) without streaming any batch."""
    h = {}
    for _ in stream(paths, list(args) + ["--start-batch", str(1 << 62)],
                    manifest, exe, header=h, ring=False):
        pass
    return h


def _csr_tensor(crow, col, val, size):
    """A torch sparse CSR tensor without the invariant check: sc-stream's
    rows have ascending, distinct columns below the gene count (checked by
    its tests), and torch 1.13 checks every batch again in Python's thread
    (0.25 ms a batch, a fifth of the time at 250,000 cells/s)."""
    import torch
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore")
        try:
            return torch.sparse_csr_tensor(crow, col, val, size=size, check_invariants=False)
        except TypeError:  # torch < 2.0
            pass
        unsafe = getattr(torch, "_sparse_csr_tensor_unsafe", None)
        if unsafe is not None:
            return unsafe(crow, col, val, size=size)
        return torch.sparse_csr_tensor(crow, col, val, size=size)


class _CsrWire:
    """A sparse CSR tensor on its way from a DataLoader worker: torch cannot
    pickle sparse CSR tensors (the worker's queue fails and the main
    process waits forever), so its three arrays travel (in shared memory,
    as any tensor) and the tensor is made again where it is unpickled."""

    __slots__ = ("crow", "col", "values", "size")

    def __init__(self, crow, col, values, size):
        self.crow, self.col, self.values, self.size = crow, col, values, size

    def __reduce__(self):
        return (_csr_tensor, (self.crow, self.col, self.values, self.size))


def _csr_parts(b, own):
    """The batch's CSR as torch (crow, col, values, size); OWN: copies, not
    views of the batch's memory (which the ring reuses)."""
    import torch
    n = b["n_cells"]
    ngenes = len(b["header"]["genes"]) if "header" in b else int(b["indices"].max(initial=-1)) + 1
    indptr = b["indptr"]
    small = indptr[-1] < 2**31  # int32 row and column indices: no widening copy
    crow = indptr.astype(np.int32) if small else (indptr.copy() if own else indptr)
    col, val = b["indices"], b["values"]
    col = (col.copy() if own else col) if small else col.astype(np.int64)
    val = val.copy() if own else val
    return torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(val), (n, ngenes)


def to_torch(b, kind="csr", _wire=False):
    """The batch as torch tensors: x (a sparse CSR tensor, or dense with
    kind='dense'; padded and dense batches keep their 2-D layout), genes
    (padded layout), labels (dict of int64), dataset and row."""
    import torch
    # the arrays are writable views of the batch's own frame buffer, so the
    # tensors share their memory (no copy)
    out = {"labels": {k: torch.from_numpy(v.astype(np.int64)) for k, v in b["labels"].items()},
           "dataset": torch.from_numpy(b["dataset"]),
           "row": torch.from_numpy(b["row"]), "n_pad": b["n_pad"]}
    if b["layout"] == CSR:
        if _wire and kind != "dense":
            out["x"] = _CsrWire(*_csr_parts(b, True))
        else:
            x = _csr_tensor(*_csr_parts(b, False))
            out["x"] = x.to_dense() if kind == "dense" else x
    else:
        out["x"] = torch.from_numpy(b["values"])
        if b["layout"] == PADDED:
            out["genes"] = torch.from_numpy(b["indices"])
    return out


def _clone(t):
    import torch
    if isinstance(t, dict):
        return {k: _clone(v) for k, v in t.items()}
    return t.clone() if isinstance(t, torch.Tensor) else t


def _for_wire(t):
    """A transformed batch, ready to leave a DataLoader worker: copies (not
    views of the ring), sparse CSR tensors as their three arrays."""
    import torch
    if isinstance(t, dict):
        return {k: _for_wire(v) for k, v in t.items()}
    if isinstance(t, torch.Tensor) and t.layout == torch.sparse_csr:
        return _CsrWire(t.crow_indices().clone(), t.col_indices().clone(),
                        t.values().clone(), tuple(t.shape))
    return t.clone() if isinstance(t, torch.Tensor) else t


def _make_dataset_class():
    import torch.utils.data as tud

    class ScStreamDataset(tud.IterableDataset):
        """An epoch of sc-stream batches for a torch DataLoader (use
        batch_size=None: sc-stream makes the batches). Each DataLoader worker
        runs its own sc-stream on its share: rank * num_workers + worker of
        world_size * num_workers. Rank and world size default to RANK and
        WORLD_SIZE. Call set_epoch(e) before each epoch. TRANSFORM, when
        given, is called on every batch's dict of tensors where it is made
        (in the DataLoader worker) and its result is yielded instead."""

        def __init__(self, paths=(), args=(), manifest=None, kind="csr",
                     rank=None, world_size=None, epoch=0, exe=None, transform=None):
            super().__init__()
            self.paths, self.args, self.manifest = list(paths), list(args), manifest
            self.kind, self.exe, self.epoch = kind, exe, epoch
            self.transform = transform
            self.rank = int(os.environ.get("RANK", 0)) if rank is None else rank
            self.world_size = (int(os.environ.get("WORLD_SIZE", 1))
                               if world_size is None else world_size)

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            info = tud.get_worker_info()
            nw, wid = (info.num_workers, info.id) if info else (1, 0)
            args = self.args + ["--epoch", self.epoch,
                                "--rank", self.rank * nw + wid,
                                "--world-size", self.world_size * nw]
            for b in stream(self.paths, args, self.manifest, self.exe):
                if self.transform is not None:
                    t = self.transform(to_torch(b, self.kind))
                    yield t if info is None else _for_wire(t)
                    continue
                if info is None:
                    yield to_torch(b, self.kind)
                    continue
                # a worker's batches are pickled to the main process later,
                # by another thread: they must not be ring views, and a
                # sparse CSR tensor goes as its three arrays (_CsrWire)
                yield _clone(to_torch(b, self.kind, _wire=True))

    ScStreamDataset.__module__ = __name__
    return ScStreamDataset


def __getattr__(name):
    # torch is imported only when the dataset class is asked for: reading
    # batches into numpy does not pay for it
    if name == "ScStreamDataset":
        cls = _make_dataset_class()
        globals()[name] = cls
        return cls
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
