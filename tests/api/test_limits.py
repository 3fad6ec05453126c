"""Rate limit per client (429 with Retry-After, problem+json) and the metrics
endpoint counting requests and errors by kind."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import ApiLimits
from tests.api.conftest import ApiEnv


def test_rate_limit_per_client(api_env: ApiEnv) -> None:
    app = create_app(api_env.settings, services=api_env.services,
                     limits=ApiLimits(max_upload_bytes=1024, rate_per_s=0.01, burst=3))
    with TestClient(app) as c:
        statuses = [c.get("/version", headers={"Authorization": "Bearer a"}).status_code
                    for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        r = c.get("/version", headers={"Authorization": "Bearer a"})
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) >= 1
        # another client has its own budget; health checks are never limited
        assert c.get("/version", headers={"Authorization": "Bearer b"}).status_code == 200
        assert all(c.get("/healthz").status_code == 200 for _ in range(5))
        c.get("/api/v1/auth/me")  # 401 -> counted as an error of kind "unauthorized"
        metrics = c.get("/metrics").text
        # refused before routing: no route label (paths carry ids, never used as labels)
        assert 'hsba_http_requests_total{method="GET",route="unmatched",status="429"} 3.0' \
            in metrics, metrics
        assert 'hsba_errors_total{kind="unauthorized"}' in metrics
