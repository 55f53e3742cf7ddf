"""Listener: sockets in, raw frames to Kafka, replies out once Kafka has them."""
