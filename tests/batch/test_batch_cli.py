"""python -m service.batch end to end: real models, real photos, real texts, kills and shards."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from service.batch.__main__ import main
from training.photos import photo_path

REPO_ROOT = Path(__file__).resolve().parents[2]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def helpers_of(pid: int) -> list[int]:
    """The processes the run spawned (not multiprocessing's resource tracker, which outlives it
    on purpose: it removes the shared memory a killed run leaves behind)."""
    helpers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            helpers.append(int(stat.parent.name))
    return helpers


def shared_memory() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("psm_*")}


@pytest.fixture
def photo_dir(tmp_path):
    directory = tmp_path / "photos" / "nested"
    directory.mkdir(parents=True)
    for name in ("chelsea.png", "coffee.png", "rocket.jpg"):
        shutil.copy(photo_path(name), directory / name)
    (directory / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (directory / "notes.md").write_text("not an image: ignored")
    return tmp_path / "photos"


@pytest.fixture(autouse=True)
def model_dir(built_models, monkeypatch):
    monkeypatch.setenv("AXON_MODEL_DIR", str(built_models))


def test_images_from_a_directory_with_one_broken_file(photo_dir, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["--model", "efficientnet_lite0", "--input", str(photo_dir), "--output", str(out)]) == 0
    results = {Path(r["id"]).name: r for r in records(out)}
    assert set(results) == {"chelsea.png", "coffee.png", "rocket.jpg", "broken.jpg"}
    assert results["coffee.png"]["class_id"] == 967 and results["coffee.png"]["version"] == "2"
    assert results["chelsea.png"]["model"] == "efficientnet_lite0" and len(results["chelsea.png"]["top_k"]) == 5
    assert "cannot be decoded" in results["broken.jpg"]["error"] or "not an image" in results["broken.jpg"]["error"]
    assert "4 done (1 failed)" in capsys.readouterr().err
    assert main(["--model", "efficientnet_lite0", "--input", str(photo_dir), "--output", str(out)]) == 0
    assert len(records(out)) == 4 and "0 done (0 failed), 4 skipped" in capsys.readouterr().err  # resumed


def test_detections_for_each_image_in_its_pixels(tmp_path):
    from training.photos import detection_photo_bytes

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("bus.jpg", "zidane.jpg"):
        (photos / name).write_bytes(detection_photo_bytes(name))
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"boxes.{fmt}"
        assert main(["--model", "yolov3", "--input", str(photos), "--output", str(out), "--batch-size", "2",
                     "--max-detections", "3"]) == 0
        if fmt == "csv":
            rows = {Path(r["id"]).name: r for r in csv.DictReader(open(out))}
            assert json.loads(rows["bus.jpg"]["details"])[0]["label"] == "person" and rows["broken.png"]["error"]
            continue
        results = {Path(r["id"]).name: r for r in records(out)}
        assert "error" in results["broken.png"]
        bus = results["bus.jpg"]["detections"]
        assert len(bus) == 3 and {d["label"] for d in bus} <= {"person", "bus"}
        assert max(d["box"]["x_max"] for d in results["zidane.jpg"]["detections"]) > 1000  # zidane.jpg's pixels


def test_texts_from_txt_csv_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("I love this airline\n\nworst flight ever\n")
    with open(tmp_path / "b.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["id", "tweet"], ["1", "thank you so much"], ["2", "delayed again, angry"]])
    (tmp_path / "c.jsonl").write_text(json.dumps({"body": "just landed"}) + "\n")
    out = tmp_path / "texts.csv"
    code = main(["--model", "sentiment", "--input", str(tmp_path / "a.txt"), str(tmp_path / "b.csv"),
                 str(tmp_path / "c.jsonl"), "--column", "tweet", "--field", "body", "--output", str(out)])
    assert code == 0
    rows = list(csv.DictReader(open(out)))
    by_id = {row["id"].split("/")[-1]: row for row in rows}
    assert set(by_id) == {"a.txt:1", "a.txt:3", "b.csv:2", "b.csv:3", "c.jsonl:1"}
    assert by_id["a.txt:1"]["label"] == "positive" and by_id["a.txt:3"]["label"] == "negative"
    assert set(json.loads(by_id["c.jsonl:1"]["details"])) == {"negative", "neutral", "positive"}


def test_embeddings_as_jsonl_and_npy_in_input_order(tmp_path, capsys):
    long_text = "the service was slow and the food was cold. " * 200  # over 256 tokens
    (tmp_path / "t.txt").write_text(f"A man is playing a guitar.\n\nSomeone plays an instrument.\n{long_text}\n"
                                    "The stock market fell sharply today.\n")
    out, npy = tmp_path / "vectors.jsonl", tmp_path / "vectors.npy"
    assert main(["--model", "minilm", "--input", str(tmp_path / "t.txt"), "--output", str(out),
                 "--npy", str(npy), "--batch-size", "2"]) == 0
    results = records(out)
    assert [r["id"].split("/")[-1] for r in results] == ["t.txt:1", "t.txt:3", "t.txt:4", "t.txt:5"]
    assert results[2]["truncated"] == {"tokens": pytest.approx(2002, abs=30), "kept": 256}
    vectors = np.load(npy)
    ids = (tmp_path / "vectors.npy.ids.txt").read_text().splitlines()
    assert vectors.shape == (4, 384) and ids == [r["id"] for r in results]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[0], results[0]["embedding"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[3] + 0.2
    assert "4 of 4 vectors" in capsys.readouterr().err


def test_npy_refused_for_a_classifier(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("great flight\n")
    assert main(["--model", "sentiment", "--input", str(tmp_path / "t.txt"), "--output", str(tmp_path / "o.jsonl"),
                 "--npy", str(tmp_path / "o.npy")]) == 2
    assert "no embeddings" in capsys.readouterr().err


def test_arrays_for_mnist(tmp_path, heldout):
    digits = heldout[0][:100].astype(np.float32) / 255.0
    digits[3, 0, 0] = np.nan  # one bad row
    np.save(tmp_path / "digits.npy", digits)
    out = tmp_path / "digits.jsonl"
    assert main(["--model", "mnist", "--version", "1", "--input", str(tmp_path / "digits.npy"),
                 "--output", str(out), "--batch-size", "8"]) == 0
    results = records(out)
    assert len(results) == 100 and "finite" in results[3]["error"] and results[0]["version"] == "1"
    good = [(r["class_id"], int(label)) for r, label in zip(results, heldout[1][:100]) if "error" not in r]
    assert np.mean([a == b for a, b in good]) >= 0.9


@pytest.mark.parametrize("argv, message", [
    (["--model", "nope", "--input", "{photos}", "--output", "{out}"], "not found"),
    (["--model", "mnist", "--input", "/no/such/dir", "--output", "{out}"], "no such file"),
    (["--model", "mnist", "--input", "{photos}", "--output", "{out}", "--shard", "3/2"], "shard index"),
])
def test_bad_arguments_exit_non_zero_with_a_message(photo_dir, tmp_path, capsys, argv, message):
    argv = [a.format(photos=photo_dir, out=tmp_path / "o.jsonl") for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_fail_on_error(photo_dir, tmp_path):
    out = tmp_path / "o.jsonl"
    assert main(["--model", "efficientnet_lite0", "--input", str(photo_dir), "--output", str(out),
                 "--fail-on-error"]) == 1


def test_three_shards_union_equals_one_run(tmp_path, monkeypatch):
    texts = tmp_path / "t.txt"
    texts.write_text("".join(f"text number {i} is {'great' if i % 2 else 'awful'}\n" for i in range(50)))
    assert main(["--model", "sentiment", "--input", str(texts), "--output", str(tmp_path / "all.jsonl")]) == 0
    for index in range(3):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        assert main(["--model", "sentiment", "--input", str(texts), "--shard-count", "3",
                     "--output", str(tmp_path / "part-{shard}.jsonl")]) == 0
    parts = [r for i in range(3) for r in records(tmp_path / f"part-{i}.jsonl")]
    assert sorted(json.dumps(r, sort_keys=True) for r in parts) == \
        sorted(json.dumps(r, sort_keys=True) for r in records(tmp_path / "all.jsonl"))
    assert len({r["id"] for r in parts}) == 50


class LongJob:
    """20,000 texts through `python -m service.batch` in a subprocess, to be stopped half-way."""

    def __init__(self, tmp_path: Path, models: Path, batch_size: int):
        texts = tmp_path / "many.txt"
        texts.write_text("".join(f"line {i}: the crew was {'lovely' if i % 3 else 'rude'}\n" for i in range(20000)))
        self.out = tmp_path / "out.jsonl"
        # the Conv1D (version 1): 20,000 texts in seconds, so that a stop lands mid-run, not at its start
        self.command = [sys.executable, "-m", "service.batch", "--model", "sentiment", "--version", "1", "--input", str(texts),
                        "--output", str(self.out), "--batch-size", str(batch_size)]
        self.env = {**os.environ, "AXON_MODEL_DIR": str(models)}

    def start_and_wait_for_output(self) -> subprocess.Popen:
        process = subprocess.Popen(self.command, cwd=REPO_ROOT, env=self.env, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not self.out.exists() or self.out.stat().st_size < 20_000):
            time.sleep(0.02)
        return process

    def written(self) -> int:
        return len(self.out.read_text().splitlines())

    def rerun_ends_with_every_item_exactly_once(self) -> bool:
        assert subprocess.run(self.command, cwd=REPO_ROOT, env=self.env, stderr=subprocess.DEVNULL).returncode == 0
        ids = [r["id"] for r in records(self.out)]
        return len(ids) == 20000 and len(set(ids)) == 20000


def test_killed_half_way_the_rerun_finishes_with_every_item_exactly_once(tmp_path, built_models):
    job = LongJob(tmp_path, built_models, batch_size=8)
    shm_before = shared_memory()
    process = job.start_and_wait_for_output()
    helpers = helpers_of(process.pid)  # the decode worker and the writer
    process.kill()
    process.communicate()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (any(Path(f"/proc/{pid}").exists() for pid in helpers)
                                           or shared_memory() - shm_before):
        time.sleep(0.05)
    assert len(helpers) == 2 and not any(Path(f"/proc/{pid}").exists() for pid in helpers), \
        "helper processes outlived the killed run (an orphaned writer could append during the rerun)"
    assert not shared_memory() - shm_before, "the killed run left shared memory behind"
    assert 0 < job.written() < 20000, f"the kill did not land half-way ({job.written()} lines)"
    assert job.rerun_ends_with_every_item_exactly_once()


@pytest.mark.parametrize("stop", ["ctrl-c to the process group", "SIGTERM, as Kubernetes stops a pod"])
def test_a_stopped_run_writes_what_was_inferred_and_the_rerun_finishes(tmp_path, built_models, stop):
    job = LongJob(tmp_path, built_models, batch_size=1)
    process = job.start_and_wait_for_output()
    if stop.startswith("ctrl-c"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted: rerun the same command" in stderr
    assert "Traceback" not in stderr
    assert job.out.read_text().endswith("\n") and 0 < job.written() < 20000  # whole records only
    assert job.rerun_ends_with_every_item_exactly_once()


def same_record(local, remote, tolerance: float = 1e-5) -> bool:
    """Equal, but for float rounding: the server's probabilities travel through JSON."""
    if isinstance(local, dict):
        return isinstance(remote, dict) and local.keys() == remote.keys() and all(
            same_record(local[k], remote[k], tolerance) for k in local if k != "error")
    if isinstance(local, list):
        return isinstance(remote, list) and len(local) == len(remote) and all(
            same_record(a, b, tolerance) for a, b in zip(local, remote))
    if isinstance(local, float):
        return isinstance(remote, (int, float)) and abs(local - remote) <= tolerance
    return local == remote


def test_url_mode_writes_the_same_records_as_a_local_run(tmp_path, photo_dir, heldout):
    """Images, texts and arrays; the model's own input names, datatype and default top-k
    (mnist's is 3: a client that assumed 5, or the input name "input", wrote other records)."""
    from tests.e2e.server import Server

    (tmp_path / "texts.txt").write_text("I love this airline\nworst flight ever\n\njust landed in Boston\n"
                                        + "the crew was rude and the seat was broken. " * 100 + "\n")  # cut at 256 tokens
    digits = heldout[0][:20].astype(np.float32) / 255.0
    digits[3, 0, 0] = 2.0  # out of range: refused by both
    np.save(tmp_path / "digits.npy", digits)
    runs = [("efficientnet_lite0", photo_dir, []), ("sentiment", tmp_path / "texts.txt", []),
            ("mnist", tmp_path / "digits.npy", []), ("mnist", tmp_path / "digits.npy", ["--top-k", "2"]),
            ("nanodet", photo_dir, ["--score-threshold", "0.3"]), ("minilm", tmp_path / "texts.txt", [])]
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    server = Server(Path(os.environ["AXON_MODEL_DIR"]), metrics, tmp_path / "gunicorn.log", workers=1)
    try:
        server.wait_ready()
        for index, (model, source, extra) in enumerate(runs):
            assert main(["--model", model, "--input", str(source), "--output", str(tmp_path / f"remote{index}.jsonl"),
                         "--url", server.url, "--batch-size", "2", *extra]) == 0
    finally:
        server.stop()
    for index, (model, source, extra) in enumerate(runs):
        assert main(["--model", model, "--input", str(source), "--output", str(tmp_path / f"local{index}.jsonl"),
                     *extra]) == 0
        local = {r["id"]: r for r in records(tmp_path / f"local{index}.jsonl")}
        remote = {r["id"]: r for r in records(tmp_path / f"remote{index}.jsonl")}
        assert local.keys() == remote.keys() and len(local) >= 3, model
        for key, record in local.items():
            assert same_record(record, remote[key]), (model, record, remote[key])
            assert ("error" in record) == ("error" in remote[key])  # refused by the server too, isolated
        if model in ("sentiment", "minilm"):
            assert sum("truncated" in r for r in remote.values()) == 1, model  # said by both runs
        if model == "mnist":
            assert {len(r["top_k"]) for r in local.values() if "top_k" in r} == {2 if extra else 3}
