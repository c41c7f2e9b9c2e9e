"""Receive GitProductivity webhooks with FastAPI.

    WEBHOOK_SECRET=whsec_… python examples/fastapi_receiver.py          # listens on 127.0.0.1:3000
    gitproductivity listen --forward-to http://127.0.0.1:3000/webhooks   # in another terminal, to try it

During a secret rotation set WEBHOOK_SECRET to "new,old".
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from gitproductivity.receiver import Event, Idempotency, fastapi_webhook

app = FastAPI()
seen = Idempotency()  # in memory; Idempotency(SQLiteStore("webhooks.db")) survives restarts


def secrets() -> list[str]:
    return os.environ["WEBHOOK_SECRET"].split(",")


@app.post("/webhooks")
def receive(event: Annotated[Event, Depends(fastapi_webhook(secrets))]) -> dict[str, bool]:
    # Answer fast: do slow work in a queue of your own, the sender waits at most 30 s.
    with seen.once(event.id) as first:
        if first:
            handle(event)
        else:
            print(f"duplicate {event.id}", flush=True)
    return {"received": True}


def handle(event: Event) -> None:
    match event.type:
        case "developer.added":
            print(f"handled {event.type} {event.id}: {event.data['name']} <{event.data['email']}>", flush=True)
        case _:
            print(f"handled {event.type} {event.id}", flush=True)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
