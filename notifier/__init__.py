"""SOS to a person: alerts from Kafka to webhooks, signed per the Standard Webhooks specification.

Pure parts (no I/O): config (TOML), payload (body, webhook-id, last fixes), policy (answer
classification, retry schedule), lanes (one webhook's delivery state machine), offsets (what may be
committed), routing (message -> deliveries). Thin I/O parts: http_client, deliverer, service,
positions, dead_letters, kafka_offsets, http_app.
"""
