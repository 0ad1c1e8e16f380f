"""python -m training {mnist,all} [--data keras|sample|auto] [--models DIR] [--missing-only]"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

MODELS = ("mnist",)


def is_built(models_root: Path, name: str) -> bool:
    """A model counts as built when some numeric version directory holds a model.onnx."""
    directory = models_root / name
    return directory.is_dir() and any(
        child.name.isdigit() and (child / "model.onnx").is_file() for child in directory.iterdir()
    )


def build(name: str, models_root: Path, args: argparse.Namespace) -> None:
    if name == "mnist":
        from training import mnist

        mnist.main(models_root, data=args.data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("model", choices=[*MODELS, "all"])
    parser.add_argument("--data", default="auto", help="mnist: keras, sample or auto (default)")
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("AXON_MODEL_DIR", "models")))
    parser.add_argument("--missing-only", action="store_true", help="skip models that already have a built version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    names = MODELS if args.model == "all" else (args.model,)
    for name in names:
        if args.missing_only and is_built(args.models, name):
            print(f"[{name}] already built in {args.models / name}, skipping", flush=True)
            continue
        started = time.perf_counter()
        build(name, args.models, args)
        print(f"[{name}] done in {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
