"""Export and offline verification: an untouched export verifies; every tamper fails, naming what failed."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from audit.canonical import canonical_json
from audit.checkpoint import CheckpointSigner, parse_checkpoint, sign_checkpoint
from audit.cli import main
from audit.errors import AuditError, VerificationError
from audit.export import export_log
from audit.keys import Ed25519PublicKey, generate_private_key, load_public_key
from audit.merkle import leaf_hash, root_from_leaf_hashes
from audit.remote import GatewayClient
from audit.sqlite_log import SQLiteAuditLog
from audit.verify import read_jsonl, verify_log
from tests.unit.audit.audit_testkit import make_entry

N = 40


@pytest.fixture
def exported(tmp_path: Path, open_log: Callable[..., SQLiteAuditLog]) -> tuple[Path, Path]:
    log = open_log(checkpoint_interval_s=3600)
    for i in range(N):
        log.append(make_entry(i))
    log.close()
    out, cp = tmp_path / "log.jsonl", tmp_path / "cp.txt"
    assert export_log(tmp_path, out, cp).size == N
    return out, cp


def _verify(log: Path, cp: Path, key_file: Path, *extra: str) -> int:
    return main(["verify", "--log", str(log), "--checkpoint", str(cp), "--public-key", str(key_file), *extra])


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_when_export_is_untouched_then_verify_exits_zero(
    exported: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(*exported, public_key_file) == 0
    assert f"OK: {N} entries" in capsys.readouterr().out


@pytest.mark.parametrize("index", [0, 17, N - 1])
@pytest.mark.parametrize("offset", [0, 5, 40])
def test_when_one_byte_of_an_entry_changes_then_verify_fails_naming_it(
    exported: tuple[Path, Path],
    public_key_file: Path,
    capsys: pytest.CaptureFixture[str],
    index: int,
    offset: int,
) -> None:
    log, cp = exported
    lines = _lines(log)
    line = bytearray(lines[index])
    line[offset] ^= 0x01
    lines[index] = bytes(line)
    log.write_bytes(b"".join(lines))
    assert _verify(log, cp, public_key_file) == 1
    err = capsys.readouterr().err
    assert (
        f"entry {index} (line {index + 1} of the log) is not canonical JSON" in err
        or f"root mismatch: log of {N} entries" in err
    )


def test_when_an_entry_is_deleted_then_verify_fails_on_size(exported: tuple[Path, Path], public_key_file: Path) -> None:
    log, cp = exported
    lines = _lines(log)
    del lines[12]
    log.write_bytes(b"".join(lines))
    with pytest.raises(VerificationError, match=f"log of {N - 1} entries does not match checkpoint size {N}"):
        verify_log(read_jsonl(log), cp.read_text(), _key(public_key_file))


def test_when_two_entries_are_swapped_then_verify_fails_on_root(
    exported: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, cp = exported
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    log.write_bytes(b"".join(lines))
    assert _verify(log, cp, public_key_file) == 1
    assert f"root mismatch: log of {N} entries does not match checkpoint" in capsys.readouterr().err


def test_when_tail_is_dropped_and_resigned_with_fresh_key_then_signature_check_fails(
    exported: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, cp = exported
    kept = _lines(log)[:30]
    log.write_bytes(b"".join(kept))
    root = root_from_leaf_hashes([leaf_hash(x.rstrip(b"\n")) for x in kept])
    origin = parse_checkpoint(cp.read_text()).origin
    cp.write_text(sign_checkpoint(origin, 30, root, generate_private_key(), "gateway.test-audit"))
    assert _verify(log, cp, public_key_file) == 1
    assert "checkpoint signature invalid for key gateway.test-audit" in capsys.readouterr().err


def test_when_checkpoint_is_signed_by_another_key_then_verify_fails(
    exported: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, cp = exported
    parsed = parse_checkpoint(cp.read_text())
    cp.write_text(sign_checkpoint(parsed.origin, parsed.size, parsed.root, generate_private_key(), "intruder"))
    assert _verify(log, cp, public_key_file) == 1
    assert "checkpoint signature invalid for key intruder" in capsys.readouterr().err


def test_when_log_extends_previous_checkpoint_then_verify_passes(
    tmp_path: Path, exported: tuple[Path, Path], public_key_file: Path, signer: CheckpointSigner
) -> None:
    log, cp = exported
    leaves = read_jsonl(log)
    old = tmp_path / "old.txt"
    old.write_text(signer.sign(parse_checkpoint(cp.read_text()).origin, 30, _root(leaves[:30])))
    assert _verify(log, cp, public_key_file, "--previous", str(old)) == 0


def test_when_history_was_rewritten_then_previous_checkpoint_catches_it(
    tmp_path: Path, exported: tuple[Path, Path], public_key_file: Path, signer: CheckpointSigner
) -> None:
    log, cp = exported
    leaves = read_jsonl(log)
    origin = parse_checkpoint(cp.read_text()).origin
    old = signer.sign(origin, 30, _root(leaves[:30]))
    # The operator rewrites entry 5 and re-signs the whole log with the real key.
    leaves[5] = canonical_json(make_entry(5, decision="allow", reason="rewritten"))
    new = signer.sign(origin, N, _root(leaves))
    with pytest.raises(VerificationError, match=r"not an extension of previous checkpoint \(size 30\)"):
        verify_log(leaves, new, signer.public_key(), old)


def test_when_log_was_truncated_below_previous_checkpoint_then_verify_fails(
    exported: tuple[Path, Path], signer: CheckpointSigner
) -> None:
    log, cp = exported
    leaves = read_jsonl(log)
    origin = parse_checkpoint(cp.read_text()).origin
    old = signer.sign(origin, N, _root(leaves))
    new = signer.sign(origin, 20, _root(leaves[:20]))
    with pytest.raises(VerificationError, match=rf"not an extension of previous checkpoint \(size {N}\)"):
        verify_log(leaves[:20], new, signer.public_key(), old)


def test_when_export_file_lost_its_last_newline_then_read_fails(exported: tuple[Path, Path]) -> None:
    log, _ = exported
    log.write_bytes(log.read_bytes()[:-1])
    with pytest.raises(VerificationError, match="not terminated"):
        read_jsonl(log)


def test_when_data_dir_has_no_checkpoint_then_export_fails(tmp_path: Path) -> None:
    SQLiteAuditLog(tmp_path / "audit.db", None, "o").close()
    with pytest.raises(AuditError, match="no signed checkpoint"):
        export_log(tmp_path, tmp_path / "x.jsonl", tmp_path / "x.txt")


def test_when_exporting_via_cli_then_files_verify(
    tmp_path: Path, exported: tuple[Path, Path], public_key_file: Path
) -> None:
    out, cp = tmp_path / "again.jsonl", tmp_path / "again.txt"
    argv = ["export", "--data-dir", str(tmp_path), "--out", str(out), "--checkpoint-out", str(cp)]
    assert main(argv) == 0
    assert out.read_bytes() == exported[0].read_bytes()
    assert _verify(out, cp, public_key_file) == 0


def test_when_verifying_a_gateway_over_http_then_pages_are_fetched_and_checked(
    exported: tuple[Path, Path], public_key_file: Path
) -> None:
    log, cp = exported
    leaves, calls = read_jsonl(log), []

    def fetch(url: str, headers: Mapping[str, str]) -> bytes:
        calls.append(url)
        assert headers["Authorization"] == "Bearer k"
        if url.endswith("/v1/audit/checkpoint"):
            return cp.read_bytes()
        query = dict(p.split("=") for p in url.split("?")[1].split("&"))
        page = leaves[int(query["start"]) : int(query["end"])][:15]  # the server may return short pages
        return ("{" + '"entries": [' + ",".join(f'"{base64.b64encode(x).decode()}"' for x in page) + "]}").encode()

    client = GatewayClient("http://gw:8080/", "k", fetch)
    checkpoint = client.checkpoint()
    got = client.entries(parse_checkpoint(checkpoint).size)
    assert got == leaves
    assert verify_log(got, checkpoint, _key(public_key_file)).size == N
    assert len(calls) == 1 + 3


def _key(path: Path) -> Ed25519PublicKey:
    return load_public_key(path)


def _root(leaves: list[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(x) for x in leaves])
