# SPDX-License-Identifier: MIT
"""Import lamindb's vendored _mapped_collection.py (see README) with the
stand-ins of this directory; load(PATH) returns its MappedCollection."""
import importlib.util
import sys


def load(path):
    import lamindb.core  # noqa: F401  (the stand-in package)
    name = "lamindb.core._mapped_collection"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.MappedCollection
