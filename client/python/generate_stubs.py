"""Generates the protobuf and gRPC stubs of `proto/augmentd/v1/*.proto` into
`src/augmentd_client/_proto/` with grpcio-tools, with package-relative imports.

    python generate_stubs.py             # (re)write the committed stubs
    python generate_stubs.py --out DIR   # write them somewhere else (the stubs test does)

The generated files depend on the grpcio-tools version that wrote them (their headers name
the protobuf and grpcio versions they need): regenerate with the version pinned in
pyproject.toml's `dev` extra, and commit the result.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTO_FILES = ("augmentd/v1/augmenter.proto", "augmentd/v1/models.proto", "augmentd/v1/training.proto")
DEFAULT_OUT = HERE / "src" / "augmentd_client" / "_proto"
PACKAGE_INIT = '"""Generated protobuf and gRPC stubs of augmentd.v1 (see generate_stubs.py). Do not edit."""\n'

# `from augmentd.v1 import models_pb2 as ...` -> `from . import models_pb2 as ...`
ABSOLUTE_IMPORT = re.compile(r"^from augmentd\.v1 import ", re.MULTILINE)


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Writes the stubs of every proto file into `out_dir` (flat, package-relative imports)
    and returns the files written, sorted."""
    from grpc_tools import (
        protoc,  # imported here: only this script and its test need it
    )

    missing = [name for name in PROTO_FILES if not (proto_root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"proto files not found under {proto_root}: {', '.join(missing)}")
    include = Path(protoc.__file__).resolve().parent / "_proto"  # google/protobuf/*.proto
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="augmentd-stubs-") as raw:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{include}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *PROTO_FILES,
        ]
        status = protoc.main(args)
        if status != 0:
            raise RuntimeError(f"grpc_tools.protoc failed with status {status}: {' '.join(args)}")
        generated = sorted((Path(raw) / "augmentd" / "v1").iterdir())
        written = []
        for source in generated:
            text = ABSOLUTE_IMPORT.sub("from . import ", source.read_text(encoding="utf-8"))
            target = out_dir / source.name
            target.write_bytes(text.encode("utf-8"))
            written.append(target)
    init = out_dir / "__init__.py"
    init.write_bytes(PACKAGE_INIT.encode("utf-8"))
    written.append(init)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--proto-root", type=Path, default=PROTO_ROOT, help="folder holding augmentd/v1/*.proto")
    args = parser.parse_args(argv)
    for path in generate(args.out, args.proto_root):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
