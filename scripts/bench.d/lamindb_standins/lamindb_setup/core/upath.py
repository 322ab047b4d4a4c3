# SPDX-License-Identifier: MIT
"""Stand-in for lamindb_setup.core.upath (see README): local paths only."""
from pathlib import Path as UPath  # noqa: F401
