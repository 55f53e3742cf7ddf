"""Sample JT/T 808 frames, each with where it comes from (conformance convention: SAMPLES, UDP_SAMPLES,
PREAMBLE, MALFORMED).

Sources:
- TRACCAR: traccar/traccar src/test/java/org/traccar/protocol/Jt808ProtocolDecoderTest.java (Traccar
  renamed its "huabao" protocol to jt808; HuabaoProtocolDecoderTest is the same file's old name),
  commit 9e5c458ad0bf44ceaddf72534bf6874787f41b6c. `#n` is the frame's position in that file (0-based).
  Jt808FrameDecoderTest / Jt808FrameEncoderTest (same commit) give the escaping example, which is
  also the JT/T 808 standard's own example (G10LS_Protocol.md 1.4.2: 30 7e 08 7d 55).
- STANDARD: frames we had to construct, per JT/T 808-2013 / 2019 (layouts as transcribed in
  AIPorto/GPS-Tracker-SDK G10LS_Protocol.md, commit 2b393637): the authentication frames carry the
  code this server issues, which no public capture can have.
navtrack/navtrack has no JT/T 808 decoder or tests (checked at commit 6c69be40), so none come from there.

The reference helpers below (XOR check code, escaping, the HMAC code) are written independently of
protocols/jt808.py so the tests compare the codec against them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from protocols.base import DEFAULT_CONTEXT


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --- reference implementation of the envelope (JT/T 808-2013 4.4.3 / 4.4.4) -------------------

def ref_xor(data: bytes) -> int:
    code = 0
    for byte in data:
        code ^= byte
    return code


def ref_escape(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        out += {0x7E: b"\x7d\x02", 0x7D: b"\x7d\x01"}.get(byte, bytes([byte]))
    return bytes(out)


def ref_frame(msg_id: int, phone: bytes, serial: int, body: bytes, version: int | None = None) -> bytes:
    attributes = len(body) | (0x4000 if version is not None else 0)
    head = msg_id.to_bytes(2, "big") + attributes.to_bytes(2, "big") + (bytes([version]) if version is not None else b"")
    content = head + phone + serial.to_bytes(2, "big") + body
    return b"\x7e" + ref_escape(content + bytes([ref_xor(content)])) + b"\x7e"


def ref_code(phone_digits: str, key: bytes = DEFAULT_CONTEXT.auth_key) -> str:
    """The documented code: base32 of the first 10 bytes of HMAC-SHA256(key, id without leading zeros)."""
    device_id = phone_digits.lstrip("0") or "0"
    return base64.b32encode(hmac.new(key, device_id.encode(), hashlib.sha256).digest()[:10]).decode()


def ref_auth_2013(phone: bytes, serial: int = 1, key: bytes = DEFAULT_CONTEXT.auth_key) -> bytes:
    """STANDARD: 0x0102, 2013 body = the code."""
    return ref_frame(0x0102, phone, serial, ref_code(phone.hex(), key).encode())


def ref_auth_2019(phone: bytes, imei: str, software: str, serial: int = 1,
                  key: bytes = DEFAULT_CONTEXT.auth_key) -> bytes:
    """STANDARD: 0x0102, 2019 body = code length 1, code, IMEI 15, software version 20 (NUL padded)."""
    code = ref_code(phone.hex(), key).encode()
    body = bytes([len(code)]) + code + imei.encode().ljust(15, b"\0") + software.encode().ljust(20, b"\0")
    return ref_frame(0x0102, phone, serial, body, version=1)


# --- real frames (TRACCAR) -----------------------------------------------------------------------

REGISTER_2013 = h(
    "7E0100002D013511221122000500000000373031303748422D52303347424400000000000000000000003233363631303402"
    "CBD5424136383630387E")  # #83: model HB-R03GBD, plate 苏BA6860
REGISTER_2013_BSJ = h(
    "7e0100002d0141305678720024002c012f373031313142534a2d41362d424400000000000000000000003035363738373201"
    "d4c14238383838386d7e")  # #82: province 44 city 303, BSJ-A6-BD, plate 粤B88888
REGISTER_2011 = h(
    "7E01000021013345678906000F002C012F373031313142534A2D4D3742203030303030303001D4C1423838383838B47E"
)  # #54: 2011 body (8-byte model)
REGISTER_EMPTY = h("7e010000190940278494700012000000000000000000000000000000000000094027849470000a7e")  # #88
REGISTER_2019 = h(
    "7e0100405c010000086649607758216452180000000000000000000000000000004d44333030000000000000000000000000"
    "0000000000000000000000000038363634393630373735383231363400000000000000000000000000000004000000000000"
    "000000000000000000007a7e")  # #4: 2019 header (version 1, 10-byte phone), model MD300
HEARTBEAT = h("7e0002000004304832546500b7ca7e")  # #91
LOCATION_SOS = h(
    "7e0200002e094027587492000a000000010000000a03083db7001329f3000000140000130412164952010400000012360a00"
    "02341502cb0c20085c107e")  # #89: alarm bit 0
LOCATION_LOW_POWER = h(
    "7E020000480123456789010013000000800000000301597BC506CBFF6600EB00000155210726203531010400000000EB2400"
    "0C00B28986047701207027150200060089FFFFEFFF0004002D0E10000600C5FFFFFFEF697E")  # #55: alarm bit 7
LOCATION_REMOVAL = h(
    "7e02000033421030000018004c000200000004000201556dcb06c4d41d000c00f100fc210118095853010400000000fe0140"
    "ff0c01cc000000002694000055d87a7e")  # #61: alarm bit 17 (Traccar: tampering)
LOCATION_POWER_CUT = h(
    "7e020000460100503769640002000001000000001a01b9eaf804d8ee86001800000000240507035152010400000000300100"
    "310107eb1c00060089fffffffe000400ce0000000c00b28942310221007544309f5f7e")  # #30: alarm bit 8, west
LOCATION_PLAIN = h(
    "7e020000220014012499170007000000000000400e012af16f02cbd2ba000000000000150101194257010400000077a97e"
)  # #90
LOCATION_IO = h(
    "7e0200002c00160128561400020000000000040001005de1f7065c6cef00000000000017011710044201040000a9002a0200"
    "0030011b3101030c7e")  # #80: items 0x01, 0x2A, 0x30, 0x31
LOCATION_ESCAPED = h(
    "7E020000830191715904370A2E00000000800000030158991806CA0FEB00040000010D21110819405001040000000"
    "3CC14383938363034373831303230373033313836303830011A8001AA810213888202007A8301148401AA8502189B8601338702"
    "007D028801338901148A0200998B1131323334353637383941424344454647488C04000200A88D0200828E0114A0002E7E"
)  # #57: an escaped 7E (7D 02) inside item 0x87
LOCATION_TAIL = h(
    "7e0200002e202000129707001c0000000000001c0601a2f0a8091f0bf00000000000ed20110303173300000000000000000078"
    "0000000018000000267e")  # #63: bytes after the items that are not id/length/value
BATCH_2019 = h(
    "7e0704402d0100000866496077582164881d0001000028000000000000000701a00192091f2a470016000000022605091642"
    "2701040000258230010031010e507e")  # #5: 2019 header, one item
BATCH_BLIND = h(
    "7E0704014301356777777707F5000801002600000000000000030159741206CBFD5001720000000116052709062401040000"
    "001D03020000002600000000000000030159746606CBFD50016B0000000116052709065301040000001D030200000026000000"
    "0000000003015975E406CBFE58013F0000000116052709072701040000001D0302000000260000000000000003015976DE06CB"
    "FF10012E0000000116052709075601040000001D0302000000260000000000000003015976BC06CBFED0012D00000001160527"
    "09083001040000001D0302000000260000000000000003015976FE06CBFEC001080000000116052709090001040000001D0302"
    "000000260000000000000003015976FE06CBFE7800FC0000000116052709093301040000001D03020000002600000000000000"
    "03015977A606CBFF3001080000000116052709100201040000001D030200001F7E")  # #76: 8 blind-area items
BATCH_2013 = h(
    "7e070400510144503762020002000101004c00040100000800030202301006f893e8001d00000095260817221812140400"
    "000000170200000104000036c9030200002504000000002a02000030011f31010eea04020c8300ef0400000000037e"
)  # #0: one item, Traccar expects 14 satellites

# Real authentication frames carrying codes other platforms issued: wrong codes here.
AUTH_FOREIGN_CODE = h("7E0102000E013511221122000661757468656E7469636174696F6E3F7E")  # #85: "authentication"
AUTH_FOREIGN_DIGITS = h("7E010200100940278494700084323031313131303831313333323139369F7E")  # #87
AUTH_FOREIGN_HEX_PHONE = h(
    "7e010200204f07788ef67601824f4459344f544d314d4459774d4441314d444977626d5633553235536457786cba7e"
)  # #37: phone bytes that are not BCD
WRONG_CODE = [AUTH_FOREIGN_CODE, AUTH_FOREIGN_DIGITS, AUTH_FOREIGN_HEX_PHONE]

# #86, the location that follows #85 in Traccar's file: its length field says 50 bytes but 40 follow
# (Traccar's copy is cut), so it is MALFORMED here.
_LOCATION_86 = h(
    "7E02000032013511221122000700000000000C000301578CC006CA3A5C00470000000014072317201501040000000030011631"
    "010BD07E")

# Escaping example (TRACCAR Jt808FrameDecoderTest / Jt808FrameEncoderTest; the standard's example)
ESCAPED = h("7e307d02087d01557e")
UNESCAPED = h("7e307e087d557e")

PHONE_13511221122 = h("013511221122")
PHONE_2019 = h("00000866496077582164")

# Constructed per the standard with this server's code (STANDARD)
AUTH_2013 = ref_auth_2013(PHONE_13511221122, serial=6)
AUTH_2019 = ref_auth_2019(PHONE_2019, "866496077582164", "MD300-V1.0", serial=0x5219)
# The body of LOCATION_SOS (#89) sent by the terminal of REGISTER_2013 (constructed from TRACCAR)
LOCATION_13511221122 = ref_frame(0x0200, PHONE_13511221122, 7, LOCATION_SOS[13:-2])

SAMPLES: list[tuple[str, bytes]] = [
    ("register 2013, TRACCAR", REGISTER_2013),
    ("register 2013 BSJ, TRACCAR", REGISTER_2013_BSJ),
    ("register 2011 body, TRACCAR", REGISTER_2011),
    ("register empty fields, TRACCAR", REGISTER_EMPTY),
    ("register 2019, TRACCAR", REGISTER_2019),
    ("authenticate 2013, STANDARD", AUTH_2013),
    ("authenticate 2019, STANDARD", AUTH_2019),
    ("heartbeat, TRACCAR", HEARTBEAT),
    ("location SOS, TRACCAR", LOCATION_SOS),
    ("location low power, TRACCAR", LOCATION_LOW_POWER),
    ("location removal, TRACCAR", LOCATION_REMOVAL),
    ("location power cut, TRACCAR", LOCATION_POWER_CUT),
    ("location plain, TRACCAR", LOCATION_PLAIN),
    ("location io items, TRACCAR", LOCATION_IO),
    ("location escaped byte, TRACCAR", LOCATION_ESCAPED),
    ("location vendor tail, TRACCAR", LOCATION_TAIL),
    ("batch 2019, TRACCAR", BATCH_2019),
    ("batch blind area, TRACCAR", BATCH_BLIND),
    ("batch 2013, TRACCAR", BATCH_2013),
]

UDP_SAMPLES: list[tuple[str, bytes]] = [
    ("heartbeat, TRACCAR", HEARTBEAT),
    ("location SOS, TRACCAR", LOCATION_SOS),
    ("batch 2019, TRACCAR", BATCH_2019),
    ("register 2013, TRACCAR", REGISTER_2013),
]


def _phones() -> list[tuple[bytes, int | None]]:
    """(phone bytes, 2019 version or None) of every sample's sender, read from its header."""
    seen: list[tuple[bytes, int | None]] = []
    for _, frame in SAMPLES:
        raw = frame[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
        v2019 = bool(raw[2] & 0x40)
        phone = raw[5:15] if v2019 else raw[4:10]
        entry = (phone, 1 if v2019 else None)
        if entry not in seen:
            seen.append(entry)
    return seen


# STANDARD: every sample's terminal authenticates first with the right code (the registration
# answer would have given it); 2013 headers get the 2013 body, the 2019 terminal the 2019 one.
PREAMBLE: list[bytes] = [
    ref_auth_2019(phone, "866496077582164", "MD300-V1.0") if version else ref_auth_2013(phone)
    for phone, version in _phones()
]

MALFORMED: list[tuple[str, bytes]] = [
    ("location, length field 50 for a 40-byte body, TRACCAR #86", _LOCATION_86),
    ("location JC371, check code off by one, TRACCAR #104", h(
        "7E020000344EB6FB4AD6280001000000000000000301587D0106CBFF6600000000000026010112000001040000007B300118"
        "31010AE80A2003070105019F030190657E")),
    ("0x5501 vendor frame, length field 65 for 64 bytes, TRACCAR #32", h(
        "7e55018c418560090010174701022106242122348476113550490700001c06000000074e0000000000000308100000100102"
        "020200000a030000000b0803363839363037650c0600000001000afa7e")),
    ("0x0900 with escape 7D 00, TRACCAR #45", h(
        "7e0900001f4f07788ef87d000cf0230223150215010203013800000c000b029dc58c04b99b60230223171822507e")),
    ("location with a 10-byte body (28 needed), constructed per STANDARD",
     ref_frame(0x0200, PHONE_13511221122, 9, bytes(10))),
]
