"""Kafka security settings: validated at start with messages naming the setting, and turned into the
options of aiokafka clients and Faust's broker_credentials (common/kafka_security.py).

Certificates are real ones from the test PKI (tests/security/conftest.py, made with keytool/openssl).
"""

from __future__ import annotations

import ssl

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from common.kafka_security import aiokafka_options, bootstrap_hosts, faust_credentials
from common.settings import ConfigError, KafkaSettings, load
from tests.security.conftest import KEY_PASSWORD

SASL = {"TRACKWIRE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "TRACKWIRE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TRACKWIRE_KAFKA_SASL_USERNAME": "trackwire", "TRACKWIRE_KAFKA_SASL_PASSWORD": "s3cret-pw"}


@pytest.fixture
def env(monkeypatch):
    for name in ("TRACKWIRE_KAFKA_SECURITY_PROTOCOL", "TRACKWIRE_KAFKA_SASL_MECHANISM", "TRACKWIRE_KAFKA_SASL_USERNAME",
                 "TRACKWIRE_KAFKA_SASL_PASSWORD", "TRACKWIRE_KAFKA_SSL_CAFILE", "TRACKWIRE_KAFKA_SSL_CERTFILE",
                 "TRACKWIRE_KAFKA_SSL_KEYFILE", "TRACKWIRE_KAFKA_SSL_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def set_env(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return set_env


def config_error(**values: str) -> str:
    """The message `load` gives for these settings (it must fail)."""
    with pytest.raises(ConfigError) as caught:
        load(KafkaSettings)
    message = str(caught.value.code)
    assert message.startswith("trackwire: configuration error: ")
    assert "s3cret-pw" not in message and KEY_PASSWORD not in message  # passwords never echoed
    return message


def test_plaintext_by_default_gives_plaintext_clients(env):
    kafka = load(KafkaSettings)
    assert kafka.security_protocol == "PLAINTEXT"
    assert aiokafka_options(kafka) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(kafka) is None


def test_sasl_without_mechanism_username_or_password_names_each_missing_setting(env):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SASL_SSL")
    assert config_error().endswith(
        "TRACKWIRE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs TRACKWIRE_KAFKA_SASL_MECHANISM, "
        "TRACKWIRE_KAFKA_SASL_USERNAME, TRACKWIRE_KAFKA_SASL_PASSWORD")
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", TRACKWIRE_KAFKA_SASL_MECHANISM="PLAIN",
        TRACKWIRE_KAFKA_SASL_USERNAME="trackwire")
    assert config_error().endswith("TRACKWIRE_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs TRACKWIRE_KAFKA_SASL_PASSWORD")


def test_unknown_protocol_or_mechanism_is_refused_naming_the_setting(env):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="TLS")
    message = config_error()
    assert "TRACKWIRE_KAFKA_SECURITY_PROTOCOL" in message and "'SASL_SSL'" in message and "(got 'TLS')" in message
    env(**{**SASL, "TRACKWIRE_KAFKA_SASL_MECHANISM": "GSSAPI"})
    message = config_error()
    assert "TRACKWIRE_KAFKA_SASL_MECHANISM" in message and "'SCRAM-SHA-256'" in message and "(got 'GSSAPI')" in message


def test_sasl_settings_without_a_sasl_protocol_are_refused(env):
    env(TRACKWIRE_KAFKA_SASL_USERNAME="trackwire", TRACKWIRE_KAFKA_SASL_PASSWORD="s3cret-pw")
    assert config_error().endswith(
        "TRACKWIRE_KAFKA_SASL_USERNAME, TRACKWIRE_KAFKA_SASL_PASSWORD set but TRACKWIRE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT "
        "does not use SASL (set it to SASL_SSL or SASL_PLAINTEXT)")


def test_tls_files_without_a_tls_protocol_are_refused(env, pki):
    env(**{**SASL, "TRACKWIRE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, TRACKWIRE_KAFKA_SSL_CAFILE=str(pki.ca_pem))
    assert config_error().endswith(
        "TRACKWIRE_KAFKA_SSL_CAFILE set but TRACKWIRE_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS "
        "(set it to SSL or SASL_SSL)")


def test_an_unreadable_ca_file_is_named(env, tmp_path):
    env(**SASL, TRACKWIRE_KAFKA_SSL_CAFILE=str(tmp_path / "missing.pem"))
    assert config_error().endswith(
        f"TRACKWIRE_KAFKA_SSL_CAFILE: cannot read the file: No such file or directory (got '{tmp_path}/missing.pem')")


def test_a_ca_file_that_is_not_a_pem_certificate_is_named(env, tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    env(**SASL, TRACKWIRE_KAFKA_SSL_CAFILE=str(bogus))
    assert f"TRACKWIRE_KAFKA_SSL_CAFILE={bogus}: not a PEM CA certificate" in config_error()


def test_a_client_certificate_needs_its_key_and_the_key_its_certificate(env, pki):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SSL", TRACKWIRE_KAFKA_SSL_CERTFILE=str(pki.client_cert))
    assert config_error().endswith(
        "TRACKWIRE_KAFKA_SSL_CERTFILE needs TRACKWIRE_KAFKA_SSL_KEYFILE too (a client certificate and its key)")
    env(TRACKWIRE_KAFKA_SSL_CERTFILE=None, TRACKWIRE_KAFKA_SSL_KEYFILE=str(pki.client_key))
    assert config_error().endswith(
        "TRACKWIRE_KAFKA_SSL_KEYFILE needs TRACKWIRE_KAFKA_SSL_CERTFILE too (a client certificate and its key)")


def test_a_key_that_is_not_the_certificates_is_refused(env, pki):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SSL", TRACKWIRE_KAFKA_SSL_CERTFILE=str(pki.ca_pem),
        TRACKWIRE_KAFKA_SSL_KEYFILE=str(pki.client_key))
    message = config_error()
    assert f"TRACKWIRE_KAFKA_SSL_CERTFILE={pki.ca_pem} with TRACKWIRE_KAFKA_SSL_KEYFILE={pki.client_key}: " \
           "cannot load the client certificate and key" in message
    assert "KEY_VALUES_MISMATCH" in message


def test_an_encrypted_key_needs_its_password(env, pki):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SSL", TRACKWIRE_KAFKA_SSL_CERTFILE=str(pki.client_cert),
        TRACKWIRE_KAFKA_SSL_KEYFILE=str(pki.client_key_encrypted))
    assert "the key is encrypted: set TRACKWIRE_KAFKA_SSL_KEY_PASSWORD" in config_error()  # never a terminal prompt
    env(TRACKWIRE_KAFKA_SSL_KEY_PASSWORD="wrong-" + KEY_PASSWORD)
    assert "cannot load the client certificate and key" in config_error()
    env(TRACKWIRE_KAFKA_SSL_KEY_PASSWORD=KEY_PASSWORD)
    assert isinstance(aiokafka_options(load(KafkaSettings))["ssl_context"], ssl.SSLContext)


def test_a_key_password_without_a_key_is_refused(env, pki):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SSL", TRACKWIRE_KAFKA_SSL_KEY_PASSWORD=KEY_PASSWORD)
    assert config_error().endswith("TRACKWIRE_KAFKA_SSL_KEY_PASSWORD set without TRACKWIRE_KAFKA_SSL_KEYFILE")


def test_sasl_ssl_settings_become_aiokafka_options(env, pki):
    env(**SASL, TRACKWIRE_KAFKA_SSL_CAFILE=str(pki.ca_pem))
    kafka = load(KafkaSettings)
    assert "s3cret-pw" not in repr(kafka) and "s3cret-pw" not in str(kafka)
    options = aiokafka_options(kafka)
    context = options.pop("ssl_context")
    assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "trackwire", "sasl_plain_password": "s3cret-pw"}
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "trackwire test CA"),),)]


def test_faust_gets_the_same_security_through_its_own_conversion(env, pki):
    """Faust's producer, consumer and admin clients take their options from credentials_to_aiokafka_auth."""
    env(**{**SASL, "TRACKWIRE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"}, TRACKWIRE_KAFKA_SSL_CAFILE=str(pki.ca_pem))
    auth = dict(credentials_to_aiokafka_auth(faust_credentials(load(KafkaSettings))))
    assert isinstance(auth.pop("ssl_context"), ssl.SSLContext)
    assert auth == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
                    "sasl_plain_username": "trackwire", "sasl_plain_password": "s3cret-pw"}

    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", TRACKWIRE_KAFKA_SSL_CAFILE=None)
    auth = dict(credentials_to_aiokafka_auth(faust_credentials(load(KafkaSettings))))
    assert auth == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                    "sasl_plain_username": "trackwire", "sasl_plain_password": "s3cret-pw", "ssl_context": None}


def test_mtls_settings_load_the_client_certificate_into_every_clients_context(env, pki):
    env(TRACKWIRE_KAFKA_SECURITY_PROTOCOL="SSL", TRACKWIRE_KAFKA_SSL_CAFILE=str(pki.ca_pem),
        TRACKWIRE_KAFKA_SSL_CERTFILE=str(pki.client_cert), TRACKWIRE_KAFKA_SSL_KEYFILE=str(pki.client_key))
    kafka = load(KafkaSettings)
    options = aiokafka_options(kafka)
    assert options["security_protocol"] == "SSL" and set(options) == {"security_protocol", "ssl_context"}
    auth = credentials_to_aiokafka_auth(faust_credentials(kafka))
    assert auth["security_protocol"] == "SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)
    # That the certificate is presented (and required) is checked against the broker's SSL listener
    # in test_secured_kafka.py.


@pytest.mark.parametrize("servers, hosts", [
    ("127.0.0.1:9094", [("127.0.0.1", 9094)]),
    ("kafka-0:9093, kafka-1:9093", [("kafka-0", 9093), ("kafka-1", 9093)]),
    ("[::1]:9094", [("::1", 9094)]),
    ("kafka", [("kafka", 9092)]),
])
def test_each_bootstrap_server_is_checked_on_its_own(servers, hosts):
    assert bootstrap_hosts(KafkaSettings(bootstrap_servers=servers)) == hosts
