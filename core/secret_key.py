"""The server's secret: signs download links and encrypts data-source credentials."""

import base64
import hashlib
import os
import secrets

from cryptography.fernet import Fernet

from core.settings import Settings


def server_secret(settings: Settings) -> bytes:
    """SECRET_KEY, or a random key kept in the data directory (fine for one host; set SECRET_KEY when
    several API processes on different hosts must share it)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip().encode()  # another process made it first
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def fernet(settings: Settings, purpose: str) -> Fernet:
    """A Fernet key derived from the server secret, one per purpose."""
    digest = hashlib.sha256(purpose.encode() + b"|" + server_secret(settings)).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
