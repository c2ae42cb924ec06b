"""Vectorised packet decoding: record batches in, packet columns out."""

from engine.decode.decoder import decode, is_supported_linktype
from engine.decode.malformed import Malformed
from engine.decode.packets import LinkClass, Packets

__all__ = ["LinkClass", "Malformed", "Packets", "decode", "is_supported_linktype"]
