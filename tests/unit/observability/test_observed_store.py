"""The observing store wrapper is a whole ``Store``: every method written out, nothing forwarded by name.

Its behaviour is the contract suite's (``tests/unit/store/conftest.py`` runs it behind the wrapper too).
"""

from __future__ import annotations

import inspect

from gateway.observability.store import ObservedStore
from gateway.store.base import Store


def _interface() -> set[str]:
    return {name for name, member in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}


def test_when_the_store_interface_has_a_method_then_the_wrapper_defines_it_itself() -> None:
    assert {"record_ids", "sample_vectors", "flush"} <= _interface()
    assert sorted(_interface() - set(vars(ObservedStore))) == []


def test_when_an_attribute_is_not_on_the_interface_then_the_wrapper_does_not_forward_it() -> None:
    assert "__getattr__" not in vars(ObservedStore)
    public = {name for name in vars(ObservedStore) if not name.startswith("_")}
    assert public == _interface()
