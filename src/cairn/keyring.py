"""The catalog key: encrypts secrets at rest and authenticates the journal (DESIGN invariants 2 and 6).

Only FEs hold it. From it two keys are derived with HKDF-SHA256: one for AES-256-GCM (secrets in
journal entries and images) and one for HMAC-SHA256 (every journal entry and image). Each sealed
value and each MAC names the key's id (a fingerprint, not the key), so that after a rotation the
previous keys still open what they wrote, and a missing key is named rather than guessed at.

The key never lives in the bucket. It comes from `catalog_encryption_key` in fe.conf, else the
environment variable CAIRN_CATALOG_ENCRYPTION_KEY, else (the embedded default) a key file in the
FE's local config area that is created once (see `cairn.config.catalog_key`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cairn.errors import CatalogKeyError

log = logging.getLogger(__name__)

KEY_CONF = "catalog_encryption_key"
PREVIOUS_KEYS_CONF = "catalog_encryption_previous_keys"
KEY_ENV = "CAIRN_CATALOG_ENCRYPTION_KEY"
PREVIOUS_KEYS_ENV = "CAIRN_CATALOG_ENCRYPTION_PREVIOUS_KEYS"
HOW_TO_SET = (f"set '{KEY_CONF}' in fe.conf or the environment variable {KEY_ENV} "
              f"(older keys in '{PREVIOUS_KEYS_CONF}' / {PREVIOUS_KEYS_ENV})")

SEALED_PREFIX = "cairn-sealed:v1:"
KEY_BYTES = 32
KEY_FILE_NAME = "catalog_encryption.key"


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cairn " + purpose).derive(key)


@dataclass(frozen=True)
class CatalogKey:
    """One 32-byte catalog key and the keys derived from it."""

    key_id: str
    cipher_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)

    @classmethod
    def from_text(cls, text: str, source: str) -> "CatalogKey":
        """Parse a base64 (urlsafe or standard) 32-byte key; CatalogKeyError naming `source` otherwise."""
        cleaned = text.strip()
        try:
            raw = base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4))
        except ValueError:
            raw = b""
        if len(raw) != KEY_BYTES:
            raise CatalogKeyError(f"{source} is not a catalog key: expected {KEY_BYTES} bytes in base64")
        return cls(key_id=hashlib.sha256(b"cairn key id " + raw).hexdigest()[:16],
                   cipher_key=_derive(raw, b"secrets at rest"), mac_key=_derive(raw, b"journal authentication"))


def new_key_text() -> str:
    """A fresh random key, as the text fe.conf and the key file hold."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


class Keyring:
    """The current catalog key plus the previous ones still accepted for reading."""

    def __init__(self, current: CatalogKey, previous: list[CatalogKey] | None = None, source: str = "") -> None:
        self.current = current
        self.source = source
        self._by_id = {k.key_id: k for k in [*(previous or []), current]}
        self.previous_ids = [k.key_id for k in previous or [] if k.key_id != current.key_id]

    def knows(self, key_id: str) -> bool:
        return key_id in self._by_id

    def _key(self, key_id: str, what: str) -> CatalogKey:
        key = self._by_id.get(key_id)
        if key is None:
            raise CatalogKeyError(f"{what} was written with catalog key {key_id}, which this FE does not hold: "
                                  f"{HOW_TO_SET}")
        return key

    # -- secrets at rest ----------------------------------------------------------------------

    def seal(self, value: str) -> str:
        """Encrypt `value` with the current key: `cairn-sealed:v1:<key id>:<nonce + ciphertext>`."""
        nonce = os.urandom(12)
        sealed = AESGCM(self.current.cipher_key).encrypt(nonce, value.encode(), self.current.key_id.encode())
        return f"{SEALED_PREFIX}{self.current.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str, where: str) -> str:
        """Decrypt a sealed value (clear text, from before secrets were sealed, passes unchanged).

        Raises CatalogKeyError naming the missing key, or the damaged object `where`."""
        if not value.startswith(SEALED_PREFIX):
            return value
        key_id, _, body = value[len(SEALED_PREFIX):].partition(":")
        key = self._key(key_id, f"a secret in {where}")
        try:
            raw = base64.urlsafe_b64decode(body)
            return AESGCM(key.cipher_key).decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except Exception:  # InvalidTag, bad base64: the sealed text was altered
            raise CatalogKeyError(f"a secret in {where} cannot be decrypted with catalog key {key_id}: "
                                  "it was altered") from None

    # -- authentication -----------------------------------------------------------------------

    def mac(self, payload: bytes) -> tuple[str, str]:
        """(key id, HMAC-SHA256 of `payload` in hex) with the current key."""
        return self.current.key_id, hmac.new(self.current.mac_key, payload, hashlib.sha256).hexdigest()

    def check_mac(self, key_id: str, mac: str, payload: bytes) -> bool:
        """True when `mac` authenticates `payload` under key `key_id`; False for a key this FE does
        not hold or a wrong MAC (a forged or altered object)."""
        key = self._by_id.get(key_id)
        if key is None:
            return False
        return hmac.compare_digest(hmac.new(key.mac_key, payload, hashlib.sha256).hexdigest(), mac)

    def require_key(self, key_id: str, what: str) -> None:
        """Raise CatalogKeyError naming the conf key and variable when `key_id` is not held."""
        self._key(key_id, what)


def environment_without_keys() -> dict[str, str]:
    """This process's environment minus the catalog key variables: what a compute node is started
    with, since only FEs may hold the key."""
    return {k: v for k, v in os.environ.items() if k not in {KEY_ENV, PREVIOUS_KEYS_ENV}}


def default_key_file() -> Path:
    """The embedded default's key file: in the user's config area, never on a storage volume."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cairn" / KEY_FILE_NAME


def _key_file_text(path: Path) -> str:
    """The key in `path`, created (mode 0600) with a fresh key the first time."""
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text()
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text() + "\n")
    log.warning("created the catalog key %s: a copy of this cluster's bucket cannot be read without it, "
                "so keep a copy of it (or set %s / %s)", path, KEY_CONF, KEY_ENV)
    return path.read_text()


def resolve(conf_key: str = "", conf_previous: str = "") -> Keyring:
    """The keyring from fe.conf's values, else the environment, else the default key file."""
    if conf_key.strip():
        text, source = conf_key, f"fe.conf '{KEY_CONF}'"
    elif os.environ.get(KEY_ENV, "").strip():
        text, source = os.environ[KEY_ENV], f"environment variable {KEY_ENV}"
    else:
        path = default_key_file()
        text, source = _key_file_text(path), f"key file {path}"
    previous_text = conf_previous if conf_previous.strip() else os.environ.get(PREVIOUS_KEYS_ENV, "")
    previous_source = f"fe.conf '{PREVIOUS_KEYS_CONF}'" if conf_previous.strip() else PREVIOUS_KEYS_ENV
    previous = [CatalogKey.from_text(t, previous_source) for t in previous_text.split(",") if t.strip()]
    return Keyring(CatalogKey.from_text(text, source), previous, source)


_lock = threading.Lock()
_installed: Keyring | None = None


def install(keyring: Keyring) -> None:
    """Make `keyring` the one this process reads and writes the catalog with (set when fe.conf is read)."""
    global _installed
    with _lock:
        _installed = keyring
    log.info("catalog key %s from %s (%d previous key(s) accepted for reading)", keyring.current.key_id,
             keyring.source, len(keyring.previous_ids))


def current() -> Keyring:
    """The installed keyring; with none installed, the one the environment or default key file gives."""
    with _lock:
        keyring = _installed
    if keyring is None:
        keyring = resolve()
        install(keyring)
    return keyring
