"""Sample H02 frames, each with where it comes from.

Sources:
- TRACCAR: traccar/traccar src/test/java/org/traccar/protocol/H02ProtocolDecoderTest.java at commit
  9e5c458ad0bf44ceaddf72534bf6874787f41b6c (frames as real devices sent them to Traccar users;
  text frames keep their `*...#`, binary ones are the `binary(...)` hex).
- TRACCAR_FRAMER: the same commit, H02FrameDecoderTest.java (stream input, e.g. a text frame
  followed by CR LF, a binary frame followed by a text frame in one read).
- NAVTRACK: navtrack/navtrack at commit 6c69be401162ee918ec018abeb0c213a2434f98e,
  backend/Navtrack.Listener.Tests/Protocols/SinoTrack/SinoTrackProtocolTests.cs and
  .../TkStar/TkStarProtocolTests.cs (H02 devices sold as SinoTrack and TkStar).
"""

from __future__ import annotations

# --- text frames (Traccar H02ProtocolDecoderTest) --------------------------------------------

V8 = b"*HQ,9001000002,V8,213945,A,3542.2043,N,38.6508,W,0.00,170,221025,FBFFF9FF,0,0,0,0,22,31,126,0#"
V6 = (b"*HQ,3177718238,V6,002926,V,3514.4088,N,9733.2842,W,0.00,0.00,151222,FFF7FBFF,310,260,32936,13641,"
      b"8944501311217563382F,#")
V1_PACKED = b"*HQ,5905101893,V1,105759,A,37573392,S,145037022,E,000.00,173,280122,FF7FFBFF,,,9059e2c,8232,4#"
V1_2021 = b"*HQ,4970105243,V1,104000,A,2235.1777,N,11357.8913,E,000.27,235,130721,FFFFFBFF,460,11,d18e105,7752,6#"
HTBT_BATTERY = b"*HQ,135790246811220,HTBT,100#"
V5 = (b"*HQ,9180271064,V5,091233,V,2348.8912,N,09021.3302,E,000.00,000,051219,FFFFBBFF,470,01,21019,2033,"
      b"2921283#")
HTBT = b"*HQ,135790246811220,HTBT#"
V1_SPACED_SPEED = b"*HQ,865205035331981,V1,132926,A,1935.3933,N,07920.4134,E,  3.34,342,280519,FFFFFFFF#"
VP1_CELLS = b"*hq,356327081001239,VP1,V,470,002,92,3565,0Y92,19433,30Y92,1340,29#"
V1_BATTERY = b"*HQ,4210209006,V1,054048,A,2828.2297,N,07733.4332,E,000.5,047,4,080918,EEE7FBDF,4261193,0#"
V2_CODING = b"*HQ,353505221264507,V2,100220,0,5238.26259,N,00507.33983,E,0.25,0,280917,FFFFFFFF,cc,28,  db,d75b#"
V1_NO_ID = b"*HQ,,V1,173212,A,2225.78879,S,02829.19021,E,0.00,0,290418,FFFFFBFF#"
VI1 = b"*HQ,353505221264507,VI1,075146,0,5238.25900,N,00507.33429,E,0.54,0,250917,FFFFFFFF,cc,28,  db,d75b#"
V1_NO_FIX = b"*HQ,353505510948929,V1,,V,,N,,E,0.00,0,,FFFFF7FF,f0,a,11a0,c0c6#"
VP1_FIX = b"*hq,356327080425330,VP1,A,2702.7245,S,15251.9311,E,0.48,0.0000,080917#"
V19 = (b"*HQ,4209951296,V19,214452,A,5201.0178,N,01830.5029,E,000.00,000,200417,,195.63.13.195,"
       b"89480610500392633029,BFFFFBFF#")
XT = b"*HQ,356327080425330,XT,1,100#"
V3_ONE = b"*HQ,353111080001055,V3,044855,28403,01,001450,011473,158,-62,0292,0,X,030817,FFFFFBFF#"
LINK = b"*HQ,1700086468,LINK,180902,15,0,84,0,0,240517,FFFFFBFF#"
V3_FOUR = (b"*HQ,355488020882405,V3,095426,74001,04,010278,045142,128,-92,010278,026311,125,,010278,026582,"
           b"125,,010278,028322,119,,02DD,0,X,090517,FFFFFBFF#")
V19_ICCID = (b"*HQ,4109179024,V19,181519,V,3853.2587,S,06205.9175,W,000.00,000,090217,,5492932630888,"
             b"8954315265044716555?,FFFFFBFF#")
V1_ALTITUDE = (b"*HQ,2130510938,V1,012632,A,0520.0663,N,10028.6324,E,0.286,023,100317,FFFFDFFF,69129336,0,"
               b"100.0,18,5141,5A20#")
V1_POWER_CUT = b"*HQ,4210209006,V1,201812,A,2608.9437,N,08016.2521,W,000.80,000,150317,EFE7F9FF,310,260,0,0,6#"
NBR = (b"*HQ,4109179024,NBR,103732,722,310,0,6,8106,32010,23,8101,22007,25,8106,12010,23,8106,22105,22,"
       b"8101,22012,16,8106,42010,5,100217,FFFFFBFF,5#")
NBR_NEGATIVE_RSSI = b"*HQ,7401004662,NBR,160453,234,10,0,2,21580,27766,-67,21580,27766,-67,291019,FFFFFBFF,6#"
V1_COSTA_RICA = b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF,712,01,0,0,6#"
V1_DASHED = b"*HQ,1451316409,V1,030149,A,-23-29.0095,S,-46-51.5852,W,2.4,065,070315,FFFFFFFF#"
V1_EMPTY_VALIDITY = b"*HQ,355488020119695,V1,050418,,2827.61232,N,07703.84822,E,0.00,0,031015,FFFEFBFF#"
V1_ZEROS = (b"*HQ,353588020068342,V1,000000,V,0.0000,0,0.0000,0,0.00,0.00,000000,ffffffff,000106,000002,"
            b"000203,004c87,16#")
V1_SOS = b"*HQ,353588020068342,V1,084436,A,3257.01525,N,00655.03865,W,57.78,40,011216,FFFBFFFF,25c,a, 154,b04c#"
V1_SEVEN_DEGREES = (b"*HQ,354188045498669,V1,195200,A,701.8915,S,3450.3399,W,0.00,205.70,050213,ffffffff,000243,"
                    b"000000,000000#")
V1_NINE_DEGREES = (b"*HQ,353588020068342,V1,062840,A,5241.1249,N,954.9490,E,0.00,0.00,231013,ffffffff,000106,"
                   b"000002,000203,004c87,24#")
TH_V1 = b"*TH,2020916012,V1,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,FFFFFBFF#"
TH_V4_S17 = b"*TH,2020916012,V4,S17,130305,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,FFFFFBFF#"
TH_V4_S14 = (b"*TH,2020916012,V4,S14,100,10,1,3,130305,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,"
             b"FFFFFBFF#")
TH_V4_DONE = b"*TH,2020916012,V4,S20,DONE,130305,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,F7FFFBFF#"
TH_V4_PASSWORD = (b"*TH,2020916012,V4,S1,OK,pass_word,130305,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,"
                  b"FFFFFBFD#")
BASE = b"*HQ,8401016597,BASE,152609,0,0,0,0,211014,FFFFFFFF#"
SMS = (b"*HQ,5226073533,SMS,ST906(70SACD)_TQ_V_2.0 2024/06/07\nID:5226073533\nIP:1.2.3.4 5013\nUT:30,30,300\n"
       b"VOLT:12.9V\nAPN:internet.example.com\nGPS:A-24-23\nGSM:26#")
NO_TYPE = b"*HQ,4109198974,#"  # Traccar expects nothing decoded: a frame without a message type

# --- binary frames (Traccar H02ProtocolDecoderTest `binary(...)`) -----------------------------

BIN_SHORT = bytes.fromhex("2441060116601245431311165035313006004318210e000000fffffbffff0024")
BIN_SHORT_SAME_PLACE = bytes.fromhex("2427051711092133391406135002584900014337822e000000ffffffffff0000")
BIN_SHORT_NOT_VALID = bytes.fromhex("2410307310010503162209022212874500113466574C014028fffffbffff0000")
BIN_LONG_ID = bytes.fromhex("2435248308419329301047591808172627335900074412294E024138FEFFFFFFFF01120064BA73005ECC")
# Frames longer than the 32-byte standard mode; nothing in them says so (see protocols/h02.py),
# so they are framed whole only as UDP datagrams.
BIN_45_SOS = bytes.fromhex(
    "24410600082621532131081504419390060740418306000000fffffbfdff0015060000002c02dc0c000000001f")
BIN_45_BANGLADESH = bytes.fromhex(
    "2491802711800850240512192350143206090249758e000001ffffbbff00bdf0900000000001d60161cc4b9a35")
BIN_46 = bytes.fromhex(
    "2421305109380127171003170520046500100286297e003085ffffdfffff03440069129344006400001151415a20")
BIN_48 = bytes.fromhex(
    "24971305007205201916101533335008000073206976000000effffbffff000252776566060000000000000000000049")

# --- Traccar H02FrameDecoderTest (stream input) ----------------------------------------------

FRAMER_V1_CRLF = bytes.fromhex(
    "2a48512c3335353438383032303131333931312c56312c3031323934352c412c353233312e37393238332c4e2c"
    "30313332342e31303731382c452c302e30352c302c3137303231372c4646464646464646230d0a")
FRAMER_V1_SOUTH = (b"*HQ,353588060015568,V1,193505,A,809.0010,S,3454.8997,W,0.00,0.00,291013,effffbff,0002d4,"
                   b"00000b,005385,0052aa,25#")
FRAMER_NBR = (b"*HQ,4206119130,NBR,102403,238,1,0,7,1111,2264,63,1111,2265,58,1111,2266,50,1111,3135,37,1111,"
              b"605,33,1111,4920,30,1111,607,28,110117,FFFFDFFF,6#")
FRAMER_BINARY_THEN_TEXT = BIN_SHORT + (
    b"*HQ,4106011660,V1,124552,A,5035.3129,N,00431.8211,E,000.20,000,131116,FFFFFBFF#")
FRAMER_BINARY = bytes.fromhex("24430025645511183817091319355128000465632432000100ffe7fbffff0000")

# --- navtrack --------------------------------------------------------------------------------

NAVTRACK_SINOTRACK = b"*HQ,4106016320,V1,090458,A,5257.4318,N,15840.4221,E,000.00,000,101115,FFFFFBFF,250,01,0,0,5#"
NAVTRACK_TKSTAR = b"*HQ,9171133403,V1,091019,V,2234.9299,N,11354.3998,E,000.00,000,010520,FBFFBBFF,226,10,8600,19869#"


# --- The conformance convention (tests/protocols/test_conformance.py) ------------------------

def _source(name: str) -> str:
    if name.startswith("FRAMER_"):
        return "TRACCAR_FRAMER"
    if name.startswith("NAVTRACK_"):
        return "NAVTRACK"
    return "TRACCAR"


_TCP_FRAMES = [
    name for name, value in list(globals().items())
    if name.isupper() and isinstance(value, bytes)
    and name not in ("NO_TYPE", "FRAMER_V1_CRLF", "FRAMER_BINARY_THEN_TEXT")
    and not name.startswith(("BIN_45", "BIN_46", "BIN_48"))
]

# Every whole frame above as the device sends it over TCP (the CR LF / two-frame stream inputs of
# the framer test are split into their frames).
SAMPLES: list[tuple[str, bytes]] = [
    (f"{name.lower()}, {_source(name)}", globals()[name]) for name in _TCP_FRAMES
] + [
    ("framer v1 (its CR LF is framed away), TRACCAR_FRAMER", FRAMER_V1_CRLF[:-2]),
    ("framer text after binary, TRACCAR_FRAMER", FRAMER_BINARY_THEN_TEXT[32:]),
]

# Datagrams: the longer binary frames whole (one per datagram), and text frames as one datagram each
# (Traccar's H02 UDP server takes the same bytes, one frame per datagram).
UDP_SAMPLES: list[tuple[str, bytes]] = [
    ("binary 45 bytes sos, TRACCAR", BIN_45_SOS),
    ("binary 45 bytes, TRACCAR", BIN_45_BANGLADESH),
    ("binary 46 bytes, TRACCAR", BIN_46),
    ("binary 48 bytes, TRACCAR", BIN_48),
    ("binary 32 bytes, TRACCAR", BIN_SHORT),
    ("v1, TRACCAR", V1_COSTA_RICA),
    ("htbt, TRACCAR", HTBT_BATTERY),
    ("nbr, TRACCAR", NBR),
]

# Frames that frame correctly but must decode to an error.
MALFORMED: list[tuple[str, bytes]] = [
    ("no message type, TRACCAR", NO_TYPE),
    ("latitude hemisphere X (constructed from V1_COSTA_RICA)", V1_COSTA_RICA.replace(b",N,", b",X,")),
    ("61 minutes (constructed from V1_COSTA_RICA)", V1_COSTA_RICA.replace(b"0956.3869", b"0961.3869")),
    ("month 13 (constructed from V1_COSTA_RICA)", V1_COSTA_RICA.replace(b"221215", b"221315")),
    ("speed not a number (constructed from V1_COSTA_RICA)", V1_COSTA_RICA.replace(b"000.00", b"fast00")),
    ("too few fields (constructed from TH_V1)", b"*TH,2020916012,V1,050316,A,2212.8745,N#"),
    ("not ASCII (constructed from TH_V1)", TH_V1.replace(b"A,2212", b"\xc1,2212")),
    ("NBR with fewer cells than announced (constructed from NBR_NEGATIVE_RSSI)",
     NBR_NEGATIVE_RSSI.replace(b",0,2,", b",0,5,")),
    ("V3 cell count off (constructed from V3_ONE)", V3_ONE.replace(b",01,", b",02,")),
    ("binary latitude not BCD (constructed from BIN_SHORT)", BIN_SHORT[:12] + b"\x5a" + BIN_SHORT[13:]),
    # Found by benchmarks/fuzz_codecs.py (atheris): a binary date the calendar has not was a codec bug
    # (ValueError from datetime), reached through the detector from every codec's fuzz run.
    ("binary date 30 February (constructed from BIN_SHORT)", BIN_SHORT[:9] + b"\x30\x02" + BIN_SHORT[11:]),
]
