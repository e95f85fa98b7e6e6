"""From Fourier to Compression: the library behind the book.

**A file directly in** ``lib/`` **is a topic; a folder is machinery.** The layers,
from the bottom up (each may import only the layers below it and itself):

``lib/core/``
    Argument checks, determinism and threads, the one cache
    (:mod:`lib.core.cache`), the theme shared by figures and widgets.
``lib/<topic>.py``
    The math of one method family (``fourier``, ``pruning``, ``quantization``,
    ``coding``, ...), readable top to bottom, importing only NumPy, PyTorch,
    SciPy, :mod:`lib.core` and other topics (and ObsPy in ``seismic``, for the
    iasp91 travel times, the station-noise models and the classical pickers it
    compares against): no data, no training loop, no widgets. These are the public contracts readers' own code uses
    (``lib.fourier.fft``, ``lib.pruning.magnitude_prune``, ...).
``lib/workbench/``
    Data (with a validation split), models, the one training loop and the one
    error function (:mod:`lib.workbench.train`), measurement.
``lib/experiments/``
    Paper reproductions and chapter experiments: topics combined with the
    workbench, every artefact kept in the one cache.
``lib/widgets/``, ``lib/scenes/``, ``lib/book/``
    Views: anywidget front ends, manim scenes, the book's plan, tables,
    exercise checks and Sphinx extension.

Imports sit at the top of every module, so what a computation depends on can be
read (and hashed, by the cache) without running it; the exceptions are optional
heavy packages (manim, PyAV, Playwright), imported where used and marked so.
``tests/test_layers.py`` parses every module (no execution) and fails on an
import that breaks these rules. Notebooks import from here; nothing here
imports a notebook.
"""

__version__ = "0.2.0"
