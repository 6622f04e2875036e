"""The gateway's side of witnessing: the published-checkpoint guard at open, cosigned publication, the alarm."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.canonical import canonical_json
from audit.checkpoint import parse_checkpoint
from audit.cosign import require_quorum
from audit.export import export_log
from audit.keys import load_public_key
from audit.merkle import leaf_hash
from audit.witness import Witness, init_witness
from audit.witness_client import WitnessAhead, WitnessRefused
from audit.witness_server import WitnessServer
from gateway.auditing.auditor import Auditor, open_audit_log
from gateway.cli.common import WitnessedLog, witness_lines
from gateway.crypto.keyfiles import init_keys, load_keys
from gateway.errors import ConfigurationError
from gateway.observability.metrics import GatewayMetrics
from gateway.settings import Settings, load_settings
from gateway.witnessing.published import HOLD_FILE, PUBLISHED_FILE
from gateway.witnessing.publisher import RoundResult, WitnessPublisher, parse_witnesses, start_witnessing
from tests.unit.auditing.audit_fakes import test_secret


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    init_keys(tmp_path / "keys")
    (tmp_path / "data").mkdir()
    return load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys", checkpoint_interval_s=60)


def append(settings: Settings, n: int) -> str:
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    try:
        for i in range(n):
            log.append({"v": 1, "event": "embeddings.create", "decision": "block", "i": i})
        note = log.checkpoint_now()
    finally:
        log.close()
    published_is(settings, note)
    return note


def published_is(settings: Settings, note: str) -> None:
    """The published file is written off the log's writer thread: wait for it."""
    path, deadline = settings.keys_dir / PUBLISHED_FILE, time.monotonic() + 10
    while not (path.exists() and path.read_text() == note) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.read_text() == note


def rewrite_entry(settings: Settings, index: int) -> None:
    """What the issue did: edit an entry, recompute its leaf hash, empty the checkpoints table."""
    db = sqlite3.connect(settings.audit_db_path)
    (leaf,) = db.execute("SELECT leaf FROM entries WHERE idx = ?", (index,)).fetchone()
    entry = json.loads(leaf)
    entry["decision"] = "allow"
    forged = canonical_json(entry)
    db.execute("UPDATE entries SET leaf = ?, leaf_hash = ? WHERE idx = ?", (forged, leaf_hash(forged), index))
    db.execute("DELETE FROM checkpoints")
    db.commit()
    db.close()


def test_when_a_checkpoint_is_signed_then_it_is_kept_beside_the_key_with_mode_0600(settings: Settings) -> None:
    note = append(settings, 3)
    path = settings.keys_dir / PUBLISHED_FILE
    assert path.read_text() == note and parse_checkpoint(note).size == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_when_history_was_rewritten_in_the_database_then_the_log_refuses_to_open(settings: Settings) -> None:
    append(settings, 5)
    rewrite_entry(settings, 2)
    with pytest.raises(ConfigurationError, match="history was rewritten"):
        open_audit_log(settings, load_keys(settings.keys_dir))
    assert sqlite3.connect(settings.audit_db_path).execute("SELECT COUNT(*) FROM checkpoints").fetchone() == (0,)


def test_when_entries_were_deleted_then_the_log_refuses_to_open(settings: Settings) -> None:
    append(settings, 5)
    db = sqlite3.connect(settings.audit_db_path)
    db.execute("DELETE FROM entries WHERE idx >= 3")
    db.execute("DELETE FROM checkpoints")
    db.commit()
    db.close()
    with pytest.raises(ConfigurationError, match="entries were removed"):
        open_audit_log(settings, load_keys(settings.keys_dir))


def test_when_the_log_only_grew_then_it_opens(settings: Settings) -> None:
    append(settings, 2)
    assert parse_checkpoint(append(settings, 2)).size == 4


@pytest.fixture
def witness_url(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, str, Witness]]:
    vkey = init_witness(tmp_path / "w", "witness.test/w1").vkey()
    witness = Witness(tmp_path / "w", {settings.origin: load_public_key(settings.keys_dir / "audit_ed25519.pub")})
    server = WitnessServer(("127.0.0.1", 0), witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", vkey, witness
    server.shutdown()
    server.server_close()


def test_when_witnesses_are_configured_then_each_checkpoint_is_published_cosigned_and_stored(
    settings: Settings, witness_url: tuple[str, str, Witness], tmp_path: Path
) -> None:
    url, vkey, witness = witness_url
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    metrics = GatewayMetrics()
    publisher = start_witnessing(f"{url}={vkey}", log, Auditor(log, test_secret), metrics, settings.keys_dir)
    assert publisher is not None
    try:
        for size in (2, 5):
            while log.size() < size:
                log.append({"v": 1, "event": "x", "decision": "allow"})
            cosigned = publisher.published(log.checkpoint_now(), 10)
            assert require_quorum(cosigned, [parse_witnesses(f"{url}={vkey}")[0].key], 1)
            assert witness.size(settings.origin) == size
        deadline = time.monotonic() + 10
        while log.checkpoint_now() != cosigned and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.checkpoint_now() == cosigned  # kept in the database: an export carries the cosignatures
    finally:
        publisher.close()
        log.close()
    exported = export_log(settings.data_dir, tmp_path / "log.jsonl", tmp_path / "cp.txt")
    assert exported.size == 5 and (tmp_path / "cp.txt").read_text() == cosigned


def test_when_a_witness_refuses_then_the_alarm_is_raised_and_signing_held_across_restarts(
    settings: Settings, witness_url: tuple[str, str, Witness]
) -> None:
    url, vkey, witness = witness_url
    append(settings, 4)
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    metrics = GatewayMetrics()
    publisher = start_witnessing(f"{url}={vkey}", log, Auditor(log, test_secret), metrics, settings.keys_dir)
    assert publisher is not None
    publisher.published(log.checkpoint_now(), 10)
    publisher.close()
    log.close()
    assert witness.size(settings.origin) == 4
    rewrite_entry(settings, 1)
    (settings.keys_dir / PUBLISHED_FILE).unlink()  # an attacker holding the whole host removes this guard too
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    publisher = start_witnessing(f"{url}={vkey}", log, Auditor(log, test_secret), metrics, settings.keys_dir)
    assert publisher is not None
    try:
        log.append({"v": 1, "event": "x", "decision": "allow"})
        note = log.checkpoint_now()  # the rewritten history of 5 entries, signed
        assert publisher.published(note, 10) == note  # but not cosigned
        deadline = time.monotonic() + 10
        while log.signing_held is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.signing_held is not None and "refused" in log.signing_held
        log.append({"v": 1, "event": "x", "decision": "allow"})
        assert log.checkpoint_now() == note  # no new checkpoint while held
        hold = json.loads((settings.keys_dir / HOLD_FILE).read_text())
        assert (hold["status"], hold["checkpoint_size"], hold["witness_size"]) == (422, 5, 4)
        refused = [json.loads(x) for x in log.entries(0, log.size()) if b"audit.witness_refused" in x]
        assert refused[0]["witness"] == "witness.test/w1" and refused[0]["decision"] == "error"
        rendered = metrics.render().decode()
        assert 'gateway_audit_witness_refusals_total{witness="witness.test/w1"} 1.0' in rendered
        assert "gateway_audit_signing_held 1.0" in rendered
    finally:
        publisher.close()
        log.close()
    again = open_audit_log(settings, load_keys(settings.keys_dir))
    try:
        assert again.signing_held is not None  # a restart does not lift the hold: the operator must act
    finally:
        again.close()


def test_when_the_witness_already_cosigned_a_larger_checkpoint_then_an_older_one_raises_no_alarm(
    settings: Settings, witness_url: tuple[str, str, Witness]
) -> None:
    # Two processes share the log (the gateway, a command that writes to it and offers its checkpoint as it exits):
    # one's older checkpoint, offered after the other's larger one was cosigned, finds the witness ahead. Before: a
    # 409 taken for a refusal, the AUDIT ALARM, and checkpoint signing held across restarts after an ordinary stop.
    url, vkey, witness = witness_url
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    refusals: list[WitnessRefused] = []
    first = WitnessPublisher(parse_witnesses(f"{url}={vkey}"), log, lambda r, _: refusals.append(r), lambda _: None)
    try:
        for _ in range(3):
            log.append({"v": 1, "event": "x", "decision": "allow"})
        older = log.checkpoint_now()
        log.append({"v": 1, "event": "key.create", "decision": "allow"})
        first.published(log.checkpoint_now(), 10)
        assert witness.size(settings.origin) == 4
    finally:
        first.close()
    client = parse_witnesses(f"{url}={vkey}")[0]  # another process's client: it learns the witness's size
    with pytest.raises(WitnessAhead):
        client.cosign(older, log.consistency_proof)
    second = WitnessPublisher([client], log, lambda r, _: refusals.append(r), lambda _: None)
    try:
        assert second.published(older, 10) == older  # superseded: not cosigned
    finally:
        second.close()
        log.close()
    assert refusals == [] and witness.size(settings.origin) == 4


def test_when_the_log_holds_fewer_entries_than_the_witness_cosigned_then_it_is_a_refusal_not_superseded(
    settings: Settings, witness_url: tuple[str, str, Witness]
) -> None:
    # Regression (attack18): entries 3-5 deleted, checkpoints emptied, the published file removed, a restart: every
    # checkpoint of the rewritten log was smaller than the witness's 6 and passed as "superseded" (info line, no
    # alarm), so the gateway served a truncated history silently until it grew past what the witness had seen.
    url, vkey, witness = witness_url
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    first = WitnessPublisher(parse_witnesses(f"{url}={vkey}"), log, lambda r, _: None, lambda _: None)
    try:
        for _ in range(6):
            log.append({"v": 1, "event": "x", "decision": "allow"})
        first.published(log.checkpoint_now(), 10)
    finally:
        first.close()
        log.close()
    assert witness.size(settings.origin) == 6
    db = sqlite3.connect(settings.audit_db_path)
    db.execute("DELETE FROM entries WHERE idx >= 3")
    db.execute("DELETE FROM checkpoints")
    db.commit()
    db.close()
    (settings.keys_dir / PUBLISHED_FILE).unlink()
    log = open_audit_log(settings, load_keys(settings.keys_dir))
    metrics = GatewayMetrics()
    publisher = start_witnessing(f"{url}={vkey}", log, Auditor(log, test_secret), metrics, settings.keys_dir)
    assert publisher is not None
    try:
        log.append({"v": 1, "event": "x", "decision": "allow"})
        note = log.checkpoint_now()  # 4 entries, 3 of them not what the witness cosigned
        assert publisher.published(note, 10) == note
        deadline = time.monotonic() + 10
        while log.signing_held is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.signing_held is not None and "refused" in log.signing_held
        hold = json.loads((settings.keys_dir / HOLD_FILE).read_text())
        assert (hold["status"], hold["checkpoint_size"], hold["witness_size"]) == (409, 4, 6)
        assert 'gateway_audit_witness_refusals_total{witness="witness.test/w1"} 1.0' in metrics.render().decode()
    finally:
        publisher.close()
        log.close()
    assert witness.size(settings.origin) == 6


@pytest.mark.parametrize("bad", ["http://w=nokey", "ftp://w=" + "x+00000000+AAAA", "noequals"])
def test_when_audit_witnesses_is_malformed_then_configuration_fails(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="audit_witnesses"):
        parse_witnesses(bad)


def test_when_the_gateway_cosigned_a_newer_checkpoint_before_a_command_offered_its_own_then_it_is_not_a_warning(
    settings: Settings, witness_url: tuple[str, str, Witness], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # fixes18b: a command (apikey create) beside the running gateway signed its last checkpoint; the gateway's
    # larger one was cosigned before the command offered its own, so the witness was ahead (superseded, covering
    # the command's entries). The command still warned "no witness cosigned the audit log's last checkpoint".
    url, vkey, witness = witness_url
    configured = load_settings({}, data_dir=settings.data_dir, keys_dir=settings.keys_dir, checkpoint_interval_s=60,
                               audit_witnesses=f"{url}={vkey}")
    keys = load_keys(configured.keys_dir)
    served = open_audit_log(configured, keys)  # the running gateway's log: it signs (it took the role first)
    served.append({"v": 1, "event": "embeddings.create", "decision": "allow"})
    served.checkpoint_now()
    gateway = WitnessPublisher(parse_witnesses(f"{url}={vkey}"), served, lambda r, _: None, lambda _: None)
    log = open_audit_log(configured, keys)  # the command's, on the same database
    command = WitnessedLog(log, Auditor(log, test_secret), configured)
    deadline = time.monotonic() + 10
    while witness.size(configured.origin) < 1 and time.monotonic() < deadline:  # told where the log stands
        time.sleep(0.02)
    offered = log.checkpoint_now

    def gateway_moves_first() -> str:
        served.checkpoint_now()  # covers the command's entry
        note = offered()  # the checkpoint the command offers; the gateway's next one is cosigned before it is
        served.append({"v": 1, "event": "embeddings.create", "decision": "allow"})
        gateway.published(served.checkpoint_now(), 10)
        return note

    try:
        log.append({"v": 1, "event": "key.create", "decision": "allow"})
        monkeypatch.setattr(log, "checkpoint_now", gateway_moves_first)
        command.close()
    finally:
        gateway.close()
        served.close()
    assert witness.size(configured.origin) == 3 and log.signing_held is None
    err = capsys.readouterr().err
    assert "warning" not in err, err
    assert "witness witness.test/w1 had already cosigned a newer checkpoint of the audit log (size 3)" in err


def test_when_one_of_two_witnesses_is_down_then_the_command_names_it_and_no_witness_is_not_said() -> None:
    lines = witness_lines(RoundResult(cosigned=("w1",), missing=("w2",)))
    assert lines == ["warning: witness w2 did not cosign the audit log's last checkpoint within 10 s; the gateway's "
                     "next checkpoint is offered to it again"]
    assert "no witness cosigned" in witness_lines(RoundResult(missing=("w1", "w2")))[0]
    assert witness_lines(RoundResult(cosigned=("w1", "w2"))) == []
