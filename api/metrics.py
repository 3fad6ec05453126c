"""Prometheus metrics, one registry per app (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hsba_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("hsba_http_request_seconds", "HTTP request latency",
                                         ["method", "route"], buckets=_LATENCY_BUCKETS,
                                         registry=r)
        self.signatures = Counter("hsba_signatures_total", "Signatures applied",
                                  ["role", "level"], registry=r)
        self.documents = Counter("hsba_documents_total", "Documents by lifecycle event",
                                 ["event"], registry=r)
        self.tsa_seconds = Histogram("hsba_tsa_seconds", "Time-stamping latency",
                                     buckets=_LATENCY_BUCKETS, registry=r)
        self.ocsp_seconds = Histogram("hsba_ocsp_seconds", "OCSP/revocation fetch latency",
                                      buckets=_LATENCY_BUCKETS, registry=r)
        self.hsm_seconds = Histogram("hsba_hsm_sign_seconds", "Signing operation latency",
                                     buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("hsba_queue_depth", "Background jobs waiting",
                                 ["queue"], registry=r)
        self.errors = Counter("hsba_errors_total", "Errors by kind", ["kind"], registry=r)
