"""Sphinx extension: copy the videos (and their poster stills) each page shows into ``_build/html/_videos/``.

Notebook outputs link videos as ``../_videos/<name>.mp4`` (see :mod:`lib.scenes`).
After the build, every link found in the written HTML is satisfied from the
repository's ``_videos/`` or the user cache; a video found in neither is a
build warning (an error with ``-W``), never a silently broken page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.util import logging

from lib.core.cache import cache_dir

logger = logging.getLogger(__name__)
LINK = re.compile(r'(?:src|poster)="(?:\.\./)*_videos/([A-Za-z0-9_.-]+\.(?:mp4|png))"')


def copy_videos(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    sources = [Path(app.srcdir) / "_videos", cache_dir("videos")]
    names = {m for page in out.rglob("*.html") for m in LINK.findall(page.read_text(errors="ignore"))}
    (out / "_videos").mkdir(exist_ok=True)
    for name in sorted(names):
        dest = out / "_videos" / name
        if dest.exists():
            continue
        src = next((d / name for d in sources if (d / name).exists()), None)
        if src is None:
            logger.warning(f"video {name} is linked but missing; run `make clean book` to render it again")
            continue
        shutil.copyfile(src, dest)


def setup(app):
    app.connect("build-finished", copy_videos)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
