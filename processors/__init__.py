"""Processors: Faust agents decoding raw frames into positions, alerts and telemetry."""
