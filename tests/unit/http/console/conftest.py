"""The in-process gateway of the gateway unit tests (fake model and detector, real audit log and Casbin)."""

from tests.unit.http.conftest import App, app

__all__ = ["App", "app"]
