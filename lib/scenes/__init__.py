"""Animations for the book, made with manim and cached by source hash.

:func:`render` renders a scene class once per version of its source (and of
the ``lib`` modules it draws), keeps the MP4 in the user cache
(``lib.core.cache.cache_dir("videos")``), copies it to ``_videos/`` in the
repository (so a notebook opened in Jupyter finds it at ``../_videos/``), and
returns an object that shows as an HTML ``<video>``. The book's Sphinx
extension :mod:`lib.book.sphinx_videos` copies every video a page refers to into
``_build/html/_videos/``, so the published page plays it offline.

Scenes use ``Text`` labels only: no LaTeX is needed to build the book.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from pathlib import Path

from lib.core import cache
from lib.core.theme import PALETTE

ROOT = Path(__file__).resolve().parent.parent.parent
REPO_VIDEOS = ROOT / "_videos"

#: Render settings: small enough to keep a clean build quick, sharp enough to read.
QUALITY = {"pixel_height": 480, "pixel_width": 854, "frame_rate": 15}


class Video:
    """An MP4 shown as an HTML5 video (relative link ``../_videos/<name>``)."""

    def __init__(self, path: Path, caption: str = ""):
        self.path = Path(path)
        self.caption = caption

    def _repr_html_(self) -> str:
        cap = f'<figcaption class="fc-caption">{caption_html(self.caption)}</figcaption>' if self.caption else ""
        poster = self.path.with_suffix(".png").name
        return (f'<figure class="fc-video"><video src="../_videos/{self.path.name}" poster="../_videos/{poster}" '
                f'controls loop muted playsinline preload="metadata" '
                f'style="width:100%;max-width:720px;border-radius:8px"></video>{cap}</figure>')

    def __repr__(self) -> str:
        return f"Video({self.path.name!r})"


def caption_html(text: str) -> str:
    """``text`` escaped for HTML, with exponents typed as ``e^(iθ)`` or ``e^z`` raised (``<sup>``).

    >>> caption_html("e^(iθ) & e^z")
    'e<sup>iθ</sup> &amp; e<sup>z</sup>'
    """
    out = html.escape(text)
    out = re.sub(r"\^\(([^()]{1,12})\)", r"<sup>\1</sup>", out)
    return re.sub(r"\^([0-9A-Za-zθπ]{1,3})(?![0-9A-Za-z])", r"<sup>\1</sup>", out)


def source_key(scene_cls: type) -> str:
    """The scene's cache key: every ``lib`` file its module reaches (:func:`lib.core.cache.lib_files`,
    so ``lib.groups`` for ``SquareMoves`` and the theme for colours), the render settings and manim's version."""
    import manim  # optional and heavy (about 1 s): imported only when a scene is rendered

    return cache.config_key({"lib": cache.source_key(scene_cls.__module__), "scene": scene_cls.__qualname__,
                             "quality": sorted(QUALITY.items()), "manim": manim.__version__})


def render(scene_cls: type, caption: str = "") -> Video:
    """Render ``scene_cls`` (a ``manim.Scene`` subclass) unless its cached video is current."""
    name = f"{scene_cls.__name__}-{source_key(scene_cls)}.mp4"
    cached = cache.cache_dir("videos") / name

    def draw(tmp_file: Path) -> None:
        import manim  # optional and heavy: imported only when a scene is rendered

        with tempfile.TemporaryDirectory() as tmp, manim.tempconfig({
            **QUALITY, "media_dir": tmp, "disable_caching": True, "progress_bar": "none",
            "verbosity": "ERROR", "background_color": PALETTE["paper"], "output_file": scene_cls.__name__,
        }):
            scene = scene_cls()
            scene.render()
            shutil.copyfile(scene.renderer.file_writer.movie_file_path, tmp_file)

    cache.get_or_compute(cached, draw)
    poster = cached.with_suffix(".png")
    if not poster.exists():
        _poster(cached, poster)
    REPO_VIDEOS.mkdir(exist_ok=True)
    for f in (cached, poster):
        if not (REPO_VIDEOS / f.name).exists():
            shutil.copyfile(f, REPO_VIDEOS / f.name)
    return Video(REPO_VIDEOS / name, caption)


def _poster(video: Path, out: Path, at: float = 0.8) -> None:
    """Save the frame ``at`` of the way through ``video`` as the still shown before it plays."""
    import av

    with av.open(str(video)) as container:
        wanted = int(at * container.streams.video[0].frames)  # decode up to that frame, no further
        frame = None
        for i, frame in enumerate(container.decode(video=0)):
            if i >= wanted:
                break
        frame.to_image().save(out.with_suffix(".tmp.png"))
    out.with_suffix(".tmp.png").replace(out)
