"""Receive GitProductivity webhooks with Flask.

    WEBHOOK_SECRET=whsec_… python examples/flask_receiver.py            # listens on 127.0.0.1:3000
    gitproductivity listen --forward-to http://127.0.0.1:3000/webhooks   # in another terminal, to try it

During a secret rotation set WEBHOOK_SECRET to "new,old".
"""

from __future__ import annotations

import os

from flask import Flask

from gitproductivity.receiver import Event, Idempotency, flask_webhook

app = Flask(__name__)
seen = Idempotency()  # in memory; Idempotency(SQLiteStore("webhooks.db")) survives restarts


def secrets() -> list[str]:
    return os.environ["WEBHOOK_SECRET"].split(",")


@app.post("/webhooks")
@flask_webhook(secrets)  # reads the raw body: request.get_json() re-serialised would not verify
def receive(event: Event) -> dict[str, bool]:
    with seen.once(event.id) as first:
        if first:
            handle(event)
        else:
            print(f"duplicate {event.id}", flush=True)
    return {"received": True}


def handle(event: Event) -> None:
    if event.type == "developer.added":
        print(f"handled {event.type} {event.id}: {event.data['name']} <{event.data['email']}>", flush=True)
    else:
        print(f"handled {event.type} {event.id}", flush=True)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
