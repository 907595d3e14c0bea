"""bytes → Event, or a DecodeError whose reason goes to the dead-letter output."""

from claimguard.decode.decoder import DecodeError, decode, decode_with_digest, encode_finding_line

__all__ = ["DecodeError", "decode", "decode_with_digest", "encode_finding_line"]
