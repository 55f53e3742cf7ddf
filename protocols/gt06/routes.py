"""The dispatch table: one `Route` (message type, decoder, reply rule) per protocol number, and the
`decode` / `identify` entry points built on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from protocols.base import Decoded, Identified, Malformed, Session
from protocols.gt06.envelope import SHORT, STOP, Packet, ack, open_packet
from protocols.gt06.fields import (
    part_cell,
    part_cell_4g,
    part_cell_cid4,
    part_cell_sl4x,
    part_cell_wide,
    part_counted_cells,
    part_gps,
    part_ibutton,
    part_ignition_power_battery,
    part_lbs_8,
    part_lw4g,
    part_multi_cell,
    part_rfid_card,
    part_sl4x_gps_lbs_5,
    part_status,
    part_trx16i,
    part_wifi_list,
    part_x1,
    with_lbs_length,
)
from protocols.gt06.messages import (
    Context,
    Decoder,
    alarm_seeworld,
    alarm_standard,
    alarm_vxt01,
    by_length,
    decode_heartbeat_4g,
    decode_info,
    decode_legacy_heartbeat,
    decode_legacy_login,
    decode_legacy_wifi,
    decode_login,
    decode_status,
    decode_status_modules,
    decode_status_seeworld,
    decode_string,
    decode_string_info,
    decode_time_request,
    gps_lbs,
    lbs_multi,
    location,
    read_login_imei,
    wifi_lbs_4g,
)
from protocols.gt06.variants import (
    decode_0x32,
    decode_az735,
    decode_dashcam_alarm,
    decode_device_status,
    decode_lbs_address,
    decode_modular,
    decode_obd,
    decode_peripheral,
    decode_serial_data,
    decode_wifi_binary_time,
)


# --------------------------------------------------------------------------------------------
# Replies: what the device expects back, one rule per table row
# --------------------------------------------------------------------------------------------
# The Concox document asks acks (protocol number + serial) for login, heartbeat, alarm and time
# packets; Traccar acks every location packet the same way, devices of the family accept that and
# 365GPS firmware requires it, so we do as Traccar. Silent: information (0x94), command answers
# (0x21), address requests (the answer would be an address text the device forwards by SMS), and the
# types Traccar leaves unanswered (0x34, 0x8C, 0x9B, 0xF3). A reply depends on the envelope only,
# never on the content, so `identify` gives it without decoding.

Reply = Callable[[Packet, datetime], bytes | None]


def reply_ack(packet: Packet, now: datetime) -> bytes:
    return ack(packet)


def reply_none(packet: Packet, now: datetime) -> None:
    return None


def reply_time(packet: Packet, now: datetime) -> bytes:
    """0x8A: UTC yy mm dd hh mm ss (document example), with the request's serial."""
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc)
    return ack(packet, content=bytes([now.year - 2000, now.month, now.day, now.hour, now.minute, now.second]))


def reply_legacy_wifi(packet: Packet, now: datetime) -> bytes:
    """365GPS 0x69/0x17, as Traccar answers: 78 78 00 <protocol> <the frame's BCD time 6> 0D 0A."""
    if len(packet.content) < 6:
        raise Malformed(f"365GPS 0x{packet.protocol:02x} of {len(packet.content)} content bytes has no time")
    return SHORT + bytes([0, packet.protocol]) + packet.content[:6] + STOP


@dataclass(frozen=True, slots=True)
class Route:
    message_type: str
    decoder: Decoder
    reply: Reply = reply_ack
    types_by_length: dict[int, str] | None = None  # variants of another kind (a 0xA3 status, a 0x36 fix)

    def message_type_of(self, packet: Packet) -> str:
        return (self.types_by_length or {}).get(packet.length_byte, self.message_type)


# protocol number -> route, for packets with serial and CRC
DECODERS: dict[int, Route] = {
    0x01: Route("login", decode_login),
    0x10: Route("gps", location(part_gps)),
    0x11: Route("gps_lbs", location(part_gps, part_cell_wide)),
    0x12: Route("gps_lbs", gps_lbs),
    0x13: Route("status", decode_status),
    0x15: Route("command_result", decode_string),
    0x16: Route("alarm", by_length("0x16", {0x24: alarm_vxt01, 0x26: alarm_seeworld}, alarm_standard)),
    0x17: Route("gps_lbs", by_length("0x17", {0x28: location(part_gps, part_cell, part_rfid_card)}, None)),
    0x18: Route("lbs_multi", lbs_multi),
    0x19: Route("lbs_alarm", location(part_cell, part_status)),  # longer: SPACE10X multi-cell, see below
    0x1A: Route("address_request", location(part_gps), reply_none),
    0x1E: Route("gps", location(part_gps)),  # JI09: GPS, then cells in a layout nobody documents
    0x21: Route("command_result", decode_string_info, reply_none),
    0x22: Route("gps_lbs", gps_lbs),
    0x23: Route("heartbeat", decode_heartbeat_4g),
    0x24: Route("lbs_multi", by_length("0x24", {0x31: location(part_counted_cells),
                                               0x2E: location(part_gps, part_cell, part_ignition_power_battery)},
                                       lbs_multi), types_by_length={0x2E: "gps_lbs"}),
    0x26: Route("alarm", alarm_standard),
    0x27: Route("alarm", alarm_standard),  # + geofence number, ignored
    0x28: Route("lbs_multi", lbs_multi),
    0x2A: Route("address_request", location(part_gps), reply_none),
    0x2C: Route("wifi_lbs", location(part_multi_cell((2, 3)), part_wifi_list)),
    0x2D: Route("gps_lbs", gps_lbs),
    0x2E: Route("lbs_multi", lbs_multi),
    0x31: Route("gps_lbs", by_length("0x31", {0x2A: location(part_gps, part_cell_sl4x, part_sl4x_gps_lbs_5)}, None)),
    0x32: Route("gps_lbs", decode_0x32),
    0x33: Route("alarm", decode_az735(alarm=True)),
    0x34: Route("gps_lbs", location(part_x1), reply_none),
    0x36: Route("status", by_length("0x36", {0x35: location(part_gps, part_cell_cid4, part_trx16i)},
                                    decode_status_modules), types_by_length={0x35: "gps_lbs"}),
    0x37: Route("gps_lbs", gps_lbs),
    0x38: Route("gps_lbs", location(part_gps, part_lbs_8)),
    0x61: Route("gps_lbs", location(part_ibutton)),
    0x70: Route("gps_modular", decode_modular),
    0x8A: Route("time_request", decode_time_request, reply_time),
    0x8C: Route("obd", decode_obd, reply_none),
    0x94: Route("info", decode_info, reply_none),
    0x95: Route("alarm", decode_dashcam_alarm),
    0x9B: Route("serial_data", decode_serial_data, reply_none),
    0xA0: Route("gps_lbs", location(part_gps, part_cell_4g)),
    0xA1: Route("lbs_multi", location(part_multi_cell((4, 8)))),
    0xA2: Route("wifi_lbs", by_length("0xA2", {0x40: location(part_gps, part_cell_4g, part_lw4g)}, wifi_lbs_4g),
                types_by_length={0x40: "gps_lbs"}),
    0xA3: Route("alarm", by_length("0xA3", {0x0C: decode_status_seeworld, 0x18: decode_status_seeworld},
                                   location(part_gps, with_lbs_length(part_cell_4g, trust_length=False),
                                            part_status)), types_by_length={0x0C: "status", 0x18: "status"}),
    0xA4: Route("alarm", location(part_gps, with_lbs_length(part_cell_4g), part_status)),  # + fence number
    0xA5: Route("lbs_alarm", location(part_cell_4g, part_status)),
    0xA7: Route("address_request", decode_lbs_address, reply_none),
    0xF1: Route("device_status", decode_device_status),
    0xF2: Route("peripheral", decode_peripheral),
    0xF3: Route("wifi", decode_wifi_binary_time, reply_none),
}

# protocol number -> route, for 365GPS frames without serial/CRC
LEGACY_DECODERS: dict[int, Route] = {
    0x01: Route("login", decode_legacy_login),
    0x08: Route("heartbeat", decode_legacy_heartbeat, reply_none),
    0x10: Route("gps", location(part_gps)),  # online GPS block only; acked as Traccar does (serial 0)
    0x11: Route("gps", location(part_gps)),  # offline
    0x17: Route("wifi_lbs", decode_legacy_wifi, reply_legacy_wifi),
    0x69: Route("wifi_lbs", decode_legacy_wifi, reply_legacy_wifi),
}

_SPACE10X_LENGTH = 0x13  # a longer 0x19 is SPACE10X's multi-cell form: its layout is not published

# Sent by the server, or echoes of what it sent: never acked (Traccar MSG_COMMAND_0..2).
_NO_ACK = frozenset({0x80, 0x81, 0x82})


def route_of(packet: Packet) -> Route:
    """The table row for a packet; Malformed (with the ack Traccar sends, see `unsupported`) otherwise."""
    table = DECODERS if packet.serial is not None else LEGACY_DECODERS
    route = table.get(packet.protocol)
    if route is None:
        raise Unsupported(packet)
    if packet.protocol == 0x19 and packet.serial is not None and packet.length_byte > _SPACE10X_LENGTH:
        raise Unsupported(packet, "0x19 multi-cell variant (SPACE10X) is not supported: no published layout")
    return route


class Unsupported(Malformed):
    """A valid packet of a type we do not decode; a 78 78 one is still acked, as Traccar does, so the
    device goes on."""

    def __init__(self, packet: Packet, reason: str | None = None) -> None:
        kind = "" if packet.serial is not None else " (unframed 365GPS form)"
        super().__init__(reason or f"unsupported GT06 protocol number 0x{packet.protocol:02x}{kind}")
        known_shape = packet.serial is not None and not packet.long
        self.reply = ack(packet) if known_shape and packet.protocol not in _NO_ACK else None
        self.message_type = f"0x{packet.protocol:02x}"


def decode(frame: bytes, session: Session, now: datetime) -> Decoded:
    """Records and reply for one frame. Bad device input is detected explicitly and raised as
    Malformed; `Gt06Codec.decode` returns it as `Decoded.error`. A valid packet of an unknown type is
    an error that still carries its ack."""
    packet = open_packet(frame)
    try:
        route = route_of(packet)
    except Unsupported as exc:
        return Decoded(reply=exc.reply, device_id=session.device_id, message_type=exc.message_type, error=str(exc),
                       sequence=packet.serial)
    records = route.decoder(Context(packet, session, now))
    return Decoded(records=records, reply=route.reply(packet, now), device_id=session.device_id,
                   message_type=route.message_type_of(packet), sequence=packet.serial)


def identify(frame: bytes, session: Session, now: datetime) -> Identified:
    """Device id, reply and message type from the envelope alone (the listener's hot path). Agrees with
    `decode` on every frame whose content decodes; a CRC-valid frame with unreadable content is acked
    here and dead-lettered by `decode`."""
    packet = open_packet(frame)
    try:
        route = route_of(packet)
    except Unsupported as exc:
        return Identified(reply=exc.reply, device_id=session.device_id, message_type=exc.message_type, error=str(exc),
                          sequence=packet.serial)
    if packet.protocol == 0x01:
        session.device_id = read_login_imei(packet)
    return Identified(device_id=session.device_id, reply=route.reply(packet, now),
                      message_type=route.message_type_of(packet), sequence=packet.serial)
