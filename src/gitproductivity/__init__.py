"""GitProductivity: per-developer metrics from git history, delivered through signed, retried webhooks."""

__version__ = "0.1.0"
