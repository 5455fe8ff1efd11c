"""The admin routes of the HTTP contract (docs/admin-api.md), for the suites that test them."""

#: Every admin route but ``/admin/shutdown``, which ends the service it is called on.
ADMIN_ROUTES = [
    ("POST", "/admin/pause"),
    ("POST", "/admin/resume"),
    ("POST", "/admin/flush"),
    ("POST", "/admin/save-state"),
    ("GET", "/admin/can-restart"),
    ("GET", "/admin/status"),
]
SHUTDOWN_ROUTE = ("POST", "/admin/shutdown")
