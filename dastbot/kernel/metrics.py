"""Prometheus metrics of one bot instance, in a registry of its own (no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter("dastbot_questions", "New questions seen", registry=r)
        self.matches = Counter(
            "dastbot_matches", "Questions by match outcome", ["outcome"], registry=r
        )
        self.feedback = Counter("dastbot_feedback", "Answer feedback", ["kind"], registry=r)
        self.open_questions = Gauge("dastbot_open_questions", "Open questions", registry=r)
        self.open_escalations = Gauge("dastbot_open_escalations", "Open escalations", registry=r)
        self.reconnects = Counter("dastbot_reconnects", "Websocket reconnects", registry=r)
        self.send_retries = Counter(
            "dastbot_send_retries", "REST calls retried", ["reason"], registry=r
        )
        self.dead_letters = Counter(
            "dastbot_dead_letters",
            "Messages given up (refused: by the server for good; failing: for too long)",
            ["kind"],
            registry=r,
        )
        self.refusals = Counter(
            "dastbot_refusals", "Requests refused", ["endpoint", "reason"], registry=r
        )
        self.handler_seconds = Histogram(
            "dastbot_handler_seconds",
            "Time to handle one incoming event",
            ["kind"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
