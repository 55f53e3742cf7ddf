"""ClickHouse over https with credentials: the sink settings become clickhouse-connect's arguments, and
clickhouse-connect really uses them.

No ClickHouse server can be installed on this machine, so the https side is a stand-in: a TLS server
with a certificate from the test CA (tests/security/conftest.py) that records the first request
clickhouse-connect sends when it connects (and answers 500, so the client gives up). That shows the
CA file is what the server's certificate is checked against and which credentials are sent; talking
to a real server is not tested here.
"""

from __future__ import annotations

import base64
import http.server
import ssl
import threading

import pytest

from common.settings import ConfigError, load
from sinks.settings import SinkSettings

ACCESS = ("TRACKWIRE_SINK_CLICKHOUSE_URL", "TRACKWIRE_CLICKHOUSE_URL", "TRACKWIRE_SINK_CLICKHOUSE_USERNAME",
          "TRACKWIRE_SINK_CLICKHOUSE_PASSWORD", "TRACKWIRE_SINK_CLICKHOUSE_CA_FILE", "TRACKWIRE_SINK_CLICKHOUSE_VERIFY")


@pytest.fixture
def env(monkeypatch):
    for name in ACCESS:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values: str) -> SinkSettings:
        for name, value in values.items():
            monkeypatch.setenv(f"TRACKWIRE_SINK_CLICKHOUSE_{name}", value)
        return load(SinkSettings)

    return set_env


def test_https_url_with_username_password_and_ca_file_become_client_arguments(env, pki):
    settings = env(URL="https://clickhouse-trackwire:8443/trackwire", USERNAME="trackwire", PASSWORD="ch-s3cret",
                   CA_FILE=str(pki.ca_pem))
    target = settings.target
    assert (target.dsn, target.database) == ("https://clickhouse-trackwire:8443", "trackwire")
    assert target.client_options == {"interface": "https", "username": "trackwire", "password": "ch-s3cret",
                                     "ca_cert": str(pki.ca_pem)}
    assert target.display == "https://trackwire@clickhouse-trackwire:8443/trackwire"
    assert "ch-s3cret" not in repr(settings)


def test_a_password_in_the_url_keeps_working(env):
    target = env(URL="https://bob:in-url@ch.example:8443/fleet").target
    assert (target.dsn, target.database) == ("https://bob:in-url@ch.example:8443", "fleet")
    assert target.client_options == {"interface": "https"}
    assert target.display == "https://bob@ch.example:8443/fleet"


def test_verify_off_is_passed_on(env):
    assert env(URL="https://ch.example:8443/x", VERIFY="false").target.client_options == {"interface": "https",
                                                                                         "verify": False}


def test_https_on_any_port_is_https(env):
    """clickhouse-connect takes https from the port (443/8443) and ignores the DSN's scheme."""
    assert env(URL="https://ch.example:9443/x").target.client_options == {"interface": "https"}
    assert env(URL="http://ch.example:8443/x").target.client_options == {"interface": "http"}


@pytest.mark.parametrize("values, message", [
    ({"URL": "chdb:///tmp/x", "USERNAME": "u"},
     "TRACKWIRE_SINK_CLICKHOUSE_USERNAME set but the ClickHouse URL is the embedded engine (chdb)"),
    ({"URL": "http://ch:8123/x", "CA_FILE": "{ca}"},
     "TRACKWIRE_SINK_CLICKHOUSE_CA_FILE/VERIFY set but the ClickHouse URL is http://: use https:// for TLS"),
    ({"URL": "https://ch:8443/x", "CA_FILE": "{ca}", "VERIFY": "false"},
     "TRACKWIRE_SINK_CLICKHOUSE_CA_FILE set but TRACKWIRE_SINK_CLICKHOUSE_VERIFY is false"),
    ({"URL": "https://bob:pw@ch:8443/x", "PASSWORD": "other"},
     "the ClickHouse password is both in the URL and in TRACKWIRE_SINK_CLICKHOUSE_PASSWORD: give it once"),
    ({"URL": "https://ch:8443/x", "CA_FILE": "/nonexistent/ca.pem"},
     "clickhouse_ca_file: cannot read the file: No such file or directory"),
])
def test_access_settings_that_do_not_fit_the_url_are_refused(env, pki, values, message):
    with pytest.raises(ConfigError) as caught:
        env(**{k: v.format(ca=pki.ca_pem) for k, v in values.items()})
    assert message in str(caught.value.code)
    assert "other" not in str(caught.value.code).replace("another", "")


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[dict[str, str]] = []

    def _record(self) -> None:
        type(self).requests.append(dict(self.headers.items()))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def https_stand_in(pki):
    """https://127.0.0.1:<port> with a certificate signed by the test CA; yields (port, recorded requests)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Recorder.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Recorder.requests
    finally:
        server.shutdown()
        server.server_close()


def _connect(settings: SinkSettings) -> str:
    """Connect as the sink does; the stand-in refuses every query, so this always fails: return why."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - which error depends on where it stopped
        settings.target.connect()
    return str(caught.value)


def test_clickhouse_connect_checks_the_server_against_the_ca_file_and_sends_the_credentials(env, pki, https_stand_in):
    port, requests = https_stand_in
    settings = env(URL=f"https://127.0.0.1:{port}/trackwire", USERNAME="trackwire", PASSWORD="ch-s3cret",
                   CA_FILE=str(pki.ca_pem))
    _connect(settings)
    assert requests, "no request reached the server: the TLS handshake failed"
    headers = {k.lower(): v for k, v in requests[0].items()}
    sent = headers.get("authorization", "")
    assert sent.startswith("Basic ") and base64.b64decode(sent[6:]).decode() == "trackwire:ch-s3cret"


def test_without_the_ca_file_the_private_ca_is_not_trusted(env, https_stand_in):
    port, requests = https_stand_in
    why = _connect(env(URL=f"https://127.0.0.1:{port}/trackwire", USERNAME="trackwire", PASSWORD="ch-s3cret"))
    assert "CERTIFICATE_VERIFY_FAILED" in why
    assert requests == []  # the password never left the client


def test_another_ca_file_is_not_trusted_either(env, pki, https_stand_in):
    port, requests = https_stand_in
    why = _connect(env(URL=f"https://127.0.0.1:{port}/trackwire", USERNAME="u", PASSWORD="p",
                       CA_FILE=str(pki.other_ca_pem)))
    assert "CERTIFICATE_VERIFY_FAILED" in why and requests == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_off_connects_without_checking_the_certificate(env, https_stand_in):
    port, requests = https_stand_in
    _connect(env(URL=f"https://127.0.0.1:{port}/trackwire", USERNAME="u", PASSWORD="p", VERIFY="false"))
    assert len(requests) >= 1


def test_a_bad_url_is_reported_without_its_password(env):
    with pytest.raises(ConfigError) as caught:
        env(URL="ftp://bob:url-s3cret@ch.example/x")
    message = str(caught.value.code)
    assert "the scheme must be chdb, http or https" in message and "(got 'ftp://bob:***@ch.example/x')" in message
    assert "url-s3cret" not in message
