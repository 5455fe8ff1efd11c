"""Exit codes of ``restartctl``, one meaning each (cron and CronJobs alert on them).

Example::

    $ restartctl run -c fleet.toml; echo $?
    3        # BLOCKED: the restart gate never cleared; nothing was changed
"""

from __future__ import annotations

OK = 0
FAILED = 1  # the run started changing the fleet and did not finish; trading left paused
CONFIG_ERROR = 2  # bad configuration or command-line usage; nothing was touched
BLOCKED = 3  # the restart gate (/admin/can-restart) never cleared; paused services resumed
OUTSIDE_WINDOW = 4  # outside the restart window, in a blackout, or an unrecovered journal
LOCK_HELD = 4  # another run holds the fleet lock

__all__ = ["BLOCKED", "CONFIG_ERROR", "FAILED", "LOCK_HELD", "OK", "OUTSIDE_WINDOW"]
