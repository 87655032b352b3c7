"""A serving process moves what it built at startup out of the collector's way: counted in objects, not time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter (freezing is for the whole process): the app as `serve` builds it, then what a
# full collection would scan before and after ``settled``.
_SCRIPT = textwrap.dedent(
    """
    import gc, sys
    from sessionplane.app import create_app
    from sessionplane.server import settled
    from sessionplane.settings import Settings

    app = create_app(Settings(data_dir=sys.argv[1]))
    gc.collect()
    scanned_before = len(gc.get_objects())
    assert settled(app) is app
    print(scanned_before, len(gc.get_objects()), gc.get_freeze_count())
    """
)


def test_a_settled_app_leaves_a_full_collection_almost_nothing_of_startup_to_scan(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "data")], capture_output=True, text=True, check=True
    ).stdout
    before, after, frozen = map(int, out.split())
    assert before > 50_000  # the case under test: the web stack and the models are a lot of objects
    assert after < before // 100
    assert frozen > before * 99 // 100  # frozen, not freed: they live as long as the process
