"""Prometheus metrics of the listener (prometheus-client: the reference client, text format)."""

import functools

from prometheus_client import Counter, Gauge, Histogram


@functools.cache
def child(metric, *labels: str):
    """`metric.labels(*labels)`, cached: labels() takes a lock and builds keys on every call, and
    the listener counts several things per frame. Label values here come from a small fixed set
    (protocol names, transports, reasons), so the cache stays small."""
    return metric.labels(*labels)

CONNECTIONS = Gauge("trackwire_listener_connections", "Open TCP connections by protocol", ["protocol"])
CONNECTIONS_REJECTED = Counter("trackwire_listener_connections_rejected_total", "Refused connections", ["reason"])
FRAMES_IN = Counter("trackwire_listener_frames_in_total", "Frames read from devices", ["protocol", "transport"])
FRAMES_ACKED = Counter("trackwire_listener_frames_acked_total", "Frames acknowledged by Kafka", ["protocol"])
REPLIES_OUT = Counter("trackwire_listener_replies_total", "Replies written to devices", ["protocol"])
BYTES_IN = Counter("trackwire_listener_bytes_in_total", "Bytes read from devices", ["transport"])
BYTES_OUT = Counter("trackwire_listener_bytes_out_total", "Bytes written to devices", ["transport"])
ERRORS = Counter("trackwire_listener_errors_total", "Input problems by kind", ["kind"])
DEAD_LETTERS = Counter("trackwire_listener_dead_letters_total", "Records sent to the dead-letter topic", ["kind"])
UNACKED = Counter("trackwire_listener_frames_unacknowledged_total", "Frames not acknowledged (Kafka slow or down)", ["why"])
INFLIGHT = Gauge("trackwire_listener_inflight_frames", "Frames sent to Kafka and not yet acknowledged")
PRODUCE_ERRORS = Counter("trackwire_listener_produce_errors_total", "Kafka produce failures")
PRODUCE_LATENCY = Histogram(
    "trackwire_listener_produce_latency_seconds", "From send to broker ack",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FRAMES_PER_MESSAGE = Histogram(
    "trackwire_listener_frames_per_message", "Frames per raw-frames message (several under load: frame batches)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
REPLY_LATENCY = Histogram(
    "trackwire_listener_reply_latency_seconds", "From a frame read off the socket to its reply written (after the Kafka ack)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)
BACKPRESSURE_SECONDS = Counter("trackwire_listener_backpressure_seconds_total", "Time connections spent paused")
COMMANDS_DELIVERED = Counter("trackwire_listener_commands_delivered_total", "Downlink commands written to devices", ["protocol"])
OLDEST_UNACKED = Gauge("trackwire_listener_oldest_unacked_seconds",
                       "Age of the oldest frame not yet acknowledged by Kafka (the stall watchdog's measure)")
PRODUCER_STALLED = Gauge("trackwire_listener_producer_stalled",
                         "1 from a stalled Kafka producer's replacement until the new one acknowledged a frame")
PRODUCER_REPLACEMENTS = Counter("trackwire_listener_producer_replacements_total",
                                "Kafka producers replaced by the stall watchdog")
