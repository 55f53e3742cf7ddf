"""Sinks: batch inserts from Kafka into ClickHouse."""
