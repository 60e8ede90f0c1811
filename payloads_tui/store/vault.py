"""The secret vault: Fernet encryption of credential and endpoint secrets.

The key comes from `PAYLOADS_SECRET_KEY` (one key, or several separated by commas,
newest first, for rotation) or from the key file `secret.key` in the data directory,
created 0600 on first use. Ciphertext is stored as `enc:<fernet token>`; plaintext
exists only in memory, only while it is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from payloads_tui.domain.errors import VaultError
from payloads_tui.store.storage import atomic_write, ensure_private_dir

PREFIX = "enc:"
KEY_FILE = "secret.key"
ENV_KEY = "PAYLOADS_SECRET_KEY"
MASK = "••••"


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


class Vault:
    """Encrypts and decrypts secrets with the data directory's key(s)."""

    def __init__(self, data_dir: Path, env_key: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._env_key = env_key if env_key is not None else os.environ.get(ENV_KEY)
        self._fernet: MultiFernet | None = None

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE

    def _keys(self) -> list[bytes]:
        if self._env_key:
            return [k.strip().encode() for k in self._env_key.split(",") if k.strip()]
        try:
            raw = self.key_file.read_bytes()
        except FileNotFoundError:
            ensure_private_dir(self.data_dir)
            key = Fernet.generate_key()
            atomic_write(self.key_file, key + b"\n")
            return [key]
        return [line.strip() for line in raw.splitlines() if line.strip()]

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            try:
                self._fernet = MultiFernet([Fernet(k) for k in self._keys()])
            except (ValueError, TypeError) as exc:
                source = ENV_KEY if self._env_key else str(self.key_file)
                raise VaultError(f"the secret key in {source} is not a valid Fernet key ({exc})") from None
        return self._fernet

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext (`enc:...`) of `plaintext`."""
        return PREFIX + self.fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Plaintext of `enc:...` ciphertext; raises `VaultError` if the key does not fit."""
        if not is_encrypted(ciphertext):
            raise VaultError("value is not vault ciphertext")
        try:
            return self.fernet.decrypt(ciphertext[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise VaultError(
                "a secret cannot be decrypted with the current key; set PAYLOADS_SECRET_KEY "
                f"or restore {KEY_FILE} of this data directory"
            ) from None

    def rotate(self, reencrypt_all: Callable[[Callable[[str], str]], int]) -> int:
        """Make a new key, re-encrypt every secret under it, then drop the old key(s).

        `reencrypt_all(convert)` must apply `convert` to every stored ciphertext and
        persist the result; it returns how many secrets it converted. With the keys in
        `PAYLOADS_SECRET_KEY`, secrets are re-encrypted under its first key.
        """
        if self._env_key:
            # The operator owns the key: re-encrypt everything under the first
            # (newest) key of PAYLOADS_SECRET_KEY; they then drop the older ones.
            env_fernet = self.fernet

            def convert_env(ciphertext: str) -> str:
                return PREFIX + env_fernet.rotate(ciphertext[len(PREFIX) :].encode()).decode()

            return reencrypt_all(convert_env)
        old_keys = self._keys()
        new_key = Fernet.generate_key()
        combined = MultiFernet([Fernet(new_key), *(Fernet(k) for k in old_keys)])
        # Keep both keys on disk while re-encrypting, so a crash loses nothing.
        atomic_write(self.key_file, b"\n".join([new_key, *old_keys]) + b"\n")
        self._fernet = combined

        def convert(ciphertext: str) -> str:
            return PREFIX + combined.rotate(ciphertext[len(PREFIX) :].encode()).decode()

        count = reencrypt_all(convert)
        atomic_write(self.key_file, new_key + b"\n")
        self._fernet = MultiFernet([Fernet(new_key)])
        return count
