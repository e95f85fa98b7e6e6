"""The book itself: its plan (:mod:`lib.book.plan`), exercise checks, tables and the Sphinx extension."""

from lib.book.plan import PLAN, available, toc_html

__all__ = ["PLAN", "available", "toc_html"]
