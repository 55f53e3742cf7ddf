"""Shared by every stage, at the bottom of the import graph (imports nothing else of trackwire's):
settings, logging, Kafka admin, the service kit (lifecycle, health/metrics HTTP, run until signal,
supervised tasks), backoff, and the consume -> deliver -> commit loop."""
