"""core.heap: a warmed-up process's heap frozen out of the collector's way. Each test
runs in a fresh Python process, so the test process's own heap is never frozen."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_freeze_collects_garbage_then_freezes_what_lives_once_per_process() -> None:
    out = _run("""
        import gc, weakref
        from core.heap import freeze_long_lived

        class Node:
            pass

        garbage = Node(); garbage.me = garbage  # a cycle only the collector frees
        dead = weakref.ref(garbage); del garbage
        kept = [Node() for _ in range(1000)]
        assert gc.get_freeze_count() == 0
        frozen = freeze_long_lived()
        assert dead() is None, "garbage was frozen instead of collected"
        assert frozen == gc.get_freeze_count() >= 1000
        assert gc.collect() == 0  # nothing left for the collector to find
        later = [Node() for _ in range(500)]
        assert freeze_long_lived() == frozen  # once per process: later objects stay young
        print("ok", frozen)
    """)
    assert out.startswith("ok ")


def test_api_freezes_its_heap_after_the_layout_cache_warm_up(tmp_path: Path) -> None:
    """A real API start (TestClient, embedded default): once the background warm-up has
    laid out every form, the heap is frozen, with the layout cache in it."""
    out = _run(f"""
        import gc, time
        from pathlib import Path
        from fastapi.testclient import TestClient
        from api.app import create_app
        from tests.api.conftest import make_settings
        from templates.render import _layouts
        from templates import catalogue

        app = create_app(make_settings(Path({str(tmp_path / "var")!r})))
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            deadline = time.monotonic() + 90
            while gc.get_freeze_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            frozen = gc.get_freeze_count()
            cache = _layouts()
            filled = [code for code in catalogue.form_codes()
                      if (code, catalogue.load_form(code).info.version) in cache]
        assert frozen > 10000, frozen
        assert sorted(filled) == sorted(catalogue.form_codes())  # frozen after the warm-up
        print("ok", frozen)
    """)
    assert out.startswith("ok ")
