"""The processor's Prometheus metrics (served on /metrics by common.service.HealthApp).

The names are read by `trackwire status` (trackwire/status_cmd.py): change them together.
Counters count what this worker process did since it started; the gauges describe the partitions
it owns right now.
"""

from __future__ import annotations

from typing import Mapping

from prometheus_client import Counter, Gauge

from processors.pipeline import DEAD_LETTER_REASONS, Result

FRAMES = Counter("trackwire_processor_frames_total", "Raw frames processed, by decoded protocol", ["protocol"])
RECORDS = Counter("trackwire_processor_records_total", "Messages published, by output topic", ["topic"])
DEAD_LETTERS = Counter("trackwire_processor_dead_letters_total", "Dead letters published, by reason", ["reason"])
DEVICES = Gauge("trackwire_processor_devices", "Devices with state in this worker's active partitions")
OPEN_SOS = Gauge("trackwire_processor_open_sos", "Devices of this worker with an open SOS/fall episode")
LAG = Gauge("trackwire_processor_lag", "Raw-frame messages not yet processed on this worker's active partitions")
BATCHES = Counter("trackwire_processor_batches_total", "Batches of raw frames processed")

for _reason in DEAD_LETTER_REASONS:  # every reason shows (at 0) before its first dead letter
    DEAD_LETTERS.labels(_reason)


def count(result: Result) -> None:
    """Count one processed frame's result (the timer's results count no frame)."""
    FRAMES.labels(result.protocol or "unknown").inc()
    count_outputs(result)


def count_outputs(result: Result) -> None:
    for out in result.outputs:
        RECORDS.labels(out.topic).inc()
    for reason in result.dead_reasons:
        DEAD_LETTERS.labels(reason).inc()


def count_totals(frames: Mapping[str, int], records: Mapping[str, int], dead: Mapping[str, int]) -> None:
    """A batch's counts at once: a labelled counter's `labels()` per output was 3 % of a worker."""
    for protocol, n in frames.items():
        FRAMES.labels(protocol).inc(n)
    for topic, n in records.items():
        RECORDS.labels(topic).inc(n)
    for reason, n in dead.items():
        DEAD_LETTERS.labels(reason).inc(n)
