"""Prometheus metrics of the notifier, per webhook (prometheus-client, like the other stages)."""

from prometheus_client import Counter, Gauge, Histogram

DELIVERED = Counter("trackwire_notify_delivered_total", "Alerts a webhook answered with 2xx", ["webhook"])
RETRIED = Counter("trackwire_notify_retried_total", "Retries scheduled after a failed attempt", ["webhook"])
FAILED_ATTEMPTS = Counter(
    "trackwire_notify_failed_attempts_total",
    "Attempts that did not get a 2xx, by kind: timeout, connection, 3xx, 4xx, 5xx, other", ["webhook", "kind"],
)
DEAD_LETTERED = Counter(
    "trackwire_notify_dead_lettered_total",
    "Alerts given up and written to the dead-letter topic, by why: final, exhausted, disabled, backlog",
    ["webhook", "why"],
)
LATENCY = Histogram(
    "trackwire_notify_latency_seconds",
    "From the alert's record on its Kafka topic (its timestamp) to the receiver's 2xx", ["webhook"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400),
)
BACKLOG = Gauge("trackwire_notify_backlog", "Alerts held for a webhook: queued, waiting for a retry or in flight",
                ["webhook"])
IN_FLIGHT = Gauge("trackwire_notify_in_flight", "Requests to a webhook in flight", ["webhook"])
DISABLED = Gauge("trackwire_notify_webhook_disabled", "1 once a webhook answered 410 Gone (until restart)",
                 ["webhook"])
UNFINISHED = Gauge("trackwire_notify_unfinished_alerts",
                   "Alerts read from Kafka that some webhook has not finished (their offsets are not committed)")
DEAD_LETTER_ERRORS = Counter("trackwire_notify_dead_letter_errors_total",
                             "Failed writes of a dead letter to Kafka (retried until they succeed)")
KNOWN_FIXES = Gauge("trackwire_notify_known_fixes", "Devices whose last fix the notifier holds")
