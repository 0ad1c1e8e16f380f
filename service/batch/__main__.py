"""python -m service.batch --model NAME [--version V] --input PATH... --output FILE [options]

Predicts every input with the same registry, codecs and runtime as the server (or a running
server with --url): decode worker processes prepare the inputs, this process makes one onnxruntime
call per batch, a writer process appends the records. Output is flushed per chunk of batches; a
rerun with the same arguments skips what is already written.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from service import host
from service.batch import items as item_sources
from service.batch.backends import HttpBackend, LocalBackend
from service.batch.output import format_of, resume, write_npy
from service.batch.progress import Progress
from service.batch.runner import run
from service.errors import AxonError
from service.settings import Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service.batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", help="default: the model's default (highest) version")
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="image directory or glob; .txt/.csv/.jsonl of texts; .npy/.npz arrays")
    parser.add_argument("--output", required=True, type=str,
                        help="JSONL or CSV file; '{shard}' in the name is replaced by the shard index")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="default: from the output's extension")
    parser.add_argument("--column", default="text", help="text column of a .csv input (default: text)")
    parser.add_argument("--field", default="text", help="text field of a .jsonl input (default: text)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default: 1)")
    parser.add_argument("--workers", type=int,
                        help="decode processes (default: the cores onnxruntime leaves free, at least 1)")
    parser.add_argument("--top-k", type=int, help="classifiers: labels per record (default: the model's)")
    parser.add_argument("--score-threshold", type=float, help="detectors (default: the model's, 0.25)")
    parser.add_argument("--iou-threshold", type=float, help="detectors: class-wise NMS overlap (default 0.45)")
    parser.add_argument("--max-detections", type=int, help="detectors: per image (default 100)")
    parser.add_argument("--url", help="send the work to a running server (V2 protocol) instead")
    parser.add_argument("--shard", help="INDEX/COUNT: process a deterministic slice of the inputs")
    parser.add_argument("--shard-count", type=int,
                        help="COUNT, with the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true", default=True,
                        help="skip items already in the output (the default when it exists)")
    resume.add_argument("--overwrite", action="store_true", help="start the output over")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 1 if any item failed")
    parser.add_argument("--npy", help="embedding models: also write the vectors as one .npy, in input order "
                                      "(NaN rows for failures), with the ids in <NPY>.ids.txt, once the run is done")
    args = parser.parse_args(argv)
    if args.workers is None:  # one core each: onnxruntime's threads, then the decode workers
        args.workers = max(1, host.available_cores() - args.threads)
    if args.batch_size < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--batch-size, --workers and --threads must be >= 1")
    return args


def shard_of(args: argparse.Namespace) -> tuple[int, int]:
    if args.shard:
        try:
            index, count = (int(part) for part in args.shard.split("/"))
        except ValueError:
            raise item_sources.InputError(f"--shard must be INDEX/COUNT, got {args.shard!r}") from None
        return index, count
    if args.shard_count:
        if "JOB_COMPLETION_INDEX" not in os.environ:
            raise item_sources.InputError("--shard-count needs JOB_COMPLETION_INDEX (set by an Indexed Job)")
        return int(os.environ["JOB_COMPLETION_INDEX"]), args.shard_count
    return 0, 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        index, count = shard_of(args)
        all_items = item_sources.collect(args.input, args.column, args.field)
        items = item_sources.shard(all_items, index, count)
        given = {"top_k": args.top_k, "score_threshold": args.score_threshold, "iou_threshold": args.iou_threshold,
                 "max_detections": args.max_detections}
        if args.url:
            backend = HttpBackend(args.url, args.model, args.version, given)
        else:
            backend = LocalBackend(Settings.from_env(), args.model, args.version, args.threads, given)
    except (item_sources.InputError, AxonError, RuntimeError, ValueError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    output = Path(args.output.replace("{shard}", str(index)))
    fmt = format_of(output, args.format)
    done = resume(output, fmt, args.overwrite)
    print(f"{backend.name} v{backend.version}: {len(items)} items (shard {index}/{count} of {len(all_items)}), "
          f"{len(done)} already in {output}", file=sys.stderr)
    try:
        summary = run(backend, items, output, fmt, done, args.batch_size, args.workers, Progress(len(items)))
    except RuntimeError as exc:  # a worker or the writer died, or the server went away: rerun to resume
        print(f"error: {exc}; rerun the same command to resume", file=sys.stderr)
        return 1
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:  # everything inferred has been written: a rerun does only the rest
        print(f"interrupted: rerun the same command to resume from {output}", file=sys.stderr)
        return 130
    if args.npy:
        if fmt != "jsonl":
            print("error: --npy reads the JSONL output; write JSONL", file=sys.stderr)
            return 2
        try:
            written = write_npy(output, [item.id for item in items], Path(args.npy))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.npy}: {written} of {len(items)} vectors", file=sys.stderr)
    return 1 if args.fail_on_error and summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
