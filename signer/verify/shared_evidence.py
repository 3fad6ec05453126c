"""One file's long-term evidence, worked out once for all of its signatures.

pyHanko's ``ades_lta_validation`` treats the file's document timestamps (and the
timestamps inside signatures) as the evidence record, and rebuilds it for every
signature it validates: it re-reads the DSS, re-hashes the objects of every
revision and re-validates every timestamp of the chain. With ``n`` signatures
that is ``n`` times the same work on the same inputs, so the cost of a file grows
with ``n²``.

Inside :func:`shared_evidence` (one file's verification) the three pyHanko steps
that only depend on the file, the validation policy and the validation time run
once and every signature gets the result (the proof-of-existence manager as a
fresh copy, since pyHanko adds to it). Nothing is re-implemented: pyHanko's own
functions run on the same inputs, fewer times. A call whose inputs differ (a
signature carrying its own revocation data, another policy or validation time)
gets its own run. Outside the scope, or with a pyHanko that lacks these steps,
pyHanko behaves exactly as shipped.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from typing import Any

log = logging.getLogger(__name__)

_STEPS = (
    "_build_prima_facie_poe_index_from_pdf_timestamps",
    "_dss_to_local_knowledge",
    "_validate_prima_facie_poe",
)
_scope: ContextVar[dict[Any, Any] | None] = ContextVar("hsba_verify_shared_evidence", default=None)
_install_lock = threading.Lock()
_installed: bool | None = None


@contextmanager
def shared_evidence() -> Iterator[None]:
    """Share pyHanko's evidence-record work between the signatures of one file."""
    _install()
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def active() -> bool:
    """True inside :func:`shared_evidence` with the sharing installed."""
    return bool(_installed) and _scope.get() is not None


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed is not None:
            return
        try:
            from pyhanko.sign.validation import ades

            originals = {name: getattr(ades, name) for name in _STEPS}
        except (ImportError, AttributeError):
            log.warning("pyHanko without the expected LTA steps: evidence is not shared")
            _installed = False
            return
        ades._build_prima_facie_poe_index_from_pdf_timestamps = _shared_index(  # type: ignore[attr-defined]
            originals["_build_prima_facie_poe_index_from_pdf_timestamps"])
        ades._dss_to_local_knowledge = _shared_dss(originals["_dss_to_local_knowledge"])  # type: ignore[attr-defined]
        ades._validate_prima_facie_poe = _shared_poe(originals["_validate_prima_facie_poe"])  # type: ignore[attr-defined]
        _installed = True


def _shared_index(orig: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """The document-timestamp chain of a reader (integrity of every revision
    hashed): once per reader, inclusion rule and difference policy."""

    @functools.wraps(orig)
    def index(r: Any, include_content_ts: bool, diff_policy: Any) -> list[Any]:
        cache = _scope.get()
        if cache is None:
            return orig(r, include_content_ts, diff_policy)
        key = ("index", id(r), bool(include_content_ts), id(diff_policy))
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = (orig(r, include_content_ts, diff_policy), (r, diff_policy))
        return list(hit[0])

    return index


def _shared_dss(orig: Callable[..., Any]) -> Callable[..., Any]:
    """The DSS's certificates, CRLs and OCSP responses: parsed once per reader."""

    @functools.wraps(orig)
    def dss(reader: Any) -> Any:
        cache = _scope.get()
        if cache is None:
            return orig(reader)
        key = ("dss", id(reader))
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = (orig(reader), reader)
        return hit[0]

    return dss


def _spec_key(spec: Any) -> tuple[Any, ...]:
    """What of a ``SignatureValidationSpec`` the chain validation depends on.

    Object identities (the policies come from one setup per file) and the
    identities of every item of local knowledge; the fetcher backend pyHanko
    attaches per operation is not part of it (same rule, same results)."""
    lk = spec.local_knowledge
    knowledge = tuple(id(x) for group in (lk.known_ocsps, lk.known_crls, lk.known_certs,
                                           lk.known_poes, lk.nonrevoked_assertions)
                      for x in group)
    gathering = spec.revinfo_gathering_policy
    return (id(spec.cert_validation_policy), id(spec.ts_cert_validation_policy),
            id(spec.ac_validation_policy), id(spec.key_usage_settings),
            id(spec.signature_algorithm_policy), id(spec.qualification_requirements),
            id(spec.ts_qualification_requirements), gathering.online_fetching_rule,
            id(gathering.fetcher_backend) if gathering.fetcher_backend is not None
            and not _operation_scoped(gathering.fetcher_backend) else None,
            knowledge)


def _operation_scoped(backend: Any) -> bool:
    """pyHanko's LTA validation attaches a fresh aiohttp backend per operation."""
    return type(backend).__name__ == "AIOHttpFetcherBackend"


def _shared_poe(orig: Callable[..., Any]) -> Callable[..., Any]:
    """The validated proof-of-existence chain: once per chain, policy, local
    knowledge and validation time; each caller gets its own copy."""

    @functools.wraps(orig)
    async def poe(prima_facie_poe_sets: Any, validation_spec: Any,
                  cur_timing_info: Any = None) -> Any:
        cache = _scope.get()
        if cache is None or cur_timing_info is None:
            return await orig(prima_facie_poe_sets, validation_spec, cur_timing_info)
        sets = list(prima_facie_poe_sets)
        key = ("poe", tuple(id(p) for p in sets), _spec_key(validation_spec), cur_timing_info)
        hit = cache.get(key)
        if hit is None:
            try:
                outcome: tuple[str, Any] = ("ok", await orig(sets, validation_spec, cur_timing_info))
            except Exception as e:  # noqa: BLE001 - replayed to every caller, as pyHanko would raise it
                outcome = ("error", e)
            lk = validation_spec.local_knowledge
            hit = cache[key] = (outcome, (sets, validation_spec, lk))
        kind, value = hit[0]
        if kind == "error":
            raise value
        return copy(value)

    return poe
