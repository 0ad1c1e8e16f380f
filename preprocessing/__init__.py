"""Transforms shared by training/export and the service (numpy + Pillow only).

Anything here must behave identically on both sides, so it never imports
TensorFlow or Flask.
"""
