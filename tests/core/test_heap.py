"""core.heap: a warmed-up process's heap frozen, and its young garbage collected while
a time-stamp request is on its way. Each test runs in a fresh Python process, so the
test process's own collector is left as it is."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_settle_collects_garbage_freezes_what_lives_and_raises_the_young_threshold() -> None:
    out = _run("""
        import gc, weakref
        from core.heap import YOUNG_THRESHOLD, settle_after_warm_up

        class Node:
            pass

        garbage = Node(); garbage.me = garbage  # a cycle only the collector frees
        dead = weakref.ref(garbage); del garbage
        kept = [Node() for _ in range(1000)]
        assert gc.get_freeze_count() == 0
        frozen = settle_after_warm_up()
        assert dead() is None, "garbage was frozen instead of collected"
        assert frozen == gc.get_freeze_count() >= 1000
        assert gc.collect() == 0  # nothing left for the collector to find
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        later = [Node() for _ in range(500)]
        assert settle_after_warm_up() == frozen  # once per process: later objects stay young
        print("ok", frozen)
    """)
    assert out.startswith("ok ")


def test_young_garbage_is_collected_on_the_loops_next_turn_not_before() -> None:
    """Called while a request is being written, the collection must not delay it: it
    is scheduled, and runs once the caller yields to the event loop."""
    out = _run("""
        import asyncio, gc, weakref
        from core.heap import MIN_YOUNG, collect_while_waiting, settle_after_warm_up

        class Node:
            pass

        def cycles(n):
            refs = []
            for _ in range(n):
                node = Node(); node.me = node; refs.append(weakref.ref(node))
            return refs

        async def main():
            gc.set_threshold(10**6)  # no automatic collection in this test
            before = cycles(MIN_YOUNG)
            collect_while_waiting()  # not settled yet: nothing scheduled
            await asyncio.sleep(0)
            assert all(r() is not None for r in before)
            settle_after_warm_up()
            young = cycles(MIN_YOUNG * 2)
            collect_while_waiting()
            assert all(r() is not None for r in young), "collected before the caller yielded"
            await asyncio.sleep(0)
            assert all(r() is None for r in young), "young garbage left after the loop's turn"
            few = cycles(10)
            collect_while_waiting()  # too little to be worth a collection
            await asyncio.sleep(0)
            assert all(r() is not None for r in few)
            print("ok")

        asyncio.run(main())
    """)
    assert out.strip() == "ok"


@pytest.mark.services
def test_a_time_stamp_round_trip_collects_the_young_garbage(test_services) -> None:
    """Through hsba's TSA client and the real HTTP test TSA: the young garbage made
    before the request is gone when the token is back, though no automatic collection
    was due (the young threshold is far from reached), and the token is good."""
    out = _run(f"""
        import asyncio, gc, hashlib, weakref
        from core.heap import YOUNG_THRESHOLD, settle_after_warm_up
        from signer.timestamps import http_timestampers, timestamper_for

        class Node:
            pass

        settle_after_warm_up()
        stamper = timestamper_for(http_timestampers([{test_services.tsa_url!r}]))
        collections = []
        gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(
            info["generation"]))

        async def main():
            digest = hashlib.sha256(b"warm").digest()
            await stamper.async_timestamp(digest, "sha256")  # connection, TSA certificates
            refs = []
            for _ in range(5000):
                node = Node(); node.me = node; refs.append(weakref.ref(node))
            del node
            assert gc.get_count()[0] < YOUNG_THRESHOLD
            del collections[:]
            digest = hashlib.sha256(b"form").digest()
            token = await stamper.async_timestamp(digest, "sha256")
            info = token["content"]["encap_content_info"]["content"].parsed
            assert info["message_imprint"]["hashed_message"].native == digest
            assert collections and set(collections) <= {{0, 1}}, collections
            assert all(r() is None for r in refs)
            print("ok", collections)

        asyncio.run(main())
    """)
    assert out.startswith("ok ")


def test_api_settles_its_heap_after_the_layout_cache_warm_up(tmp_path: Path) -> None:
    """A real API start (TestClient, embedded default): once the background warm-up has
    laid out every form, the heap is frozen, with the layout cache in it."""
    out = _run(f"""
        import gc, time
        from pathlib import Path
        from fastapi.testclient import TestClient
        from api.app import create_app
        from core.heap import YOUNG_THRESHOLD
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
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        print("ok", frozen)
    """)
    assert out.startswith("ok ")
