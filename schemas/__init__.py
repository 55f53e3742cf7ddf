"""Record types, their encodings, topic names and the ClickHouse DDL."""
