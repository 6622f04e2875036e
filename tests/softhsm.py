"""SoftHSM2 for the tests that need a real PKCS#11 token (Debian's ``softhsm2``, installed by ``.ci/run``).

One token directory per test session, named by ``SOFTHSM2_CONF`` (set in this process's environment before the
module is first loaded, since SoftHSM reads it once). SoftHSM does not see tokens created after it was loaded, so
in-process tests share the session's token (each with its own key label prefix); a gateway subprocess loads the
module anew and may get a fresh token from ``new_token``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gateway.crypto.kek import KekOptions

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN = "4711-gateway", "so-pin-0815"
SESSION_TOKEN = "gateway-tests"


def available() -> bool:
    return MODULE.is_file() and shutil.which("softhsm2-util") is not None


@dataclass(frozen=True)
class SoftHsm:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}

    def new_token(self, label: str, pin: str = PIN) -> None:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN],
            env={**os.environ, **self.env()}, check=True, capture_output=True, timeout=60,
        )

    def pin_file(self, directory: Path, pin: str = PIN) -> Path:
        path = directory / "hsm.pin"
        path.write_text(pin + "\n")
        path.chmod(0o600)
        return path

    def options(self, pin_file: Path, token: str = SESSION_TOKEN) -> KekOptions:
        return KekOptions("pkcs11", str(MODULE), token, str(pin_file))

    def settings_env(self, pin_file: Path, token: str) -> dict[str, str]:
        """The gateway's environment for a KEK in ``token``."""
        return {**self.env(), "GATEWAY_KEK_PROVIDER": "pkcs11", "GATEWAY_PKCS11_MODULE": str(MODULE),
                "GATEWAY_PKCS11_TOKEN_LABEL": token, "GATEWAY_PKCS11_PIN_FILE": str(pin_file)}


def start(root: Path) -> SoftHsm:
    """A token directory under ``root`` with the session's token, named in this process's environment."""
    (root / "tokens").mkdir(parents=True)
    hsm = SoftHsm(root)
    hsm.conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    hsm.new_token(SESSION_TOKEN)
    return hsm
