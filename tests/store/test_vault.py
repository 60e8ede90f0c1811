"""The secret vault: round trips, the key file, the environment key, wrong keys, rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from payloads_tui.domain.errors import VaultError
from payloads_tui.store.vault import ENV_KEY, Vault

PLAINTEXT = "sk_test_51Hx-do-not-leak"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)


def _home(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir(mode=0o700)
    return tmp_path / name


def _key_lines(vault: Vault) -> list[bytes]:
    return [line for line in vault.key_file.read_bytes().splitlines() if line.strip()]


def test_round_trip(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    ciphertext = vault.encrypt(PLAINTEXT)
    assert ciphertext.startswith("enc:") and PLAINTEXT not in ciphertext
    assert vault.encrypt(PLAINTEXT) != ciphertext  # Fernet tokens are salted
    assert vault.decrypt(ciphertext) == PLAINTEXT
    assert Vault(tmp_path).decrypt(ciphertext) == PLAINTEXT  # the key is read back from the file
    assert vault.decrypt(vault.encrypt("")) == ""


def test_key_file_is_created_0600_on_first_use(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    assert not vault.key_file.exists()  # constructing creates nothing
    vault.encrypt("x")
    assert vault.key_file.stat().st_mode & 0o777 == 0o600
    assert len(_key_lines(vault)) == 1


def test_environment_key_wins_over_the_file(tmp_path: Path) -> None:
    Vault(tmp_path).encrypt("make the key file")
    env_key = Fernet.generate_key().decode()
    from_env = Vault(tmp_path, env_key=env_key)
    ciphertext = from_env.encrypt(PLAINTEXT)
    assert Fernet(env_key.encode()).decrypt(ciphertext[4:].encode()).decode() == PLAINTEXT
    with pytest.raises(VaultError):
        Vault(tmp_path).decrypt(ciphertext)  # the file's key is not the one used


def test_environment_key_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = Fernet.generate_key().decode()
    monkeypatch.setenv(ENV_KEY, env_key)
    ciphertext = Vault(tmp_path).encrypt(PLAINTEXT)
    assert not (tmp_path / "secret.key").exists()
    assert Vault(tmp_path, env_key=env_key).decrypt(ciphertext) == PLAINTEXT


def test_wrong_key_is_a_vault_error_without_the_secret(tmp_path: Path) -> None:
    ciphertext = Vault(_home(tmp_path, "a")).encrypt(PLAINTEXT)
    other = Vault(_home(tmp_path, "b"))
    with pytest.raises(VaultError) as caught:
        other.decrypt(ciphertext)
    message = f"{caught.value} {caught.value!r}"
    assert PLAINTEXT not in message
    assert other.key_file.read_bytes().strip().decode() not in message
    assert "PAYLOADS_SECRET_KEY" in message  # it says what to do


def test_not_ciphertext_and_bad_keys_are_vault_errors(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="not vault ciphertext"):
        Vault(tmp_path).decrypt(PLAINTEXT)
    with pytest.raises(VaultError) as caught:
        Vault(tmp_path, env_key="not-a-fernet-key-value").encrypt("x")
    assert "not-a-fernet-key-value" not in str(caught.value)
    assert ENV_KEY in str(caught.value)


def test_rotate_keeps_secrets_and_leaves_only_the_new_key(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    stored = [vault.encrypt(f"{PLAINTEXT}-{i}") for i in range(5)]
    old_key = _key_lines(vault)

    def reencrypt_all(convert) -> int:
        stored[:] = [convert(c) for c in stored]
        return len(stored)

    assert vault.rotate(reencrypt_all) == 5
    keys = _key_lines(vault)
    assert len(keys) == 1 and keys != old_key
    assert vault.key_file.stat().st_mode & 0o777 == 0o600
    fresh = Vault(tmp_path)  # only the new key, from the file
    assert [fresh.decrypt(c) for c in stored] == [f"{PLAINTEXT}-{i}" for i in range(5)]
    assert [vault.decrypt(c) for c in stored] == [f"{PLAINTEXT}-{i}" for i in range(5)]


def test_rotate_keeps_the_old_key_if_reencryption_fails(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    ciphertext = vault.encrypt(PLAINTEXT)

    def crash(convert) -> int:
        convert(ciphertext)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        vault.rotate(crash)
    assert len(_key_lines(vault)) == 2  # new and old, so nothing stored is lost
    assert Vault(tmp_path).decrypt(ciphertext) == PLAINTEXT


def test_rotate_with_environment_keys_reencrypts_under_the_first(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = [Vault(tmp_path, env_key=old).encrypt(f"{PLAINTEXT}-{i}") for i in range(3)]
    vault = Vault(tmp_path, env_key=f"{new}, {old}")

    def reencrypt_all(convert) -> int:
        stored[:] = [convert(c) for c in stored]
        return len(stored)

    assert vault.rotate(reencrypt_all) == 3
    only_new = Vault(tmp_path, env_key=new)
    assert [only_new.decrypt(c) for c in stored] == [f"{PLAINTEXT}-{i}" for i in range(3)]
    with pytest.raises(VaultError):
        Vault(tmp_path, env_key=old).decrypt(stored[0])
    assert not (tmp_path / "secret.key").exists()


def test_repr_and_str_hold_no_key(tmp_path: Path) -> None:
    env_key = Fernet.generate_key().decode()
    with_env = Vault(_home(tmp_path, "env"), env_key=env_key)
    with_file = Vault(_home(tmp_path, "file"))
    with_env.encrypt("x")
    with_file.encrypt("x")  # keys loaded
    file_key = with_file.key_file.read_bytes().strip().decode()
    for text in (repr(with_env), str(with_env)):
        assert env_key not in text and env_key[:12] not in text
    for text in (repr(with_file), str(with_file)):
        assert file_key not in text and file_key[:12] not in text
