# SPDX-License-Identifier: MIT
"""Stand-in for lamin_utils (see README)."""
import logging

logger = logging.getLogger("lamindb")
