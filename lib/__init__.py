"""From Fourier to Compression: the library behind the book.

One module per topic (``fourier``, ``pruning``, ``quantization``, ...) plus the
shared workbench (``data``, ``models``, ``train``) and the widget layer
(``lib.widgets``). Notebooks import from here; nothing here imports a notebook.
"""

__version__ = "0.1.0"
