"""Letterbox geometry, head decodings and class-wise NMS: known boxes in, known boxes out."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from preprocessing.detection import Letterbox, decode_gfl, decode_yolo, iou, letterbox, nms, select


@pytest.mark.parametrize("original, content", [
    ((810, 1080), (52, 0, 312, 416)),  # portrait: bars left and right
    ((1280, 720), (0, 91, 416, 234)),  # landscape: bars above and below
    ((416, 416), (0, 0, 416, 416)),
    ((10000, 10), (0, 207, 416, 1)),  # a strip keeps at least one row
])
def test_letterbox_content(original, content):
    assert Letterbox(original, 416).content == content


def test_canvas_boxes_map_back_to_the_original_and_are_clipped():
    geometry = Letterbox((810, 1080), 416)  # scale 416/1080, content from x = 52
    boxes = geometry.to_original(np.array([[52, 0, 364, 416], [0, 208, 60, 500]]))
    np.testing.assert_allclose(boxes[0], [0, 0, 810, 1080], atol=0.5)
    assert boxes[1][0] == 0 and boxes[1][3] == 1080  # beyond the image: clipped to it


def test_letterbox_places_a_reduced_decoding_where_the_original_would_be():
    image = Image.new("RGB", (405, 540), (200, 10, 10))  # a half-scale draft of an 810x1080 photo
    canvas, geometry = letterbox(image, 416, 0, original=(810, 1080))
    assert geometry == Letterbox((810, 1080), 416)
    left, top, width, height = geometry.content
    assert canvas[:, left + 2 : left + width - 2].mean(axis=(0, 1))[0] > 190  # the photo fills the content
    assert canvas[:, : left - 1].max() == 0  # black bars


@pytest.mark.parametrize("box, others, expected", [
    ([0, 0, 10, 10], [[0, 0, 10, 10]], [1.0]),
    ([0, 0, 10, 10], [[5, 0, 15, 10]], [1 / 3]),
    ([0, 0, 10, 10], [[20, 20, 30, 30]], [0.0]),
    ([0, 0, 10, 10], [[2, 2, 8, 8]], [0.36]),
    ([0, 0, 0, 0], [[0, 0, 0, 0]], [0.0]),  # empty boxes: no division by zero
])
def test_iou(box, others, expected):
    np.testing.assert_allclose(iou(np.array(box, float), np.array(others, float)), expected)


def test_nms_keeps_the_best_of_overlapping_boxes_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], float)
    scores = np.array([0.8, 0.9, 0.5, 0.7])
    assert nms(boxes, scores, 0.45).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 3, 2]  # nothing overlaps that much


def test_select_is_class_wise_thresholded_and_capped():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    scores = np.array([[0.9, 0.8], [0.6, 0.1], [0.2, 0.3]])  # rows: boxes; columns: classes
    found = select(boxes, scores, 0.25, 0.45, 100)
    # class 0: box 0 suppresses box 1; class 1: box 0 (0.8) and box 2 (0.3) both kept: other places
    assert found.classes.tolist() == [0, 1, 1] and found.scores.tolist() == [0.9, 0.8, 0.3]
    assert found.boxes.tolist() == [[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]]
    assert len(select(boxes, scores, 0.25, 0.45, 2)) == 2 and len(select(boxes, scores, 0.95, 0.45, 100)) == 0


def test_decode_yolo_a_known_cell():
    anchors = [(10, 14), (23, 27)]
    head = np.full((2, 2, 2 * 7), -20.0)  # 2x2 grid, 2 anchors, 2 classes: nothing anywhere...
    head[1, 0, 7:14] = [0, 0, np.log(2), 0, 20, 20, -20]  # ...but anchor 1 of the cell at row 1, column 0
    boxes, scores = decode_yolo(head, anchors, input_size=64)
    row = (1 * 2 + 0) * 2 + 1  # cell by cell, anchor by anchor
    centre = [(0.5 + 0) / 2 * 64, (0.5 + 1) / 2 * 64]  # sigmoid(0) = 0.5 into the cell
    np.testing.assert_allclose(boxes[row], [centre[0] - 23, centre[1] - 13.5, centre[0] + 23, centre[1] + 13.5])
    np.testing.assert_allclose(scores[row], [1, 0], atol=1e-8)
    assert scores.shape == (8, 2) and np.delete(scores, row, axis=0).max() < 1e-8


def test_decode_gfl_a_known_cell():
    scores = np.zeros((4, 3))
    scores[3, 2] = 0.9  # the last cell of a 2x2 grid (stride 8, input 16), class 2
    distances = np.full((4, 4 * 3), -50.0)
    distances[3] = np.tile([-50, 50, -50], 4)  # each side: all weight on bin 1 = 1 stride
    boxes, out = decode_gfl(scores, distances, stride=8, input_size=16)
    np.testing.assert_allclose(boxes[3], [12 - 8, 12 - 8, 12 + 8, 12 + 8])  # centre (1.5, 1.5) strides
    assert out[3, 2] == 0.9
