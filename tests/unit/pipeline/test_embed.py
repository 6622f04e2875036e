"""The pipeline normalizes what it is given: a caller hands it texts as sent, never ``canonical()`` first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.pii.normalize import normalize
from gateway.pipeline.stages import PipelineResult
from tests.unit.http.conftest import fake_services

SENT = "pay\u200b \uff22\uff4f\uff42\u00ad today"  # a zero-width space, full-width letters, a soft hyphen


def test_when_run_is_given_texts_as_sent_then_it_embeds_their_canonical_form(tmp_path: Path) -> None:
    services = fake_services(tmp_path)
    try:
        scope = services.scope("acme")

        async def run(text: str) -> PipelineResult:
            return await services.pipeline.run("acme", [text], scope, "embeddings", "v", all_or_nothing=True)

        sent, canonical = asyncio.run(run(SENT)), asyncio.run(run(normalize(SENT)))
    finally:
        services.close()
    assert normalize(SENT) != SENT
    assert sent.items[0].decision.text == canonical.items[0].decision.text
    assert sent.items[0].digest == canonical.items[0].digest
    assert sent.items[0].vector is not None and canonical.items[0].vector is not None
    assert (sent.items[0].vector == canonical.items[0].vector).all()
