"""Users, API tokens (stored as sha256), roles and the pseudonyms analysts see."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from claimguard.cases.lifecycle import ROLES
from claimguard.store.targets import CHDB_SCHEME, normalize_target

USERS = "claimguard.users"
USER_COLUMNS = ["name", "role", "region", "token_sha256", "created_at", "revoked", "version"]
TOKEN_PREFIX = "cg_"
KEY_ENV = "CLAIMGUARD_PSEUDONYM_KEY"
REGION_CODE = re.compile(r"^\d{6}$")
USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    region: str

    @property
    def supervises(self) -> bool:
        return self.role in ("supervisor", "admin")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def check_region(region: str) -> str:
    if not REGION_CODE.match(region):
        raise ValueError(f"region {region!r} is not a 6-digit 行政区划代码")
    return region


def check_user(name: str, role: str, region: str) -> None:
    if not USER_NAME.match(name):
        raise ValueError(f"user name {name!r}: letters, digits and _.@- only (at most 64)")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    check_region(region)


def user_row(name: str, role: str, region: str, digest: str, revoked: bool) -> list[object]:
    now = dt.datetime.now(dt.UTC)
    version = int(now.timestamp() * 1_000_000)
    return [name, role, region, digest, now, int(revoked), version]


def default_key_file(target: str) -> Path:
    """Beside an embedded store (`<dir>.pseudonym.key`), else in the working directory."""
    target = normalize_target(target)
    if target.startswith(CHDB_SCHEME + "/"):
        path = Path(target[len(CHDB_SCHEME) :].partition("?")[0])
        return path.with_name(path.name + ".pseudonym.key")
    return Path("claimguard-pseudonym.key")


class Pseudonymizer:
    """Person ids as analysts see them: HMAC-SHA256 under a secret key, 16 hex digits.
    The same person has the same pseudonym in every case (so repeat patterns stay visible),
    and without the key file the id cannot be recovered. Settlement ids stay clear."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key is shorter than 16 bytes")
        self._key = key

    @classmethod
    def from_file(cls, path: Path, create: bool = True) -> Pseudonymizer:
        """Read the key (hex); create a new random one (mode 0600) when the file is absent."""
        path = Path(path)
        if not path.exists() and create:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        text = path.read_text(encoding="ascii").strip()
        try:
            return cls(bytes.fromhex(text))
        except ValueError as exc:
            raise ValueError(f"{path}: the pseudonym key must be hex ({exc})") from exc

    def __call__(self, person_id: str) -> str:
        if not person_id:
            return ""
        digest = hmac.new(self._key, person_id.encode(), hashlib.sha256).hexdigest()
        return "PX" + digest[:16]
