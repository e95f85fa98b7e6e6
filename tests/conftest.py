"""Shared fixtures: the built book (built once per session, warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book exactly as ``make book`` does and return ``_build/html``.

    The build runs with ``-W --keep-going``: any Sphinx warning fails it, and
    so does any notebook cell that raises (``allow_errors: false``).
    """
    import build

    build.build()
    return ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def chromium(built_book):
    """Debian's Chromium and a local server for the built book, shared by a module's browser tests.

    Module scope, not session: Playwright's sync API allows one running instance per
    thread, and tests/test_live.py starts its own.
    """
    from tests import browser

    with browser.browser() as b, browser.serve(built_book) as base:
        yield b, base


@pytest.fixture
def one_thread():
    """Run a test on one PyTorch thread (timings and numerics as the book measures them)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
