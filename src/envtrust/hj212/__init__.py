"""HJ 212 protocol core (pure, sans-IO): bytes in, events out; frames and replies out.

Supports HJ/T 212-2005 (old factor codes mapped to 2017 codes), HJ 212-2017, and recognises HJ 212-2025
traffic by its version bits.  No sockets, clock, database or logging set-up here.

>>> d = Decoder()
>>> [type(e).__name__ for e in d.feed(upload(qn="20260101000000000", st="31", cn="2011", pw="123456",
...     mn="MN1", data_time="20260101000000", items=[Item("a21026", {"Rtd": "1.0"}, "a21026")]))]
['Frame']
"""

from .build import (
    encode_frame,
    encode_segment,
    error_reply,
    reply_9011,
    reply_9012,
    reply_9013,
    reply_9014,
    reply_for,
    to_2017,
    upload,
)
from .crc import crc16, crc16_modbus, crc16_reference
from .framing import MAX_FRAME, Decoder, Event
from .model import ExeRtn, Frame, FrameError, Garbage, Item, QnRtn, Version, decode_flag
from .parse import MAX_SEGMENT, parse_frame
from .reassembly import Reassembler, merge_fragments
from .times import parse_data_time, qn_from_time

__all__ = [
    "MAX_FRAME",
    "MAX_SEGMENT",
    "Decoder",
    "Event",
    "ExeRtn",
    "Frame",
    "FrameError",
    "Garbage",
    "Item",
    "QnRtn",
    "Reassembler",
    "Version",
    "crc16",
    "crc16_modbus",
    "crc16_reference",
    "decode_flag",
    "encode_frame",
    "encode_segment",
    "error_reply",
    "merge_fragments",
    "parse_data_time",
    "parse_frame",
    "qn_from_time",
    "reply_9011",
    "reply_9012",
    "reply_9013",
    "reply_9014",
    "reply_for",
    "to_2017",
    "upload",
]
