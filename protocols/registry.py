"""The registered protocols, in detection order: one explicit line per protocol, no scanning."""

from protocols import gotop, gt06, jt808, osmand, teltonika, watch
from protocols.base import Codec

# Binary GT06 first: its 0x78/0x79 start bytes can never begin a text frame of the others.
CODECS: tuple[Codec, ...] = (
    gt06.CODEC,
    jt808.CODEC,  # 7E start byte: no text protocol and no GT06 frame begins with it
    teltonika.CODEC,  # binary: zero preamble, 00 0F handshake or UDP header with 00/01 in byte 4
    watch.CODEC,
    gotop.CODEC,
    osmand.CODEC,  # HTTP request lines (`GET /`, `POST /`) begin no frame of the others
)

BY_NAME: dict[str, Codec] = {codec.name: codec for codec in CODECS}
