"""Photos: decoded and re-encoded as Telegram does, so that what is stored and sent is a
clean JPEG without metadata (EXIF location stripped by default), with thumbnails in
Telegram's sizes. Pillow does the pixel work in a thread; nothing else is held in memory
but the image being converted."""

from __future__ import annotations

import hashlib
import os
import tempfile

from PIL import Image, ImageOps, UnidentifiedImageError

from kurir.domain import errors

# Telegram's photo sizes: s (box 100), m (320), x (800), y (1280), w (2560) for the photo
THUMBS = (("s", 100), ("m", 320), ("x", 800))
MAX_SIDE = 2560
MAX_PIXELS = 50_000_000  # refuse decompression bombs before decoding them
QUALITY = 87


class Rendition:
    """One encoded JPEG: where it lies, and what it is."""

    def __init__(self, path: str, sha256: str, size: int, width: int, height: int) -> None:
        self.path, self.sha256, self.size = path, sha256, size
        self.width, self.height = width, height


def _save(img: Image.Image, folder: str) -> Rendition:
    fd, path = tempfile.mkstemp(dir=folder, prefix=".photo-", suffix=".jpg")
    with os.fdopen(fd, "wb") as f:
        img.save(f, "JPEG", quality=QUALITY, optimize=True)  # no exif= : no metadata
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return Rendition(path, digest.hexdigest(), os.path.getsize(path), img.width, img.height)


def render(source: str, folder: str) -> tuple[Rendition, list[tuple[str, Rendition]]]:
    """The photo (at most MAX_SIDE a side) and its thumbnails, as files in `folder`."""
    try:
        with Image.open(source) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise errors.MEDIA_INVALID("that image is too large")
            probe.verify()
        with Image.open(source) as opened:
            img = ImageOps.exif_transpose(opened)  # keep the orientation, lose the rest
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        raise errors.MEDIA_INVALID("that file is not an image") from e
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    photo = _save(img, folder)
    thumbs = []
    for name, side in THUMBS:
        if max(img.width, img.height) <= side:
            continue
        small = img.copy()
        small.thumbnail((side, side))
        thumbs.append((name, _save(small, folder)))
    return photo, thumbs
