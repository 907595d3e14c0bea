"""bytes → Event, or a DecodeError whose reason goes to the dead-letter output."""

from claimguard.decode.decoder import DecodeError, decode, encode_finding_line

__all__ = ["DecodeError", "decode", "encode_finding_line"]
