"""A long-running program that exits promptly (status 0) on SIGTERM."""

import signal
import sys
import time


def _stop(signum: int, frame: object) -> None:
    print("SIGTERM received, exiting", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    print("gentle up", flush=True)
    while True:
        time.sleep(0.1)
