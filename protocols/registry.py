"""The registered protocols, in detection order: one explicit line per protocol, no scanning."""

from protocols import gotop, gt06, osmand, watch
from protocols.base import Codec

# Binary GT06 first: its 0x78/0x79 start bytes can never begin a text frame of the others.
CODECS: tuple[Codec, ...] = (
    gt06.CODEC,
    watch.CODEC,
    gotop.CODEC,
    osmand.CODEC,  # HTTP request lines (`GET /`, `POST /`) begin no frame of the others
)

BY_NAME: dict[str, Codec] = {codec.name: codec for codec in CODECS}
