"""A phone running Traccar Client: HTTP/1.1 requests on one keep-alive connection, each answered 200.

It alternates the two forms the apps send (see tests/protocols/frames_osmand.py for the sources):
Traccar Client for Android's POST with the report in the query (speed in knots, `alarm=sos` for SOS)
and Traccar Client 9's JSON body (speed in m/s, SOS as `extras.alarm`). The requests are built and
the answers read with h11's client side; a request left unanswered is sent again by the run loop.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import h11

from protocols.osmand_report import KNOTS_TO_KMH, MPS_TO_KMH
from simulator.frames import Fix
from simulator.profiles.base import DeviceProfile, Outgoing

HOST = "trackwire"
USER_AGENT = "trackwire-simulator (Traccar Client protocol)"


def query_request(device_id: str, fix: Fix, *, sos: bool = False) -> tuple[h11.Connection, bytes]:
    """Traccar Client for Android: `POST /?id&timestamp&lat&lon&speed&bearing&altitude&accuracy&batt`."""
    params = {
        "id": device_id,
        "timestamp": str(int(fix.time.timestamp())),
        "lat": repr(fix.lat),
        "lon": repr(fix.lon),
        "speed": f"{fix.speed_kmh / KNOTS_TO_KMH:.6f}",
        "bearing": repr(fix.course_deg),
        "altitude": "0.0",
        "accuracy": "0.0",
        "batt": f"{fix.battery_pct:.1f}",
    }
    if sos:
        params["alarm"] = "sos"
    return _request("POST", "/?" + urlencode(params), b"", [])


def json_request(device_id: str, fix: Fix, *, sos: bool = False) -> tuple[h11.Connection, bytes]:
    """Traccar Client 9: `POST /` with the background-geolocation SDK's location as JSON."""
    location = {
        "timestamp": fix.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{fix.time.microsecond // 1000:03d}Z",
        "coords": {"latitude": fix.lat, "longitude": fix.lon, "accuracy": 5, "speed": fix.speed_kmh / MPS_TO_KMH,
                   "heading": fix.course_deg, "altitude": 0},
        "is_moving": fix.speed_kmh > 0,
        "odometer": 0,
        "event": "getCurrentPosition" if sos else "motionchange",
        "battery": {"level": fix.battery_pct / 100, "is_charging": False},
        "activity": {"type": "still"},
        "extras": {"alarm": "sos"} if sos else {},
    }
    body = json.dumps({"location": location, "device_id": device_id}, separators=(",", ":")).encode()
    return _request("POST", "/", body, [("Content-Type", "application/json")])


def _request(method: str, target: str, body: bytes, headers: list[tuple[str, str]]) -> tuple[h11.Connection, bytes]:
    http = h11.Connection(h11.CLIENT)
    head = [("Host", HOST), ("User-Agent", USER_AGENT), *headers, ("Content-Length", str(len(body)))]
    data = http.send(h11.Request(method=method, target=target, headers=head))
    if body:
        data += http.send(h11.Data(data=body))
    data += http.send(h11.EndOfMessage())
    return http, data


async def read_response(http: h11.Connection, reader: asyncio.StreamReader) -> h11.Response:
    """One whole response for the request `http` sent; ConnectionError unless it is a 200."""
    response: h11.Response | None = None
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            # The head up to its blank line, then the body by its length: never read past this response.
            if response is None:
                http.receive_data(await reader.readuntil(b"\r\n\r\n"))
            else:
                length = dict(response.headers).get(b"content-length")
                if length is None:
                    raise ConnectionError("response without Content-Length (Traccar-style servers send one)")
                http.receive_data(await reader.readexactly(int(length)))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            if response.status_code != 200:
                raise ConnectionError(f"server answered {response.status_code} {response.reason.decode()}")
            return response
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("server closed the connection")


class OsmandDevice(DeviceProfile):
    protocol = "osmand"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._http: h11.Connection | None = None  # the HTTP state of the request awaiting its answer

    def make_device_id(self, index: int) -> str:
        return f"{48000000 + index:08d}"  # Traccar Client 9 makes up an 8-digit id

    def hello(self) -> list[Outgoing]:
        return []  # every request carries the device id: nothing to send first

    def report(self, sos: bool) -> Outgoing:
        build = json_request if self.next_serial() % 2 == 0 else query_request
        self._http, data = build(self.device_id, self.next_fix(), sos=sos)
        return Outgoing(data, True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        if self._http is None:
            raise AssertionError("no request is waiting for an answer")
        response = await read_response(self._http, reader)
        return b"HTTP/1.1 %d" % response.status_code
