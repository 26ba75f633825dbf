"""The committed stubs in src/augmentd_client/_proto/ are exactly what generate_stubs.py makes
from proto/ now: regenerated into a temporary folder and compared byte for byte."""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
COMMITTED = PACKAGE_ROOT / "src" / "augmentd_client" / "_proto"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_stubs", PACKAGE_ROOT / "generate_stubs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_stubs"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    generator = load_generator()
    fresh = {path.name: path.read_bytes() for path in generator.generate(tmp_path / "fresh")}
    committed = {path.name: path.read_bytes() for path in COMMITTED.iterdir() if path.is_file()}
    hint = (
        f"regenerate with `python generate_stubs.py` in {PACKAGE_ROOT} (grpcio-tools "
        f"{version('grpcio-tools')} is installed; the stubs were made with the version pinned in "
        "pyproject.toml's dev extra) and commit the result"
    )
    assert sorted(committed) == sorted(fresh), f"stub files differ: {sorted(committed)} vs {sorted(fresh)}; {hint}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale stubs {stale}: {hint}"
    assert len(fresh) == 10  # 3 protos x (pb2, pyi, pb2_grpc) + __init__


def test_stubs_use_package_relative_imports() -> None:
    for path in COMMITTED.glob("*.py*"):
        text = path.read_text(encoding="utf-8")
        assert "from augmentd.v1 import" not in text, path.name
        assert "import augmentd.v1" not in text, path.name
