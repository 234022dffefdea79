"""The emulated avatar's media: what it plays (an audio timeline) and how it looks (video).

``AvatarMedia`` is the per-session source; each subscriber gets its own aiortc tracks that read
from it in real time, so every viewer hears the same audio at the same wall-clock moment.
"""

from .avatar import AvatarMedia
from .timeline import SAMPLE_RATE, AudioTimeline

__all__ = ["SAMPLE_RATE", "AudioTimeline", "AvatarMedia"]
