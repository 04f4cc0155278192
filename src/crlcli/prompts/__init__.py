"""Prompt templates as data files (*.txt here) and the one engine that fills them (`template.py`)."""

from .template import CONDITIONS, check, fill, load_template, render

__all__ = ["CONDITIONS", "check", "fill", "load_template", "render"]
