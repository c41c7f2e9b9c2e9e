"""Receive GitProductivity webhooks with Django (a one-file project; in yours, the view goes in views.py).

    WEBHOOK_SECRET=whsec_… python examples/django_receiver.py           # listens on 127.0.0.1:3000
    gitproductivity listen --forward-to http://127.0.0.1:3000/webhooks   # in another terminal, to try it

The decorator exempts the view from CSRF (the signature proves the sender) and accepts POST only.
During a secret rotation set WEBHOOK_SECRET to "new,old".
"""

from __future__ import annotations

import os
import secrets as random_secrets
import sys

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=random_secrets.token_urlsafe(32),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
    )

from django.http import HttpRequest, JsonResponse
from django.urls import path

from gitproductivity.receiver import Event, Idempotency, django_webhook

seen = Idempotency()  # in memory; Idempotency(SQLiteStore("webhooks.db")) survives restarts


def secrets() -> list[str]:
    return os.environ["WEBHOOK_SECRET"].split(",")


@django_webhook(secrets)
def webhooks(request: HttpRequest, event: Event) -> JsonResponse:
    with seen.once(event.id) as first:
        if first:
            handle(event)
        else:
            print(f"duplicate {event.id}", flush=True)
    return JsonResponse({"received": True})


def handle(event: Event) -> None:
    if event.type == "developer.added":
        print(f"handled {event.type} {event.id}: {event.data['name']} <{event.data['email']}>", flush=True)
    else:
        print(f"handled {event.type} {event.id}", flush=True)


urlpatterns = [path("webhooks", webhooks)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    port = os.environ.get("PORT", "3000")
    execute_from_command_line([sys.argv[0], "runserver", "--noreload", f"127.0.0.1:{port}"])
