"""A secured broker of the tests' own: a self-signed CA and certificates made with the JDK's keytool
at test time, and deploy/local/kafka.sh started on other ports and another data directory with a
SASL_SSL listener (SCRAM-SHA-512/256 and PLAIN users) and an SSL listener that requires a client
certificate. PLAINTEXT stays for the controller and the broker itself; the shared broker on 9092 is
never touched.

keytool cannot export a private key: the client's key is taken out of its PKCS12 store with
openssl (see make_pki).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import KAFKA_SH

STORE_PASSWORD = "store-secret-1"
KEY_PASSWORD = "key-secret-1"
USER, PASSWORD = "trackwire", "trackwire-secret-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Pki:
    ca_pem: Path  # the CA certificate, PEM (TRACKWIRE_KAFKA_SSL_CAFILE; the broker's truststore, PEM)
    other_ca_pem: Path  # a CA that signed nothing the broker uses
    broker_keystore: Path  # PKCS12: the broker's key and its certificate signed by the CA
    client_cert: Path  # PEM, signed by the CA
    client_key: Path  # PEM, unencrypted
    client_key_encrypted: Path  # PEM, encrypted with KEY_PASSWORD
    server_cert: Path  # PEM, signed by the CA for 127.0.0.1 (a stand-in https server)
    server_key: Path  # PEM


# EC keys and a JVM that does not optimise: each keytool run takes ~1 s instead of ~7 s on a busy machine.
_FAST_JVM = ("-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto")
_EC = ("-keyalg", "EC", "-groupname", "secp256r1", "-validity", "3", "-storetype", "PKCS12")


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"


def _keytool(*args: str) -> None:
    _run("keytool", *_FAST_JVM, *args, "-storepass", STORE_PASSWORD)


def make_pki(directory: Path) -> Pki:
    """The CA and the broker certificate with keytool (as a Kafka operator does); the client side,
    which keytool cannot hand to Python (no private key export), with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    d = {name: str(directory / name) for name in (
        "ca.p12", "ca.pem", "ca.key", "broker.p12", "broker.csr", "broker.pem", "other-ca.pem", "other-ca.key",
        "client.key", "client.csr", "client.pem", "client-encrypted.key", "server.key", "server.csr", "server.pem",
        "server.ext")}
    # keytool -genkeypair makes a self-signed certificate; bc:c makes it a CA.
    _keytool("-genkeypair", "-alias", "ca", "-dname", "CN=trackwire test CA", *_EC, "-ext", "bc:c",
             "-keystore", d["ca.p12"])
    _keytool("-exportcert", "-alias", "ca", "-keystore", d["ca.p12"], "-rfc", "-file", d["ca.pem"])
    _keytool("-genkeypair", "-alias", "broker", "-dname", "CN=127.0.0.1", *_EC, "-keystore", d["broker.p12"])
    _keytool("-certreq", "-alias", "broker", "-keystore", d["broker.p12"], "-file", d["broker.csr"])
    # Clients check the host they connected to against the certificate's subject alternative names.
    _keytool("-gencert", "-alias", "ca", "-keystore", d["ca.p12"], "-infile", d["broker.csr"],
             "-outfile", d["broker.pem"], "-rfc", "-validity", "3", "-ext", "SAN=ip:127.0.0.1,dns:localhost")
    _keytool("-importcert", "-alias", "ca", "-file", d["ca.pem"], "-keystore", d["broker.p12"], "-noprompt")
    _keytool("-importcert", "-alias", "broker", "-file", d["broker.pem"], "-keystore", d["broker.p12"])

    _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=some other CA", "-days", "3", "-keyout", d["other-ca.key"], "-out", d["other-ca.pem"])
    _run("openssl", "pkcs12", "-in", d["ca.p12"], "-nocerts", "-nodes", "-passin", f"pass:{STORE_PASSWORD}",
         "-out", d["ca.key"])
    _run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=trackwire-client", "-keyout", d["client.key"], "-out", d["client.csr"])
    _run("openssl", "x509", "-req", "-in", d["client.csr"], "-CA", d["ca.pem"], "-CAkey", d["ca.key"],
         "-CAcreateserial", "-days", "3", "-out", d["client.pem"])
    _run("openssl", "pkey", "-in", d["client.key"], "-aes256", "-passout", f"pass:{KEY_PASSWORD}",
         "-out", d["client-encrypted.key"])
    _run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=127.0.0.1", "-keyout", d["server.key"], "-out", d["server.csr"])
    Path(d["server.ext"]).write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", d["server.csr"], "-CA", d["ca.pem"], "-CAkey", d["ca.key"],
         "-CAcreateserial", "-days", "3", "-extfile", d["server.ext"], "-out", d["server.pem"])
    return Pki(Path(d["ca.pem"]), Path(d["other-ca.pem"]), Path(d["broker.p12"]), Path(d["client.pem"]),
               Path(d["client.key"]), Path(d["client-encrypted.key"]), Path(d["server.pem"]), Path(d["server.key"]))


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    if shutil.which("keytool") is None or shutil.which("openssl") is None:
        pytest.skip("keytool (a JDK) and openssl are needed to make test certificates")
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass(frozen=True)
class SecuredBroker:
    plaintext: str  # bootstrap of the PLAINTEXT listener (no security)
    sasl_ssl: str  # bootstrap of the SASL_SSL listener
    ssl: str  # bootstrap of the SSL listener requiring a client certificate
    pki: Pki

    def env(self, password: str = PASSWORD, mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
        """TRACKWIRE_* settings of a client of the SASL_SSL listener."""
        return {
            "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": self.sasl_ssl,
            "KAFKA_BOOTSTRAP_SERVERS": self.sasl_ssl,
            "TRACKWIRE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "TRACKWIRE_KAFKA_SASL_MECHANISM": mechanism,
            "TRACKWIRE_KAFKA_SASL_USERNAME": USER,
            "TRACKWIRE_KAFKA_SASL_PASSWORD": password,
            "TRACKWIRE_KAFKA_SSL_CAFILE": str(self.pki.ca_pem),
        }


@pytest.fixture(scope="session")
def secured_broker(tmp_path_factory, pki, kafka_bootstrap) -> SecuredBroker:  # kafka_bootstrap: jars fetched
    port, sasl_ssl_port, ssl_port = free_port(), free_port(), free_port()
    env = {**os.environ,
           "TRACKWIRE_KAFKA_PORT": str(port), "TRACKWIRE_KAFKA_CONTROLLER_PORT": str(free_port()),
           "TRACKWIRE_KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("secured-kafka")),
           "TRACKWIRE_KAFKA_OWNER_PID": str(os.getpid()),
           "TRACKWIRE_KAFKA_SASL_SSL_PORT": str(sasl_ssl_port), "TRACKWIRE_KAFKA_SSL_PORT": str(ssl_port),
           "TRACKWIRE_KAFKA_SSL_KEYSTORE": str(pki.broker_keystore),
           "TRACKWIRE_KAFKA_SSL_KEYSTORE_PASSWORD": STORE_PASSWORD,
           "TRACKWIRE_KAFKA_SSL_TRUSTSTORE": str(pki.ca_pem),
           "TRACKWIRE_KAFKA_SASL_USERS": f"{USER}:{PASSWORD}"}

    def kafka(command: str) -> None:
        done = subprocess.run(["bash", str(KAFKA_SH), command], env=env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr

    kafka("start")
    try:
        yield SecuredBroker(f"127.0.0.1:{port}", f"127.0.0.1:{sasl_ssl_port}", f"127.0.0.1:{ssl_port}", pki)
    finally:
        kafka("stop")
