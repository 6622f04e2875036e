"""What ``bench/gpu_check.sh`` asks of a Python interpreter before it runs anything: the standard library only, so
that it answers on a bare machine where the gateway's own dependencies may be missing.

    python bench/_gpu_env.py probe --device cuda      # exit 0 if torch imports and sees the device
    python bench/_gpu_env.py missing                   # the project's dependencies not installed, one a line
    python bench/_gpu_env.py wheels DIR [DIR ...]      # the wheels in DIRs whose distribution is not installed
    python bench/_gpu_env.py workers-without-database  # exit 0 if settings accept workers=4 on the embedded store
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normalize(name: str) -> str:
    """A distribution's canonical name (PEP 503): case and runs of ``-_.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(pyproject: Path) -> list[str]:
    """The distributions ``[project] dependencies`` names, without versions, markers or extras."""
    deps = tomllib.loads(pyproject.read_text("utf-8"))["project"]["dependencies"]
    return [normalize(re.split(r"[\s\[<>=!~;]", d.strip(), maxsplit=1)[0]) for d in deps]


def installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def wheel_name(path: Path) -> str:
    """The distribution a wheel file holds (its file name's first field, PEP 427)."""
    return normalize(path.name.split("-", 1)[0])


def missing_wheels(dirs: list[Path]) -> list[Path]:
    """One wheel per distribution that is not installed, from the first directory that has it."""
    chosen: dict[str, Path] = {}
    for d in dirs:
        for wheel in sorted(d.glob("*.whl")) if d.is_dir() else []:
            name = wheel_name(wheel)
            if name not in chosen and not installed(name):
                chosen[name] = wheel
    return list(chosen.values())


def probe(device: str) -> int:
    try:
        import torch
    except ImportError as exc:
        print(f"no torch: {exc}")
        return 3
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            print(f"torch {torch.__version__} sees no CUDA device")
            return 3
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    else:
        print(f"torch {torch.__version__} on {device}")
    return 0


def workers_without_database() -> int:
    sys.path.insert(0, str(ROOT))
    try:
        from gateway.errors import ConfigurationError
        from gateway.settings import load_settings
    except ImportError as exc:
        print(f"cannot import the gateway's settings: {exc}")
        return 3
    try:
        load_settings({}, workers=4)
    except ConfigurationError as exc:
        print(exc)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("probe").add_argument("--device", default="cuda")
    sub.add_parser("missing")
    sub.add_parser("wheels").add_argument("dirs", nargs="*", type=Path)
    sub.add_parser("workers-without-database")
    args = parser.parse_args()
    if args.command == "probe":
        return probe(args.device)
    if args.command == "missing":
        print("\n".join(n for n in requirement_names(ROOT / "pyproject.toml") if not installed(n)))
        return 0
    if args.command == "wheels":
        print("\n".join(str(w) for w in missing_wheels(args.dirs)))
        return 0
    return workers_without_database()


if __name__ == "__main__":
    sys.exit(main())
