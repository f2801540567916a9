# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python's cyclic garbage collector paused while plain data is built in bulk.

Building 100,000 dicts (a YAML document, a cache file decoded, an inventory regrouped) makes the
collector sweep every object already alive again and again as the count grows: a quarter to
three quarters of the time. Plain data makes no reference cycles, so nothing is lost by pausing
it; reference counting still frees everything as usual, and the collector is left as it was."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def paused():
    """Pause the collector for the ``with`` block; restore it as it was, whatever happens."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
