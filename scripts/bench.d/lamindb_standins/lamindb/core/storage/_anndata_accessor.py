# SPDX-License-Identifier: MIT
"""Stand-in for lamindb.core.storage._anndata_accessor (see README): what
MappedCollection uses of it, for local h5ad files through h5py."""
from types import SimpleNamespace
from typing import Union

import h5py
import numpy as np
import pandas as pd

ArrayTypes = (h5py.Dataset,)
GroupTypes = (h5py.Group,)
ArrayType = h5py.Dataset
GroupType = h5py.Group
StorageType = Union[h5py.File, h5py.Group]


def _str(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class _Registry:
    def open(self, module, path, compression=None):
        if module != "h5py":
            raise ValueError("stand-in: only local h5ad files (h5py)")
        return None, h5py.File(path, "r")

    def keys(self, storage):
        out = {}
        for attr in storage.keys():
            if attr == "X":
                continue
            obj = storage[attr]
            if attr in ("obs", "var") and isinstance(obj, h5py.Dataset):
                keys = list(obj.dtype.fields.keys())
            else:
                keys = list(obj.keys())
            if keys:
                out[attr] = keys
        return out


registry = _Registry()


def get_spec(elem):
    return SimpleNamespace(encoding_type=_str(elem.attrs.get("encoding-type", "")),
                           encoding_version=_str(elem.attrs.get("encoding-version", "")))


def _safer_read_index(elem):
    if isinstance(elem, h5py.Group):
        values = elem[_str(elem.attrs["_index"])][...]
    else:
        names = elem.dtype.names
        name = "index" if "index" in names else "_index"
        values = elem[name]
    if len(values) and isinstance(values[0], bytes):
        values = np.frompyfunc(lambda x: x.decode("utf-8"), 1, 1)(values)
    return pd.Index(values)
