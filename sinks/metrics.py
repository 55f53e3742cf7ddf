"""Prometheus metrics of the sink (prometheus-client, like the listener's)."""

from prometheus_client import Counter, Gauge, Histogram

ROWS_WRITTEN = Counter("trackwire_sink_rows_written_total", "Rows ClickHouse accepted", ["table"])
BATCHES_WRITTEN = Counter("trackwire_sink_batches_written_total", "Batches written and committed")
BATCH_ROWS = Histogram(
    "trackwire_sink_batch_rows", "Rows per written batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000),
)
WRITE_SECONDS = Histogram(
    "trackwire_sink_write_seconds", "Time to write one batch to ClickHouse (all its tables)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WRITE_ERRORS = Counter("trackwire_sink_write_errors_total", "Failed ClickHouse writes", ["kind"])  # retriable|fatal
WAITING = Gauge(
    "trackwire_sink_waiting_for_clickhouse",
    "1 while ClickHouse refuses writes: the sink holds its batch, reads nothing more, commits nothing",
)
WAITING_SECONDS = Counter("trackwire_sink_waiting_seconds_total", "Time spent waiting for ClickHouse")
BUFFERED_ROWS = Gauge("trackwire_sink_buffered_rows", "Rows read from Kafka and not yet written")
DEAD_LETTERS = Counter("trackwire_sink_dead_letters_total", "Messages the sink stored as dead letters itself")
COMMIT_FAILURES = Counter("trackwire_sink_commit_failures_total", "Offset commits that failed after a write")
DISCARDED_ROWS = Counter(
    "trackwire_sink_discarded_rows_total",
    "Unwritten rows dropped on a rebalance or stop; not committed, so they are read again",
)
