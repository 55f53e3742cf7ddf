"""Sample GOTOP frames, each with where it comes from.

Sources:
- TRACCAR: traccar/traccar src/test/java/org/traccar/protocol/GotopProtocolDecoderTest.java
  (current version, 2024, as mirrored in sushantjagtap5543/track at commit c1e2befd). Traccar's
  `CharacterDelimiterFrameDecoder(1024, '#')` strips the `#`s, so these frames have none.
- NODE: a public Node.js GOTOP server's vows test suite "gotop-up-message-tests" (parser tests with
  `#...#` frames, expected values for CMD-T; found through the code index, repository name not shown).
- FIRMWARE: the example in a GOTOP-protocol tracker firmware (TOPLOVO TL403, C source with
  `Send_Msg_To_Platform`), comment `示例：#867273021518134,CMD-T,...#`.
- NAVTRACK: navtrack's Navtrack.Listener.Tests/Protocols/Gotop tests (`#...#` wrapped).
"""

# --- Traccar GotopProtocolDecoderTest (no '#') ---------------------------------------------

TRACCAR_CMD_T_LTE = (
    b"867648044456745,CMD-T,A,DATE:240813,TIME:235937,LAT:02.9930825N,LON:101.5746188E,"
    b"Speed:000.0,095-70,59.5,00.90,502~16~513770~421~3150~-98~-9~-68~6,3150~421~-10~-98~-67~-20,>"
)
TRACCAR_CMD_T_NO_PREFIX_CELL = (
    b"012896001901633,CMD-T,A,130104,175950,24.0234233S,029.4691133E,Speed:001.8,90-24,1.3,10,10,"
    b"65501-0371-170D,12,1-1,00.00"
)
TRACCAR_CMD_T_NO_PREFIX = (
    b"012896001901633,CMD-T,A,130104,175950,24.0234233S,029.4691133E,Speed:001.8,90-24,1.3,00.00"
)
TRACCAR_ALM_B1_1 = (
    b"867688033841044,ALM-B1-1,A,DATE:190622,TIME:144956,LAT:22.7193976N,LON:114.3878200E,"
    b"Speed:000.1,100-22,03.72"
)
TRACCAR_CMD_KEY = (
    b"860264050778076,CMD-KEY,V,DATE:220516,TIME:090224,LAT:48.7592616N,LON:003.4658121W,"
    b"Speed:000.0,057-21,01.60"
)
TRACCAR_CMD_T_WIFI_BLE = (
    b"860264050778076,CMD-T,A,DATE:220516,TIME:100627,LAT:48.7636978N,LON:003.4652398W,"
    b"Speed:051.4,077-24,01.00,WIFI:{84-a0-6e-94-42-5e&-47,b2-22-7a-56-5a-2a&-48,"
    b"b4-b0-24-09-91-d4&-76,18-3c-b7-1f-da-67&-83,08-86-3b-94-78-44&-85,40-24-b2-c5-0f-5e&-87,"
    b"b0-e5-ed-4e-06-61&-87,60-1d-9d-a6-d2-5d&-88,14-eb-b6-a5-55-8c&-88,40-18-b1-d7-28-54&-88},"
    b"BLE:{1f-cf-4d-3c-61-bf&-91,39-82-d0-ba-34-69&-57,df-3a-31-ac-ad-72&-73,"
    b"7c-d9-f4-11-0b-a0&-78,03-b5-9f-45-bd-0d&-88}"
)
TRACCAR_CMD_X = b"353327020412763,CMD-X"
TRACCAR_ALM_D1 = (
    b"867688038677542,ALM-D1,V,DATE:190709,TIME:185214,LAT:50.0422838N,LON:014.4504646E,"
    b"Speed:004.3,081-20,05.68"
)
TRACCAR_CMD_T_CELL = (
    b"013226009991924,CMD-T,A,DATE:130802,TIME:153721,LAT:25.9757433S,LOT:028.1087816E,"
    b"Speed:000.0,X-X-X-X-81-26,000,65501-00A0-4B8E"
)
TRACCAR_CMD_T_GPS101 = (
    b"353327020115804,CMD-T,A,DATE:090329,TIME:223252,LAT:22.7634066N,LOT:114.3964783E,"
    b"Speed:000.0,84-20,000"
)
TRACCAR_CMD_T_GPS101_FLAGS = (
    b"353327020115804,CMD-T,A,DATE:090329,TIME:223252,LAT:22.7634066N,LOT:114.3964783E,"
    b"Speed:000.0,1-1-0-84-20,000"
)
TRACCAR_CMD_F_V = (
    b"353327020412763,CMD-F,V,DATE:140125,TIME:183636,LAT:51.6384466N,LOT:000.2863866E,"
    b"Speed:000.0,61-19,"
)
TRACCAR_CMD_F_A = (
    b"013949008891817,CMD-F,A,DATE:150225,TIME:175441,LAT:50.000000N,LOT:008.000000E,"
    b"Speed:085.9,0-0-0-0-52-31,000,26201-1073-1DF5"
)

# --- Node.js GOTOP server tests ('#...#' as sent) -----------------------------------------

NODE_CMD_T = (
    b"#861785001515349,CMD-T,V,DATE:120903,TIME:160649,LAT:59.9326566N,LOT:010.7875033E,"
    b"Speed:005.5,X-X-X-X-49-5,000,24202-0ED9-D93B#"
)
NODE_CMD_X = b"#861785001515349,CMD-X#"
NODE_ALM_A = (
    b"#861785001515349,ALM-A,V,DATE:120903,TIME:160649,LAT:59.9326566N,LOT:010.7875033E,"
    b"Speed:005.5,X-X-X-X-82-10,000,24202-0324-0E26#"
)
NODE_CMD_T_GPS101 = (
    b"#353327020115804,CMD-T,A,DATE:090329,TIME:223252,LAT:22.7634066N,LOT:114.3964783E,"
    b"Speed:000.0,84-20,#"
)
NODE_ERROR = (
    b"#012896001890042, ERROR!,V,DATE:121107,TIME:210208,LAT:59.9323966N,LOT:010.7906316E,"
    b"Speed:000.0,X-X-X-X-67-21,000,24202-0EDD-D9EF#"
)
NODE_CMD_A1 = (
    b"#012896001890042,CMD-A1,V,DATE:121107,TIME:211022,LAT:59.9322950N,LOT:010.7906583E,"
    b"Speed:000.0,X-X-X-X-67-21,000,24202-0EDD-D9EF#"
)
NODE_CMD_F = (
    b"#012896001890042,CMD-F,A,DATE:121107,TIME:211352,LAT:59.9322983N,LOT:010.7906366E,"
    b"Speed:000.0,X-X-X-X-67-21,000,24202-0EDD-D9EF#"
)
NODE_CMD_M = (
    b"#012896001890042,CMD-M,V,DATE:121107,TIME:213410,LAT:59.9323683N,LOT:010.7907400E,"
    b"Speed:000.0,X-X-X-X-66-21,000,24202-0EDD-D9EF#"
)
NODE_CMD_U1 = (
    b"#012896001890042,CMD-U1,A,DATE:121107,TIME:215241,LAT:59.9323933N,LOT:010.7907500E,"
    b"Speed:000.0,X-X-X-X-73-21,000,24202-0EDD-D9EF#"
)
NODE_CMD_L = (
    b"#012896001890042,CMD-L,A,DATE:121107,TIME:221314,LAT:59.9323000N,LOT:010.7908633E,"
    b"Speed:000.0,X-X-X-X-72-22,000,24202-0EDD-D9EF#"
)
# The suite's MULTIPLE_CMD: CMD_X + CMD_A1 + CMD_F in one read.
NODE_MULTIPLE = NODE_CMD_X + NODE_CMD_A1 + NODE_CMD_F

# --- Firmware example ---------------------------------------------------------------------

FIRMWARE_CMD_T = (
    b"#867273021518134,CMD-T,A,DATE:160113,TIME:140709,LAT:22.7613506N,LOT:114.3610382E,"
    b"Speed:000.3,X-0-1-100-26,000,46000-262D-FF86#"
)

# --- navtrack -----------------------------------------------------------------------------

NAVTRACK_CMD_T = (
    b"#353327020115804,CMD-T,A,DATE:090329,TIME:223252,LAT:22.7634066N,LOT:114.3964783E,"
    b"Speed:000.0,1-1-0-84-20,000#"
)

ALL_FRAMES: dict[str, bytes] = {
    name: value for name, value in globals().items()
    if name.isupper() and isinstance(value, bytes) and name != "NODE_MULTIPLE"
}

# --- The conformance convention (tests/protocols/test_conformance.py) ------------------------


def _wrapped(frame: bytes) -> bytes:
    """Traccar's test frames had their `#`s stripped by its frame decoder; devices send `#...#`."""
    return b"#" + frame + b"#"


_SOURCES = {"TRACCAR": "TRACCAR (re-wrapped in '#')", "NODE": "NODE", "FIRMWARE": "FIRMWARE", "NAVTRACK": "NAVTRACK"}

# Every frame above, whole as the device sends it over TCP.
SAMPLES: list[tuple[str, bytes]] = [
    (f"{name.split('_', 1)[1].lower()}, {_SOURCES[name.split('_', 1)[0]]}",
     _wrapped(frame) if name.startswith("TRACCAR_") else frame)
    for name, frame in ALL_FRAMES.items()
]
# The same frames, one per datagram (constructed: GOTOP firmware speaks TCP; the listener's UDP path
# accepts the same bytes).
UDP_SAMPLES: list[tuple[str, bytes]] = [
    ("cmd-t, NODE frame as one datagram (constructed)", NODE_CMD_T),
    ("cmd-x, NODE frame as one datagram (constructed)", NODE_CMD_X),
    ("three frames, NODE MULTIPLE_CMD as one datagram (constructed)", NODE_MULTIPLE),
]
# Frames that frame correctly but must decode to an error (constructed from FIRMWARE_CMD_T).
MALFORMED: list[tuple[str, bytes]] = [
    ("unknown message type", b"#867273021518134,XYZ-T,A#"),
    ("latitude hemisphere X", FIRMWARE_CMD_T.replace(b"22.7613506N", b"22.7613506X")),
    ("latitude 95", FIRMWARE_CMD_T.replace(b"22.7613506N", b"95.7613506N")),
    ("month 13", FIRMWARE_CMD_T.replace(b"DATE:160113", b"DATE:161313")),
    ("speed not a number", FIRMWARE_CMD_T.replace(b"Speed:000.3", b"Speed:fast")),
    ("truncated fix", b"#867273021518134,CMD-T,A,DATE:160113,TIME:140709#"),
    ("position report without a fix", b"#867273021518134,CMD-T#"),
    ("not ASCII", FIRMWARE_CMD_T.replace(b"X-0-1", b"\xff-0-1")),
    ("bad wifi MAC", FIRMWARE_CMD_T.replace(b",000,", b",WIFI:{zz-a0-6e-94-42-5e&-47},")),
]
