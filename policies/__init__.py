"""hsba policies: each hospital's signing, retention, access and trust rules, as data.

Read by templates, signer, archive, workflow and api; imports none of them.
Public API (docs/CONTRACTS.md): :func:`load_policies` -> :class:`PolicySet`.
"""

from policies.access import AccessPolicy, AccessRequest, Decision
from policies.policy_set import PolicyFile, PolicySet, load_policies
from policies.protocol import AllOf, AnyOf, Policy, UnsafeAllowAll
from policies.retention import RetentionDecision, RetentionPolicy
from policies.signing import SignatureAttempt, SigningPolicy, Step
from policies.trust import TrustAnchor, TrustPolicy

__all__ = [
    "AccessPolicy", "AccessRequest", "AllOf", "AnyOf", "Decision", "Policy", "PolicyFile",
    "PolicySet", "RetentionDecision", "RetentionPolicy", "SignatureAttempt", "SigningPolicy",
    "Step", "TrustAnchor", "TrustPolicy", "UnsafeAllowAll", "load_policies",
]
