"""Draws the synthetic avatar: a face whose mouth opens with the audio's loudness, plus the
session id and the current utterance, so a person can see who is speaking what.

Kept cheap (2 cores are shared): the face is drawn once, mouths are precomputed masks and text
strips are re-rendered only when their text changes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

WIDTH = 320
HEIGHT = 240
MOUTH_LEVELS = 12
_BG = (24, 32, 56)
_SKIN = (224, 178, 140)
_EYE = (40, 30, 30)
_MOUTH = (120, 20, 30)
_TEXT = (240, 240, 240)
_STRIP_H = 28

Frame = npt.NDArray[np.uint8]


def _face() -> Frame:
    img = Image.new("RGB", (WIDTH, HEIGHT), _BG)
    draw = ImageDraw.Draw(img)
    cx, cy = WIDTH // 2, HEIGHT // 2
    draw.ellipse((cx - 70, cy - 85, cx + 70, cy + 75), fill=_SKIN)
    for dx in (-28, 28):
        draw.ellipse((cx + dx - 9, cy - 30, cx + dx + 9, cy - 14), fill=_EYE)
    return np.asarray(img, dtype=np.uint8).copy()


def _mouth_masks() -> list[npt.NDArray[np.bool_]]:
    """Boolean masks of the mouth, from closed (a line) to wide open."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    cx, cy = WIDTH // 2, HEIGHT // 2 + 38
    masks = []
    for level in range(MOUTH_LEVELS):
        ry = 2.0 + level * 2.2
        rx = 30.0 - level * 0.8
        masks.append(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0)
    return masks


def _strip(text: str) -> Frame:
    img = Image.new("RGB", (WIDTH, _STRIP_H), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    draw.text((6, 7), text, fill=_TEXT, font=font)
    return np.asarray(img, dtype=np.uint8).copy()


class AvatarRenderer:
    """Renders RGB frames (``HEIGHT x WIDTH x 3``) for one session."""

    def __init__(self, session_id: str) -> None:
        self._base = _face()
        self._masks = _mouth_masks()
        self._base[:_STRIP_H] = _strip(f"session {session_id}")
        self._caption = ""
        self._caption_strip = _strip("")

    def frame(self, loudness: float, caption: str) -> Frame:
        """One frame: mouth opened by ``loudness`` (0..1), ``caption`` at the bottom."""
        if caption != self._caption:
            self._caption = caption
            self._caption_strip = _strip(caption[:48])
        out = self._base.copy()
        level = min(MOUTH_LEVELS - 1, round(max(0.0, loudness) * (MOUTH_LEVELS - 1)))
        out[self._masks[level]] = _MOUTH
        out[HEIGHT - _STRIP_H :] = self._caption_strip
        return out
