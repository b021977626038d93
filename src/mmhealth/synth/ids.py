"""Identifiers derived from the seed, never from the clock or the OS random source.

Every id is a hash of (seed, what it names), so the same seed gives the same ids on any machine and in any
worker process, and another seed gives different ones."""

from __future__ import annotations

import hashlib
import uuid


def _digest(seed: int, *parts: object) -> bytes:
    text = "\x1f".join(str(p) for p in (seed, *parts))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def stable_uuid(seed: int, *parts: object) -> str:
    """A version-4-shaped UUID string (as Synthea uses for resource ids) derived from the seed and parts."""
    return str(uuid.UUID(bytes=_digest(seed, *parts), version=4))


def uuid_from_bytes(raw: bytes) -> str:
    """A UUID string from 16 bytes drawn from a seeded generator (cheaper than hashing, for bulk ids)."""
    return str(uuid.UUID(bytes=raw, version=4))


def uuid4_from_hex(h: str) -> str:
    """Same as uuid_from_bytes(bytes.fromhex(h)), by string slicing (ids are made by the hundred thousand)."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def dicom_uid(seed: int, *parts: object) -> str:
    """A DICOM UID under the `2.25` root (ISO/IEC 9834-8: a UUID written as one decimal integer).

    At most 44 characters, inside the 64 DICOM allows, and with no leading zero in any component."""
    return "2.25." + str(uuid.UUID(bytes=_digest(seed, "dicom", *parts), version=4).int)


# The generator's own implementation class UID: constant, so it is the same for every seed.
IMPLEMENTATION_CLASS_UID = "2.25." + str(uuid.UUID(bytes=_digest(0, "mmhealth-synth"), version=4).int)
IMPLEMENTATION_VERSION_NAME = "MMHEALTH_SYNTH1"
