"""The example trading fleet: five FastAPI services built on ``shutdown_sdk``.

``ai_engine`` (8001), ``execution`` (8002), ``risk_safety`` (8003),
``portfolio_intelligence`` (8004), ``monitoring_health`` (8005); ``layout`` renders
the supervisord configuration and the fleet file for any ports and directories.
"""

__version__ = "1.0.0"

__all__ = ["__version__"]
