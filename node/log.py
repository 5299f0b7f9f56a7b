"""Logging in Redis's format: `pid:R dd Mon yyyy hh:mm:ss.mmm <level-char> message`.

R is the role (C before the configuration is loaded and in forked children, M master,
S replica); the level characters are Redis's: . debug, - verbose, * notice, # warning.
The pid is taken at each line, so a forked child's lines carry its own.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
LEVEL_CHARS = ".-*#"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Logger:
    def __init__(self, logfile: str = "", level: str = "notice") -> None:
        self.level = LEVELS.get(level, 2)
        self.role = "M"  # M master, S replica, C forked child
        self.logfile = logfile
        self._stream: TextIO = sys.stdout
        if logfile:
            self._stream = open(logfile, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def set_level(self, level: str) -> None:
        self.level = LEVELS.get(level, 2)

    def log(self, level: int, message: str) -> None:
        if level < self.level:
            return
        now = time.time()
        tm = time.localtime(now)
        stamp = f"{tm.tm_mday:02d} {MONTHS[tm.tm_mon - 1]} {tm.tm_year} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{int(now * 1000) % 1000:03d}"
        try:
            self._stream.write(
                f"{os.getpid()}:{self.role} {stamp} {LEVEL_CHARS[level]} {message}\n"
            )
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def debug(self, message: str) -> None:
        self.log(0, message)

    def verbose(self, message: str) -> None:
        self.log(1, message)

    def notice(self, message: str) -> None:
        self.log(2, message)

    def warning(self, message: str) -> None:
        self.log(3, message)
