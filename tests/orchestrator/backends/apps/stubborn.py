"""A long-running program that ignores SIGTERM: only SIGKILL ends it."""

import signal
import time

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stubborn up", flush=True)
    while True:
        time.sleep(0.1)
