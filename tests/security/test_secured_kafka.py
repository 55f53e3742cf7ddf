"""Clients built from KafkaSettings against the secured broker (tests/security/conftest.py): each SASL
mechanism authenticates over TLS, a client certificate opens the SSL listener that requires one (mTLS),
and what is wrong (credentials, CA, missing certificate, protocol) is said at the first connection.
"""

from __future__ import annotations

import time

import pytest

from common.kafka import ensure_topics
from common.kafka_security import KafkaAccessError, access_problem
from common.settings import KafkaSettings
from schemas.topics import TOPICS
from tests.security.conftest import KEY_PASSWORD, PASSWORD, USER

pytestmark = pytest.mark.kafka


def sasl_ssl(broker, **changes) -> KafkaSettings:
    values = {"bootstrap_servers": broker.sasl_ssl, "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
              "sasl_username": USER, "sasl_password": PASSWORD, "ssl_cafile": str(broker.pki.ca_pem)}
    return KafkaSettings(**{**values, **changes})


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
async def test_each_sasl_mechanism_authenticates_over_tls_and_manages_topics(secured_broker, kafka_prefix, mechanism):
    kafka = sasl_ssl(secured_broker, sasl_mechanism=mechanism, topic_prefix=f"{kafka_prefix}{mechanism}.",
                     topic_partitions=1)
    assert await access_problem(kafka) is None
    actions = await ensure_topics(kafka, TOPICS)
    assert [(a.topic, a.outcome) for a in actions] == [(spec.full_name(kafka.topic_prefix), "created") for spec in TOPICS]


async def test_a_wrong_password_fails_at_the_first_connection_with_what_to_check(secured_broker):
    kafka = sasl_ssl(secured_broker, sasl_password="not-" + PASSWORD)
    started = time.monotonic()
    with pytest.raises(KafkaAccessError) as caught:
        await ensure_topics(kafka, TOPICS)
    assert str(caught.value).startswith(
        f"Kafka rejected the credentials of user '{USER}' (SASL SCRAM-SHA-512) at {secured_broker.sasl_ssl}: "
        "check TRACKWIRE_KAFKA_SASL_USERNAME/PASSWORD (broker said: ")
    assert time.monotonic() - started < 30


async def test_an_unknown_user_is_told_the_same_way(secured_broker):
    problem = await access_problem(sasl_ssl(secured_broker, sasl_username="nobody", sasl_mechanism="SCRAM-SHA-256"))
    assert problem.startswith(f"Kafka rejected the credentials of user 'nobody' (SASL SCRAM-SHA-256) at "
                              f"{secured_broker.sasl_ssl}: check TRACKWIRE_KAFKA_SASL_USERNAME/PASSWORD")


async def test_a_broker_certificate_from_another_ca_is_not_trusted(secured_broker):
    problem = await access_problem(sasl_ssl(secured_broker, ssl_cafile=str(secured_broker.pki.other_ca_pem)))
    assert problem.startswith(f"the certificate of the Kafka broker at {secured_broker.sasl_ssl} is not trusted (")
    assert "check TRACKWIRE_KAFKA_SSL_CAFILE" in problem


async def test_without_the_ca_file_the_system_cas_do_not_trust_a_private_ca(secured_broker):
    problem = await access_problem(sasl_ssl(secured_broker, ssl_cafile=None))
    assert "is not trusted" in problem and "check TRACKWIRE_KAFKA_SSL_CAFILE" in problem


async def test_a_plaintext_client_on_the_sasl_ssl_listener_is_told_to_check_the_protocol(secured_broker):
    problem = await access_problem(KafkaSettings(bootstrap_servers=secured_broker.sasl_ssl), timeout_s=5)
    assert problem.startswith(f"the Kafka broker at {secured_broker.sasl_ssl} did not answer")
    assert "check TRACKWIRE_KAFKA_SECURITY_PROTOCOL" in problem


@pytest.mark.parametrize("encrypted", [False, True], ids=["key", "encrypted-key"])
async def test_a_client_certificate_opens_the_listener_that_requires_one(secured_broker, kafka_prefix, encrypted):
    pki = secured_broker.pki
    kafka = KafkaSettings(
        bootstrap_servers=secured_broker.ssl, security_protocol="SSL", ssl_cafile=str(pki.ca_pem),
        ssl_certfile=str(pki.client_cert),
        ssl_keyfile=str(pki.client_key_encrypted if encrypted else pki.client_key),
        ssl_key_password=KEY_PASSWORD if encrypted else None,
        topic_prefix=f"{kafka_prefix}mtls{int(encrypted)}.", topic_partitions=1)
    actions = await ensure_topics(kafka, TOPICS)
    assert [a.outcome for a in actions] == ["created"] * len(TOPICS)


async def test_without_a_client_certificate_that_listener_refuses_and_says_so(secured_broker):
    kafka = KafkaSettings(bootstrap_servers=secured_broker.ssl, security_protocol="SSL",
                          ssl_cafile=str(secured_broker.pki.ca_pem))
    with pytest.raises(KafkaAccessError, match="requires a client certificate: TRACKWIRE_KAFKA_SSL_CERTFILE/KEYFILE"):
        await ensure_topics(kafka, TOPICS)
