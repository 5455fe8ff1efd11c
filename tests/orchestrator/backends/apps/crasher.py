"""A program that fails at once with a message on stderr, like a service with a bad config."""

import sys

if __name__ == "__main__":
    print("fatal: cannot read /etc/trading/execution.toml", file=sys.stderr, flush=True)
    sys.exit(3)
