"""The benchmarked apps: one small trading service, wired three ways.

- :mod:`~benchmarks.apps.bare`: the service alone.
- :mod:`~benchmarks.apps.sdk`: with the SDK (middleware, admin router included
  before the service's routes, lifecycle), as a user would add it.
- :mod:`~benchmarks.apps.handrolled`: the usual alternative, an in-flight counter
  in a ``BaseHTTPMiddleware``.
- :mod:`~benchmarks.apps.naive`: the original runbook's ``/admin/shutdown``, a
  fixed ``asyncio.sleep(5)`` before saving and exiting.
"""
