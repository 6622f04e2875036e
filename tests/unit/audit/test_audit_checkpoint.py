"""Checkpoints as signed notes, byte-compatible with Go's golang.org/x/mod/sumdb/note."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from audit.checkpoint import (
    CheckpointSigner,
    key_hint,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from audit.errors import CheckpointError
from audit.keys import (
    Ed25519PrivateKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)

# The example key and note from golang.org/x/mod/sumdb/note's documentation and tests.
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann " + GO_SIG + "\n"
ROOT = bytes(range(32))


def test_when_signing_go_reference_note_then_output_is_byte_identical() -> None:
    key = Ed25519PrivateKey.from_private_bytes(GO_SEED)
    assert key_hint("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert sign_note(GO_TEXT, key, "PeterNeumann") == GO_NOTE


def test_when_checkpoint_is_signed_then_it_parses_and_verifies(private_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint("example.com/log", 42, ROOT, private_key, "example.com")
    body, _, sig = note.partition("\n\n")
    assert body == f"example.com/log\n42\n{base64.b64encode(ROOT).decode()}"
    assert sig.startswith("\u2014 example.com ")
    cp = verify_checkpoint(note, private_key.public_key(), "example.com")
    assert (cp.origin, cp.size, cp.root) == ("example.com/log", 42, ROOT)
    assert verify_checkpoint(note, private_key.public_key()).size == 42


def test_when_checkpoint_signed_by_another_key_then_verify_names_the_key(
    private_key: Ed25519PrivateKey,
) -> None:
    note = sign_checkpoint("o", 1, ROOT, generate_private_key(), "audit")
    with pytest.raises(CheckpointError, match="checkpoint signature invalid for key audit"):
        verify_checkpoint(note, private_key.public_key())


def test_when_checkpoint_body_is_altered_then_signature_is_invalid(private_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint("o", 7, ROOT, private_key, "audit")
    with pytest.raises(CheckpointError, match="signature invalid"):
        verify_checkpoint(note.replace("\n7\n", "\n8\n"), private_key.public_key())


def test_when_key_name_differs_then_no_signature_is_found(private_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint("o", 7, ROOT, private_key, "audit")
    with pytest.raises(CheckpointError, match="no signature for key other"):
        verify_checkpoint(note, private_key.public_key(), "other")


def test_when_one_of_several_signatures_is_ours_then_it_verifies(private_key: Ed25519PrivateKey) -> None:
    theirs = sign_checkpoint("o", 7, ROOT, generate_private_key(), "witness")
    ours = sign_checkpoint("o", 7, ROOT, private_key, "audit")
    both = theirs + ours.split("\n\n", 1)[1]
    assert len(parse_checkpoint(both).signatures) == 2
    assert verify_checkpoint(both, private_key.public_key()).size == 7


@pytest.mark.parametrize(
    "text",
    [
        "",
        "o\n7\n",
        "o\n7\nAAAA\n\n\u2014 a AAAAAAAA\n",
        "o\nseven\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 a AAAAAAAA\n",
        "o\n07\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 a AAAAAAAA\n",
        "o\n7\n" + base64.b64encode(ROOT).decode() + "\n\n- a AAAAAAAA\n",
        "o\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 a !!!\n",
        "o\n7\n" + base64.b64encode(ROOT).decode() + "\n\n",
    ],
)
def test_when_checkpoint_is_malformed_then_parse_raises(text: str) -> None:
    with pytest.raises(CheckpointError, match="malformed"):
        parse_checkpoint(text)


def test_when_key_name_has_space_then_signer_refuses() -> None:
    with pytest.raises(CheckpointError):
        CheckpointSigner(generate_private_key(), "bad name")


def test_when_signer_is_printed_then_no_key_material_shows(private_key: Ed25519PrivateKey) -> None:
    assert repr(CheckpointSigner(private_key, "audit")) == "CheckpointSigner(key_name='audit')"


def test_when_keys_round_trip_through_pem_files_then_they_still_sign_and_verify(tmp_path: Path) -> None:
    key = generate_private_key()
    (tmp_path / "k").write_bytes(private_key_pem(key))
    (tmp_path / "k.pub").write_bytes(public_key_pem(key.public_key()))
    note = sign_checkpoint("o", 1, ROOT, load_private_key(tmp_path / "k"), "audit")
    assert verify_checkpoint(note, load_public_key(tmp_path / "k.pub")).size == 1


def test_when_public_key_file_is_not_pem_then_error_is_clear(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text("nope")
    with pytest.raises(CheckpointError, match="not a PEM public key"):
        load_public_key(tmp_path / "k.pub")
