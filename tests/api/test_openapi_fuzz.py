"""A bounded schemathesis run over the OpenAPI 3.1 document: for every operation a
few generated requests (as a hospital system for writes, as an auditor for
reads), no 5xx and no response that violates the documented schema.

(Schemathesis' pytest plugin does not load with this pytest; the operations are
driven through its Python API with Hypothesis instead.)"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import ApiEnv

EXAMPLES = 4


def test_no_server_errors_nor_schema_violations(api_env: ApiEnv) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_env.client.app)
    tokens = {role: api_env.token(role) for role in ("auditor", "integration")}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            role = "auditor" if case.method.upper() == "GET" else "integration"
            case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"},
                                   checks=[not_a_server_error, response_schema_conformance],
                                   timeout=120)

        try:
            run()
        except Exception as e:  # noqa: BLE001 - collect every operation's failure
            inner = "; ".join(f"{type(x).__name__}: {str(x)[:800]}"
                              for x in getattr(e, "exceptions", ()) or ())
            failures.append(f"{operation.method.upper()} {operation.path}: "
                            f"{type(e).__name__}: {str(e)[:600]} {inner}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
