"""Secured Kafka clients: the one place that turns KafkaSettings' security settings into client options,
and that says clearly why a connection was refused.

- `aiokafka_options(kafka)`: keyword arguments for every aiokafka client (producer, consumer, admin):
  security_protocol, the TLS context (CA file, client certificate for mTLS) and SASL (PLAIN,
  SCRAM-SHA-256/512). Each client construction in the stages passes `**aiokafka_options(kafka)`.
- `faust_credentials(kafka)`: the same for Faust's `broker_credentials` (faust.SASLCredentials with
  the TLS context for SASL_SSL, faust.SSLCredentials for SSL); Faust hands them to aiokafka.
- `access_problem(kafka)`: connect once to each bootstrap server with those options and say what
  went wrong: rejected credentials, a mechanism the broker does not offer, an untrusted certificate,
  a refused connection. aiokafka only logs why a bootstrap failed and raises "Unable to bootstrap";
  `start_checked` turns that into `KafkaAccessError` with this message, so a stage with a wrong
  password stops at start saying what to check instead of retrying.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError, KafkaConnectionError, KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError,
)

from common.settings import KafkaSettings

CREDENTIALS = "TRACKWIRE_KAFKA_SASL_USERNAME/PASSWORD"


class KafkaAccessError(ConnectionError):
    """Kafka could not be reached or refused this client; the message says what to check."""


def aiokafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Security keyword arguments for AIOKafkaProducer/AIOKafkaConsumer/AIOKafkaAdminClient."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.uses_tls:
        options["ssl_context"] = kafka.ssl_context()
    if kafka.uses_sasl:
        assert kafka.sasl_password is not None  # KafkaSettings checked it
        options.update(
            sasl_mechanism=kafka.sasl_mechanism,
            sasl_plain_username=kafka.sasl_username,
            sasl_plain_password=kafka.sasl_password.get_secret_value(),
        )
    return options


def faust_credentials(kafka: KafkaSettings):
    """`broker_credentials` for faust.App: None for PLAINTEXT."""
    import faust

    if kafka.uses_sasl:
        assert kafka.sasl_password is not None
        # SASLCredentials means SASL_SSL when it has a context, SASL_PLAINTEXT without one.
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=kafka.ssl_context() if kafka.uses_tls else None,
        )
    if kafka.uses_tls:
        return faust.SSLCredentials(kafka.ssl_context())
    return None


def bootstrap_hosts(kafka: KafkaSettings) -> list[tuple[str, int]]:
    hosts = []
    for entry in kafka.bootstrap_servers.split(","):
        host, _, port = entry.strip().rpartition(":")
        if entry.strip():
            hosts.append((host.strip("[]") or entry.strip(), int(port) if port.isdigit() else 9092))
    return hosts


def describe(kafka: KafkaSettings, host: str, port: int, exc: BaseException) -> str:
    """What `exc` (from connecting to host:port with the stage's options) means for the operator."""
    where = f"{host}:{port}"
    sasl = f"SASL {kafka.sasl_mechanism}"
    if isinstance(exc, SaslAuthenticationFailed):
        return (f"Kafka rejected the credentials of user {kafka.sasl_username!r} ({sasl}) at {where}: "
                f"check {CREDENTIALS} (broker said: {_broker_said(exc)})")
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (f"the Kafka listener at {where} does not offer {sasl}: check TRACKWIRE_KAFKA_SASL_MECHANISM "
                f"({exc})")
    if isinstance(exc, IllegalSaslStateError):
        return (f"the Kafka listener at {where} does not do SASL: check TRACKWIRE_KAFKA_SECURITY_PROTOCOL "
                f"({kafka.security_protocol}) against the listener's protocol")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the certificate of the Kafka broker at {where} is not trusted ({exc.verify_message}): "
                "check TRACKWIRE_KAFKA_SSL_CAFILE (the CA that signed the broker's certificate) and that "
                "the bootstrap host name is in the certificate")
    if isinstance(exc, ssl.SSLError):
        return (f"the TLS handshake with the Kafka broker at {where} failed ({exc.reason or exc}): a broker that "
                "requires a client certificate needs TRACKWIRE_KAFKA_SSL_CERTFILE/KEYFILE; a listener without TLS "
                "needs TRACKWIRE_KAFKA_SECURITY_PROTOCOL PLAINTEXT or SASL_PLAINTEXT")
    protocol_hint = (f" (security protocol {kafka.security_protocol}: a listener of another protocol closes the "
                     "connection like this, check TRACKWIRE_KAFKA_SECURITY_PROTOCOL")
    if kafka.uses_tls and kafka.ssl_certfile is None:
        # With TLS 1.3 the broker's refusal of a missing client certificate arrives after the handshake.
        protocol_hint += "; so does a listener that requires a client certificate: TRACKWIRE_KAFKA_SSL_CERTFILE/KEYFILE"
    protocol_hint += ")"
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionResetError):
        local = " (for a local broker run: bash deploy/local/kafka.sh start)" if host in ("127.0.0.1", "localhost") else ""
        return f"cannot connect to the Kafka broker at {where}: {exc}{local}"
    if isinstance(exc, (KafkaError, asyncio.TimeoutError, ConnectionResetError)):
        return f"the Kafka broker at {where} did not answer: {exc!r}{protocol_hint}"
    return f"cannot use the Kafka broker at {where}: {exc!r}"


def _broker_said(exc: SaslAuthenticationFailed) -> str:
    # aiokafka builds it from the broker's error message: "[Error 58] SaslAuthenticationFailed: <message>"
    return str(exc.args[0]) if exc.args else str(exc)


async def access_problem(kafka: KafkaSettings, timeout_s: float = 10.0) -> str | None:
    """None if some bootstrap server accepts a connection with the stage's options; else why none did."""
    problems = []
    options = aiokafka_options(kafka)
    for host, port in bootstrap_hosts(kafka):
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, client_id="trackwire-access-check", request_timeout_ms=int(timeout_s * 1000),
                            **options),
                timeout_s)
        except (OSError, KafkaError, asyncio.TimeoutError) as exc:
            problems.append(describe(kafka, host, port, exc))
            continue
        conn.close()
        return None
    return "; ".join(problems) or f"no bootstrap servers in {kafka.bootstrap_servers!r}"


async def start_checked(client, kafka: KafkaSettings) -> None:
    """`await client.start()`; a failed bootstrap raises KafkaAccessError saying why (see access_problem)."""
    try:
        await client.start()
    except KafkaConnectionError as exc:
        problem = await access_problem(kafka)
        raise KafkaAccessError(problem or f"{exc} (bootstrap servers {kafka.bootstrap_servers})") from exc
