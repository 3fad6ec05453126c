"""The policy interface the other packages ask, and its combinators.

In the spirit of sigstore-python's ``verify/policy.py``: a policy has one
method, ``check(subject)``, which returns ``None`` when the subject is allowed
and raises an :class:`~core.errors.HsbaError` (``PolicyError`` or ``Forbidden``)
with a message for a person when it is not. ``SigningPolicy`` checks a
``SignatureAttempt``; ``AccessPolicy`` checks an ``AccessRequest``. Callers
compose them instead of writing rules in code::

    AllOf([policy_set.signing("discharge_paper"), ward_rule]).check(attempt)

``UnsafeAllowAll`` allows everything; it exists for tests and says so, and it
refuses to be built when ``HSBA_ENV=production``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from core.errors import ConfigurationError, HsbaError, PolicyError
from core.settings import get_settings

T_contra = TypeVar("T_contra", contravariant=True)
T = TypeVar("T")

log = logging.getLogger(__name__)


@runtime_checkable
class Policy(Protocol[T_contra]):
    def check(self, subject: T_contra, /) -> None:
        """Return when ``subject`` is allowed; raise an ``HsbaError`` saying why not."""


class AllOf(Generic[T]):
    """Allowed when every child policy allows (the first refusal is raised)."""

    def __init__(self, children: Sequence[Policy[T]]) -> None:
        if not children:
            raise ConfigurationError("policy.empty_all_of",
                                     "AllOf cần ít nhất một chính sách con.",
                                     "AllOf needs at least one child policy.")
        self.children = tuple(children)

    def check(self, subject: T, /) -> None:
        for child in self.children:
            child.check(subject)


class AnyOf(Generic[T]):
    """Allowed when at least one child policy allows; otherwise every refusal is reported."""

    def __init__(self, children: Sequence[Policy[T]]) -> None:
        if not children:
            raise ConfigurationError("policy.empty_any_of",
                                     "AnyOf cần ít nhất một chính sách con.",
                                     "AnyOf needs at least one child policy.")
        self.children = tuple(children)

    def check(self, subject: T, /) -> None:
        refusals: list[HsbaError] = []
        for child in self.children:
            try:
                child.check(subject)
                return
            except HsbaError as e:
                refusals.append(e)
        raise PolicyError(
            "policy.none_allowed",
            "Không chính sách nào cho phép: " + "; ".join(e.message_vi for e in refusals),
            "No policy allows this: " + "; ".join(e.message_en for e in refusals),
            details=[e.to_dict() for e in refusals],
        )


class UnsafeAllowAll:
    """Allows everything. FOR TESTS ONLY; refused when ``HSBA_ENV=production``."""

    def __init__(self) -> None:
        if get_settings().env == "production":
            raise ConfigurationError(
                "policy.unsafe_in_production",
                "UnsafeAllowAll (cho phép mọi thứ, chỉ dùng để kiểm thử) bị từ chối khi "
                "HSBA_ENV=production.",
                "UnsafeAllowAll (allows everything, tests only) is refused when "
                "HSBA_ENV=production.")
        log.warning("UnsafeAllowAll policy in use: every check passes (tests only)")

    def check(self, subject: object, /) -> None:
        return None
