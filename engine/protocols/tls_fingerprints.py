"""TLS client fingerprints from ClientHello fields: JA3 and JA4.

Fingerprints follow their published definitions: JA3 (Salesforce) as the MD5 of
`version,ciphers,extensions,groups,point_formats`, and JA4 (FoxIO, technical_details/JA4.md). Both leave out
GREASE values (RFC 8701); the fields given to them keep every value as sent, GREASE included, in order.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from engine.protocols.tls_codes import EXT_ALPN, EXT_SERVER_NAME, is_grease

__all__ = ["Transport", "ja3_fingerprint", "ja3_string", "ja4_fingerprint"]

Transport = Literal["t", "q", "d"]

_JA4_VERSIONS: Final = {
    0x0002: "s2",
    0x0300: "s3",
    0x0301: "10",
    0x0302: "11",
    0x0303: "12",
    0x0304: "13",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}


def ja3_string(
    version: int,
    *,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    supported_groups: tuple[int, ...],
    ec_point_formats: tuple[int, ...],
) -> str:
    """The JA3 string `version,ciphers,extensions,groups,point_formats` from ClientHello fields (GREASE
    still in; it is removed here). `version` is the ClientHello's legacy version."""
    return ",".join(
        (
            str(version),
            "-".join(str(c) for c in ciphers if not is_grease(c)),
            "-".join(str(e) for e in extensions if not is_grease(e)),
            "-".join(str(g) for g in supported_groups if not is_grease(g)),
            "-".join(str(f) for f in ec_point_formats),
        )
    )


def ja3_fingerprint(ja3_text: str) -> str:
    """JA3 itself: the MD5 of a JA3 string, in hex."""
    return hashlib.md5(ja3_text.encode(), usedforsecurity=False).hexdigest()


def _is_alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(first: bytes) -> str:
    if not first:
        return "00"
    a, z = first[0], first[-1]
    if _is_alnum(a) and _is_alnum(z):
        return chr(a) + chr(z)
    hexed = first.hex()  # a non-alphanumeric end: first and last hex digits instead
    return hexed[0] + hexed[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_fingerprint(
    transport: Transport,
    version: int,
    *,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    signature_algorithms: tuple[int, ...],
    first_alpn: tuple[bytes, ...],
) -> str:
    """JA4 from ClientHello fields (GREASE still in; it is removed here). `first_alpn` is () or (first,)."""
    ciphers = tuple(c for c in ciphers if not is_grease(c))
    exts = tuple(e for e in extensions if not is_grease(e))
    sni = "d" if EXT_SERVER_NAME in exts else "i"
    alpn = _ja4_alpn(first_alpn[0]) if first_alpn else "00"
    part_a = (
        f"{transport}{_JA4_VERSIONS.get(version, '00')}{sni}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn}"
    )
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers))) if ciphers else "000000000000"
    hashed_exts = sorted(f"{e:04x}" for e in exts if e not in (EXT_SERVER_NAME, EXT_ALPN))
    if hashed_exts:
        text = ",".join(hashed_exts)
        sigs = [f"{s:04x}" for s in signature_algorithms if not is_grease(s)]
        if sigs:
            text += "_" + ",".join(sigs)
        part_c = _sha12(text)
    else:
        part_c = "000000000000"
    return f"{part_a}_{part_b}_{part_c}"
