"""The KEK in an HSM, through PKCS#11 (python-pkcs11; tested against SoftHSM2).

Each KEK version is a token object: a non-extractable, sensitive AES-256 secret key labelled
``gateway-kek-v<N>`` with CKA_ID = N (uint32, big-endian). The active version is the highest. Wrapping a data
key is CKM_AES_GCM encryption inside the token, with the envelope's nonce and associated data, so a wrapped key
has the same format as under the file KEK and the KEK bytes never enter this process. Rotation generates
version N+1 in the token; retiring destroys a version's object.

Every failure to reach the token (module, token label, PIN, missing key) is a ``ConfigurationError`` that names
the setting to fix and never the PIN; every failure to unwrap is ``DecryptionFailed``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    MultipleTokensReturned,
    NoSuchToken,
    PinIncorrect,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    UserAlreadyLoggedIn,
)
from pkcs11.mechanisms import GCMParams

from gateway.crypto.kek import KekOptions
from gateway.crypto.keyring import KEY_BYTES, MAX_VERSION
from gateway.crypto.secrets import SecretBytes
from gateway.errors import ConfigurationError, DecryptionFailed

LABEL_PREFIX = "gateway-kek-v"
_ID = struct.Struct(">I")
_libraries: dict[str, Any] = {}  # a PKCS#11 module is initialized once per process
_libraries_lock = threading.Lock()
# PKCS#11 login is per process and token, not per session: while one session is logged in, another C_Login is
# refused. So a later session joins the login, but only with the PIN that logged in (compared as a digest).
_logged_in: dict[tuple[str, str], bytes] = {}


class Pkcs11Kek:
    """The ``KekProvider`` whose keys live in a PKCS#11 token. Thread-safe: one session, used under a lock."""

    def __init__(self, session: Any, token_label: str, label_prefix: str = LABEL_PREFIX) -> None:
        self._session = session
        self._token_label = token_label
        self._prefix = label_prefix
        self._lock = threading.Lock()
        self._keys = self._find_keys()

    @classmethod
    def open(cls, options: KekOptions, *, label_prefix: str = LABEL_PREFIX, writable: bool = False) -> Pkcs11Kek:
        """Log in to the token and find its KEK versions; refuses (ConfigurationError) if there are none.

        ``writable`` opens a read-write session, which adding or retiring a version needs; serving does not."""
        session = _login(options, rw=writable)
        try:
            kek = cls(session, options.pkcs11_token_label, label_prefix)
            if not kek._keys:
                raise ConfigurationError(
                    f"PKCS#11 token {options.pkcs11_token_label!r} holds no key-encryption key "
                    f"({label_prefix}<N>); run `gateway keys init`"
                )
        except BaseException:
            session.close()
            raise
        return kek

    @classmethod
    def init(cls, options: KekOptions, *, label_prefix: str = LABEL_PREFIX) -> str | None:
        """Create version 1 in the token if it holds no KEK yet; returns a description of what was created."""
        session = _login(options, rw=True)
        try:
            kek = cls(session, options.pkcs11_token_label, label_prefix)
            if kek._keys:
                return None
            version = kek.add_version()
        finally:
            session.close()
        return f"PKCS#11 token {options.pkcs11_token_label!r}: AES-256 key {label_prefix}{version}"

    @property
    def active(self) -> int:
        return max(self._keys)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def wrap(self, nonce: bytes, key: SecretBytes, aad: bytes) -> bytes:
        with self._lock:
            sealed = self._keys[self.active].encrypt(
                key.get_secret(), mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad)
            )
        return bytes(sealed)

    def unwrap(self, version: int, nonce: bytes, sealed: bytes, aad: bytes) -> SecretBytes:
        kek = self._keys.get(version)
        if kek is None:
            raise DecryptionFailed()
        try:
            with self._lock:
                plain = kek.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad))
        except PKCS11Error:
            raise DecryptionFailed() from None
        if len(plain) != KEY_BYTES:
            raise DecryptionFailed()
        return SecretBytes(bytes(plain))

    def add_version(self) -> int:
        """Generate the next version in the token (needs ``writable``); it becomes active."""
        version = max(self._keys, default=0) + 1
        if version > MAX_VERSION:
            raise ConfigurationError("no KEK version number left")
        with self._lock:
            key = self._session.generate_key(
                KeyType.AES, KEY_BYTES * 8, id=_ID.pack(version), label=f"{self._prefix}{version}", store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True, Attribute.PRIVATE: True},
            )
        self._keys[version] = key
        return version

    def remove_version(self, version: int) -> None:
        """Destroy a version's key object (needs ``writable``); the active one cannot be retired."""
        if version not in self._keys:
            raise ConfigurationError(f"KEK version {version} is not in token {self._token_label!r}")
        if version == self.active:
            raise ConfigurationError("the active key-encryption key cannot be retired")
        with self._lock:
            self._keys.pop(version).destroy()

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def _find_keys(self) -> dict[int, Any]:
        # Any: the token's key objects are SecretKey plus encrypt/decrypt mixins, which the stubs do not combine.
        keys: dict[int, Any] = {}
        with self._lock:
            found = list(self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                                    Attribute.KEY_TYPE: KeyType.AES}))
        for key in found:
            label = str(key.label or "")
            if not label.startswith(self._prefix) or not label[len(self._prefix):].isdigit():
                continue
            version = int(label[len(self._prefix):])
            if bytes(key[Attribute.ID]) != _ID.pack(version):
                raise ConfigurationError(f"token key {label!r} has an ID that does not match its version")
            # A KEK that can leave the token is no better than a file: refuse it rather than trust it.
            if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
                raise ConfigurationError(
                    f"token key {label!r} is extractable or not sensitive; a KEK must never leave the token"
                )
            if key[Attribute.VALUE_LEN] != KEY_BYTES:
                raise ConfigurationError(f"token key {label!r} is not an AES-256 key")
            keys[version] = key
        return keys

    def __repr__(self) -> str:
        return f"Pkcs11Kek(token={self._token_label!r}, versions={self.versions})"


def _library(module: str) -> Any:
    with _libraries_lock:
        lib = _libraries.get(module)
        if lib is None:
            if not Path(module).is_file():
                raise ConfigurationError(f"setting pkcs11_module: no PKCS#11 module at {module}")
            try:
                lib = pkcs11.lib(module)
            except PKCS11Error:
                raise ConfigurationError(f"setting pkcs11_module: {module} cannot be loaded as a PKCS#11 module") \
                    from None
            _libraries[module] = lib
        return lib


def _read_pin(pin_file: str) -> str:
    from gateway.crypto.keyfiles import read_secret_file

    raw = read_secret_file(Path(pin_file), "PIN file")
    try:
        pin = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ConfigurationError(f"setting pkcs11_pin_file: {pin_file} is not UTF-8 text") from None
    if not pin:
        raise ConfigurationError(f"setting pkcs11_pin_file: {pin_file} is empty")
    return pin


def _login(options: KekOptions, *, rw: bool) -> Any:
    lib = _library(options.pkcs11_module)
    label = options.pkcs11_token_label
    pin = _read_pin(options.pkcs11_pin_file)
    try:
        token = lib.get_token(token_label=label)
    except NoSuchToken:
        raise ConfigurationError(
            f"setting pkcs11_token_label: no token labelled {label!r} in {options.pkcs11_module}"
        ) from None
    except MultipleTokensReturned:
        raise ConfigurationError(f"setting pkcs11_token_label: more than one token is labelled {label!r}") from None
    except PKCS11Error as exc:
        raise ConfigurationError(f"PKCS#11 module {options.pkcs11_module}: {type(exc).__name__}") from None
    digest, slot = hashlib.sha256(pin.encode("utf-8")).digest(), (options.pkcs11_module, label)
    wrong_pin = ConfigurationError(
        f"PKCS#11 token {label!r} refused the login: the PIN in {options.pkcs11_pin_file} is wrong"
    )
    try:
        session = token.open(user_pin=pin, rw=rw)
        with _libraries_lock:
            _logged_in[slot] = digest
        return session
    except UserAlreadyLoggedIn:
        with _libraries_lock:
            known = _logged_in.get(slot)
        if known is None or not hmac.compare_digest(known, digest):
            raise wrong_pin from None
        return token.open(rw=rw)
    except (PinIncorrect, PinLenRange):
        raise wrong_pin from None
    except PinLocked:
        raise ConfigurationError(f"PKCS#11 token {label!r}: the user PIN is locked") from None
    except PKCS11Error as exc:
        raise ConfigurationError(f"PKCS#11 token {label!r}: cannot log in ({type(exc).__name__})") from None
