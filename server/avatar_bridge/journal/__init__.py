"""The durable record of the LiveAvatar sessions this bridge must still stop.

An intent is written before a token request goes out, the session id once it is known, and the
entry is removed once the session is stopped (or LiveAvatar ended it). After a crash, whatever
is left belongs to a process that can no longer stop it: the next start (SQLite) or any live
replica (Redis) adopts it and stops it.
"""

from avatar_bridge.journal.base import Entry, Journal, MemoryJournal
from avatar_bridge.journal.factory import open_journal

__all__ = ["Entry", "Journal", "MemoryJournal", "open_journal"]
