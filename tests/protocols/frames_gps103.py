"""Sample GPS103 (Xexun / Coban TK103 family) frames, each with where it comes from.

Sources:
- TRACCAR: traccar/traccar src/test/java/org/traccar/protocol/Gps103ProtocolDecoderTest.java at
  commit 9e5c458ad0bf44ceaddf72534bf6874787f41b6c. Traccar's frame decoder strips the `;` that ends
  every frame (`CharacterDelimiterFrameDecoder(..., ";", ...)`), so its test strings mostly lack it;
  the constants below hold them as the device sends them, `;` re-added where it was stripped.
- COBAN: the Coban "GPS102, GPS103, GPS104 GPRS data protocol" (scribd document 168734588) and
  "TK102/TK102B/TK103/TK103B/TK104/TK106/TK106B GPRS Data Protocol" (scribd 267545994): log-on
  `##,imei:359586015829802,A;`, heartbeat `359586015829802`, the `help me` SOS example.
- NAVTRACK: navtrack/navtrack at commit 6c69be401162ee918ec018abeb0c213a2434f98e,
  backend/Navtrack.Listener.Tests/Protocols/Coban/CobanProtocolTests.cs (log-on answered `LOAD`,
  heartbeat answered `ON`, a `tracker` report).
"""

from __future__ import annotations

# --- log-on and heartbeat --------------------------------------------------------------------

LOGIN = b"##,imei:359586015829802,A;"  # COBAN, NAVTRACK (and TRACCAR without the ';')
# COBAN shows the bare IMEI; the ';' is the terminator every frame of the family carries
# (constructed per COBAN).
HEARTBEAT = b"359586015829802;"

# --- reports (TRACCAR) -----------------------------------------------------------------------

SENSOR_ALARM_NO_GPS = b"imei:865456055519122,sensor alarm,2208011920,,L,;"
BATTERY_FIELD = b"imei:864035052942928,,241214083746,100%,F,123746.000,A,1012.63368,N,06757.59559,W,0.00,340.61;"
UTC_NO_FRACTION = b"imei:864035050002451,tracker,201223064947,,F,064947,A,1935.70640,N,09859.94436,W,0.025,;"
NUMERIC_KEYWORD = (b"imei:760112011448012,001,2001151918,,F,191833.000,A,6136.6174,N,2126.9901,E,0.00,202.6,-0.1,"
                   b"1,,,,20;")
COURSE = b"imei:868683023212255,tracker,190205084503,,F,064459.000,A,4915.1221,N,01634.5655,E,3.91,83.95;"
PHOTO_ANNOUNCE = (b"imei:864180034124375,vt14,190116192753,,F,172750.000,A,3649.2186,N,00235.8411,W,0.00,0,,0,0,"
                  b"51.93%,,+22;")
TEMPERATURE_ALARM = (b"imei:868683026321020,T:+11,181217080050,,F,080047.000,A,3227.3057,N,11649.4754,W,0.00,0,,0,0,"
                     b"0.00%,,+11;")
TRACKER_TEMPERATURE = (b"imei:868683026321020,tracker,181217080106,,F,080102.000,A,3227.3057,N,11649.4754,W,0.00,0,,"
                       b"0,0,0.00%,0,+11;")
OBD_DTC = b"imei:868683027758113,OBD,180905200218,,,,0,0,0.39%,70,9.41%,494,0.00,P0137,P0430,,;"
FUEL = (b"imei:353451044508750,001,0809231929,13554900601,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,30.1,"
        b"65.43,1,0,10.5%,0.0%,28;")
ACC_ON = b"imei:864180036029895,acc on,180508145653,,F,065645.000,A,4729.1497,N,01904.2342,E,0.00,0,,1,,0.00%,,;"
AC_ALARM_NO_GPS = b"imei:864895030279986,ac alarm,180404174252,,L,,,296a,,51f7,,,;"
OBD_FULL = b"imei:359710048977327,OBD,180301094003,5000000,0.00,0.00,98,18,68.63%,55,25.10%,1368,14.24,,,,;"
OBD_COOLANT = b"imei:862106025092216,OBD,170605095949,195874,,370.8,808,066,30.0%,+87,13.0%,02444,14.3,,,,;"
OBD_ZEROS = b"imei:868683027825532,OBD,170613203014,,,,0,0,0.00%,0,0.00%,0,0.00,,,,;"
OBD_NO_COOLANT = b"imei:862106025092216,OBD,170612165656,196043,,145803.9,,000,0.0%,+,0.0%,00000,12.6,,,,;"
DTC = b"imei:353451044508750,DTC,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,30.1,,1,0,10.5%,P0021,;"
OIL1 = b"imei:353451044508750,oil1,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,,,,51.6,41.7,;"
OIL_LEVEL = b"imei:353451044508750,oil 51.67,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,,;"
TEMPERATURE_28 = b"imei:353451044508750,T:+28.0,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,,;"
BONNET = b"imei:353451044508750,bonnet alarm,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,,;"
FOOTBRAKE = b"imei:353451044508750,footbrake alarm,0809231929,,F,055403.000,A,2233.1870,N,11354.3067,E,0.00,,;"
AC_ALARM = b"imei:862106021237716,ac alarm,1611291645,,F,204457.000,A,1010.2783,N,06441.0274,W,0.00,,;"
OBD_TWO_DTCS = b"imei:359710049057798,OBD,161003192752,1785,,,0,54,96.47%,75,20.00%,1892,0.00,P0134,P0571,,;"
TRACKER_WEST = (b"imei:359710049090138,tracker,160629022948,,F,182949.000,A,4043.8839,N,11328.8029,W,65.26,271.82,,"
                b"1,0,31.37%,51442,;")
OBD_U_CODE = b"imei:359710049028435,OBD,160316053657,70430,,,0,49,60.00%,46,19.22%,859,0.00,U1108,,,;"
HEARTBEAT_GLUED = (b"359769031878322imei:359769031878322,tracker,1602160718,2,F,221811.000,A,1655.2193,S,14546.6722,"
                   b"E,0.00,,;")
OBD_NO_BATTERY = b"imei:865328021049167,OBD,141118115036,,,0.0,,000,0.0%,+,0.0%,00000,,,,,;"
HELP_ME_NO_GPS = b"imei:359710049075097,help me,,,L,,,113b,,558f,,,,,0,0,,,;"
TRACKER_NO_CLOCK = b"imei:359710041100000,tracker,000000000,,L,,,fa8,,c9af,,,,,0,0,0.00%,,;"
TRACKER_NO_DATE = b"imei:863070016871385,tracker,0000000119,,L,,,0FB6,,CB5D,,,;"
TRACKER_LITHUANIA = b"imei:359710045559474,tracker,151030080103,,F,000101.000,A,5443.3834,N,02512.9071,E,0.00,0;"
TRACKER_DAY_BEFORE = (b"imei:359710049092324,tracker,151027025958,,F,235957.000,A,2429.5156,N,04424.5828,E,0.01,27.91,,"
                      b"0,0,,,;")
TRACKER_FINLAND = (b"imei:865328021058861,tracker,151027041419,,F,011531.000,A,6020.2979,N,02506.1940,E,0.49,113.30,,"
                   b"0,0,0.0%,,;")
NO_GPS_SIGNAL = b"imei:359586015829802,tracker,000000000,13554900601,L,;"
ALTITUDE = b"imei:869039001186913,tracker,1308282156,0,F,215630.000,A,5602.11015,N,9246.30767,E,1.4,,175.9,;"
SLASHED_DATE = b"imei:359710040656622,tracker,13/02/27 23:40,,F,125952.000,A,3450.9430,S,13828.6753,E,0.00,0;"
SLASHED_DATE_MALAYSIA = b"imei:359710040565419,tracker,13/05/25 14:23,,F,062209.000,A,0626.0411,N,10149.3904,E,0.00,0;"
TRACKER_PERU = b"imei:353451047570260,tracker,1302110948,,F,144807.000,A,0805.6615,S,07859.9763,W,0.00,,;"
TRACKER_ARIZONA = b"imei:359587016817564,tracker,1301251602,,F,080251.000,A,3223.5832,N,11058.9449,W,0.03,;"
NO_SPEED = b"imei:359587016817564,tracker,1301251602,,F,080251.000,A,3223.5832,N,11058.9449,W,,;"
TRACKER_CHILE = (b"imei:012497000208821,tracker,1301080525,,F,212511.000,A,2228.5279,S,06855.6328,W,18.62,268.98,"
                 b";")
TRACKER_VENEZUELA = b"imei:012497000431811,tracker,1210260609,,F,220925.000,A,0845.5500,N,07024.7673,W,0.00,,;"
HELP_ME_TEST = b"imei:100000000000000,help me,1004171910,,F,010203.000,A,0102.0003,N,00102.0003,E,1.02,;"
PHONE = b"imei:353451040164707,tracker,1105182344,+36304665439,F,214418.000,A,4804.2222,N,01916.7593,E,0.37,;"
TRACKER_BRAZIL = b"imei:353451042861763,tracker,1106132241,,F,144114.000,A,2301.9052,S,04909.3676,W,0.13,;"
TRACKER_SHENZHEN = (b"imei:359587010124900,tracker,0809231929,13554900601,F,112909.397,A,2234.4669,N,11354.3287,E,"
                    b"0.11,321.53,;")
PHONE_WITH_SPACE = (b"imei:353451049926460,tracker,1208042043,123456 99008026,F,124336.000,A,3509.8668,N,03322.7636,"
                    b"E,0.00,,;")
# The Coban document's alarm examples (also TRACCAR's): SOS, low battery, geo-fence, move, overspeed.
HELP_ME = b"imei:359586015829802,help me,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;"
LOW_BATTERY = b"imei:359586015829802,low battery,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;"
STOCKADE = b"imei:359586015829802,stockade,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;"
MOVE = b"imei:359586015829802,move,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;"
SPEED = b"imei:359586015829802,speed,0809231429,13554900601,F,062947.294,A,2234.4026,N,11354.3277,E,0.00,;"
TRACKER_HK = b"imei:863070010423167,tracker,1211051951,63360926,F,115123.000,A,2220.6322,N,11407.5313,E,0.00,,;"
TRACKER_HK_MOVING = (b"imei:863070010423167,tracker,1211060621,,F,062152.000,A,2220.6914,N,11407.5506,E,15.85,347.84,"
                     b";")
TRACKER_RUSSIA = b"imei:863070012698733,tracker,1303092334,,F,193427.000,A,5139.0369,N,03907.2791,E,0.00,,;"
ALTITUDE_SECONDS = (b"imei:869039001186913,tracker,130925065533,0,F,065533.000,A,5604.11015,N,9232.12238,E,0.0,,"
                    b"329.0,;")
ACC_ALARM = (b"imei:359710041641581,acc alarm,1402231159,,F,065907.000,A,2456.2591,N,06708.8335,E,7.53,76.10,,1,0,"
             b"0.03%,,;")
FUEL_DECIMALS = (b"imei:313009071131684,tracker,1403211928,,F,112817.000,A,0610.1133,N,00116.5840,E,0.00,,,0,0,0.0,"
                 b"0.0,;")
CENTI_SECONDS = b"imei:866989771979791,tracker,140527055653,,F,215653.00,A,5050.33113,N,00336.98783,E,0.066,0;"
UTC_UNREADABLE = b"imei:353552045375005,tracker,150401165832,61.0,F,31.0,A,1050.73696,N,10636.49489,E,8.0,,22.0,;"
UTC_ZERO = b"imei:353552045403597,tracker,150420051153,53.0,F,0.0,A,5306.64155,N,00700.77848,E,0.0,,1.0,;"
TRACKER_MALAYSIA = (b"imei:359710047424644,tracker,150506224036,,F,154037.000,A,0335.2785,N,09841.1543,E,3.03,337.54,,"
                    b"0,0,45.16%,,;")
ACC_OFF = (b"imei:865328023776874,acc off,150619152221,,F,072218.000,A,5439.8489,N,02518.5945,E,0.00,,,1,1,0.0,"
           b"0.0,23.0,;")
# NAVTRACK CobanProtocolTests: a report as its device sent it (ends with ',;').
NAVTRACK_TRACKER = b"imei:359587010124900,tracker,0809231929,13554900601,F,112909.397,A,2234.4669,N,11354.3287,E,0.11,;"

# Real frames (TRACCAR) this codec rejects on purpose.
NO_LON_HEMISPHERE = b"imei:012497000208821,tracker,1301072224,,F,142411.077,A,2227.0739,S,06855.2912,,0,0,;"
HEMISPHERE_FIRST = b"imei:353552045403597,tracker,150420050648,53.0,F,0.0,A,N,5306.64155,E,00700.77848,0.0,,1.0,;"


# --- The conformance convention (tests/protocols/test_conformance.py) ------------------------

def _source(name: str) -> str:
    if name == "LOGIN":
        return "COBAN/NAVTRACK"
    if name == "HEARTBEAT":
        return "constructed per COBAN"
    if name.startswith("NAVTRACK_"):
        return "NAVTRACK"
    if name in ("HELP_ME", "LOW_BATTERY", "STOCKADE", "MOVE", "SPEED"):
        return "COBAN/TRACCAR"
    return "TRACCAR (';' re-added)"


_REJECTED = ("NO_LON_HEMISPHERE", "HEMISPHERE_FIRST")
SAMPLES: list[tuple[str, bytes]] = [
    (f"{name.lower()}, {_source(name)}", value) for name, value in list(globals().items())
    if name.isupper() and isinstance(value, bytes) and name not in _REJECTED
]

# The same family over UDP: one frame per datagram (the trackers' UDP mode sends the same text;
# these are the frames above, one per datagram).
UDP_SAMPLES: list[tuple[str, bytes]] = [
    ("login, COBAN/NAVTRACK", LOGIN),
    ("heartbeat, constructed per COBAN", HEARTBEAT),
    ("help me, COBAN/TRACCAR", HELP_ME),
    ("tracker, TRACCAR (';' re-added)", TRACKER_LITHUANIA),
    ("obd, TRACCAR (';' re-added)", OBD_FULL),
]

MALFORMED: list[tuple[str, bytes]] = [
    ("longitude without hemisphere, TRACCAR (';' re-added)", NO_LON_HEMISPHERE),
    ("hemisphere before the number, TRACCAR (';' re-added)", HEMISPHERE_FIRST),
    ("validity X (constructed from HELP_ME)", HELP_ME.replace(b",A,", b",X,")),
    ("latitude 95 (constructed from HELP_ME)", HELP_ME.replace(b"2234.4026", b"9534.4026")),
    ("source Q (constructed from HELP_ME)", HELP_ME.replace(b",F,", b",Q,")),
    ("bad local time (constructed from HELP_ME)", HELP_ME.replace(b"0809231429", b"0813231429")),
    ("bad IMEI (constructed from HELP_ME)", HELP_ME.replace(b"imei:359586015829802", b"imei:35958601x829802")),
    ("speed not a number (constructed from TRACKER_HK_MOVING)", TRACKER_HK_MOVING.replace(b"15.85", b"fast!")),
    ("truncated (constructed from HELP_ME)", b"imei:359586015829802,help me;"),
    ("OBD without values (constructed from OBD_FULL)", b"imei:359710048977327,OBD,180301094003,5000000;"),
]
