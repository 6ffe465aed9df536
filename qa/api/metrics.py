"""Prometheus metrics (`GET /metrics`, text format): requests and errors per endpoint, latency
histograms per endpoint and per answer route, queue depth, requests in flight, refusals, and the
size of the reader calls (merged requests on a GPU). One registry per app, so
several apps in one process (tests) do not share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("qa_http_requests", "HTTP requests by endpoint and status.",
                                ["method", "endpoint", "status"], registry=r)
        self.latency = Histogram("qa_http_request_seconds", "Request latency by endpoint.", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.route_latency = Histogram("qa_answer_seconds", "Time to answer a question, by the route that answered.",
                                       ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("qa_errors", "Error responses by endpoint and status code.", ["endpoint", "status"],
                              registry=r)
        self.queue_depth = Gauge("qa_queue_depth", "Requests waiting for a worker.", registry=r)
        self.in_flight = Gauge("qa_in_flight", "Requests being worked on.", registry=r)
        self.rejected = Counter("qa_rejected", "Requests refused or dropped, by reason: queue full, waited too "
                                "long for a worker, connection limit, timeout, client gone, body too large, body too "
                                "slow, bad host, cross-site.", ["reason"], registry=r)
        self.batch_pairs = Histogram("qa_reader_batch_pairs", "(question, passage) pairs per reader batch.",
                                     buckets=(1, 2, 4, 8, 16, 24, 32, 48, 64, 128), registry=r)
        self.batch_requests = Histogram("qa_reader_batch_requests", "Requests merged into one reader batch.",
                                        buckets=(1, 2, 3, 4, 6, 8, 16), registry=r)
