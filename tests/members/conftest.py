"""The real SMTP server fixture is shared with the webhook tests."""

from tests.webhooks.conftest import smtp

__all__ = ["smtp"]
