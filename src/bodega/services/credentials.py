"""Secrets: argon2id password hashes, random tokens kept only as their SHA-256, constant-time checks."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from bodega import errors

PASSWORD_MIN = 8
PASSWORD_MAX = 1024

_hasher: Any = None


def password_hasher() -> Any:
    """The argon2id hasher (argon2-cffi's current recommended parameters), made on first use."""
    global _hasher
    if _hasher is None:
        try:
            from argon2 import PasswordHasher
        except ImportError:
            raise errors.MissingDependency("passwords need argon2-cffi: pip install argon2-cffi") from None
        _hasher = PasswordHasher()
    return _hasher


def validate_password(password: Any) -> str:
    """password if it is text of 8 to 1024 characters; InvalidInput saying why otherwise."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise errors.InvalidInput(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if any(c in "\r\n\0" for c in password):
        raise errors.InvalidInput("a password cannot contain line breaks or NUL characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of password, salted."""
    return str(password_hasher().hash(password))


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether password matches password_hash; a missing hash costs a hash's time too (no timing oracle)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = password_hasher()
    try:
        return bool(hasher.verify(password_hash or _dummy_hash(), password)) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the hasher's current ones."""
    return bool(password_hasher().check_needs_rehash(password_hash))


_dummy: str | None = None


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None:
        _dummy = hash_password(secrets.token_urlsafe(16))
    return _dummy


def new_token(prefix: str) -> str:
    """A fresh random token (256 bits) with a prefix that says what it is (bdg_ API token, bds_ session)."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is kept: the token has 256 random bits, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    """Whether two secrets are equal, in constant time."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
