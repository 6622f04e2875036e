"""docs/encryption.md stays true: its code runs, and the formats it states match the code."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.crypto import envelope, keyfiles

DOC = Path(__file__).parents[3] / "docs" / "encryption.md"


def test_when_the_doc_examples_run_then_they_pass() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})  # our own documentation, run as written


def test_when_the_doc_states_formats_then_they_match_the_code() -> None:
    text = DOC.read_text()
    assert f"magic `{envelope.MAGIC.decode()}`" in text
    assert f"format version, `{envelope.FORMAT_VERSION:02x}`" in text
    assert f"| {envelope.NONCE_BYTES} | nonce" in text
    assert all(f"`{name}`" in text for name in keyfiles.KEY_FILES)
