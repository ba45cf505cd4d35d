"""Clickstream: browsing sessions on the web shop and in the app, some ending in a purchase.

Signal: rain sends people online (more sessions), campaigns bring sessions in through
their channel, about one session in twelve buys.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from producers.common import WeightedPicker, iso, new_id
from producers.domain import Domain

DEVICES = WeightedPicker(["web_desktop", "web_mobile", "ios_app", "android_app"], [25, 35, 22, 18])
CHANNELS = WeightedPicker(["direct", "organic_search", "paid_search", "social", "email", "referral"],
                          [30, 25, 12, 15, 10, 8])


def _event(rng: random.Random, session: dict, t: datetime, event_type: str, page: str,
           product_id: str | None = None, order_id: str | None = None) -> dict:
    return {"event_id": new_id(rng), "session_id": session["session_id"], "anonymous_id": session["anonymous_id"],
            "customer_id": session["customer_id"], "event_type": event_type, "page": page, "product_id": product_id,
            "order_id": order_id, "device": session["device"], "channel": session["channel"],
            "campaign_id": session["campaign_id"], "occurred_at": iso(t)}


def _session(rng: random.Random, domain: Domain, start: datetime) -> list[dict]:
    """All events of one browsing session, in time order."""
    customer = rng.choice(domain.customers).customer_id if rng.random() < 0.45 else None
    device, channel = DEVICES.pick(rng), CHANNELS.pick(rng)
    campaigns = domain.active_campaigns(start.date(), channel if channel in ("email", "social", "paid_search")
                                        else None)
    campaign = rng.choice(campaigns).campaign_id if campaigns and rng.random() < 0.6 else None
    session = {"session_id": new_id(rng), "anonymous_id": new_id(rng), "customer_id": customer,
               "device": device, "channel": channel, "campaign_id": campaign}
    t = start
    out = [_event(rng, session, t, "page_view", "/")]
    cart: list[str] = []
    for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
        t += timedelta(seconds=rng.uniform(3, 60))
        product = rng.choice(domain.products).product_id
        out.append(_event(rng, session, t, "product_view", f"/products/{product}", product))
        if rng.random() < 0.3:
            t += timedelta(seconds=rng.uniform(2, 20))
            cart.append(product)
            out.append(_event(rng, session, t, "add_to_cart", f"/products/{product}", product))
    if cart and rng.random() < 0.15:
        t += timedelta(seconds=rng.uniform(2, 30))
        out.append(_event(rng, session, t, "remove_from_cart", "/cart", cart.pop()))
    if cart and rng.random() < (0.6 if campaign else 0.45):
        t += timedelta(seconds=rng.uniform(10, 90))
        out.append(_event(rng, session, t, "checkout", "/checkout"))
        if rng.random() < 0.8:
            t += timedelta(seconds=rng.uniform(5, 40))
            out.append(_event(rng, session, t, "purchase", "/checkout/done", order_id=new_id(rng)))
    return out


def events(seed: int, domain: Domain, clock: Callable[[], datetime]) -> Iterator[dict]:
    """Events of many concurrent sessions, interleaved in event-time order.

    The clock gives session starts; each session's later clicks wait in a heap until
    their time comes, so a long session never holds back the others.
    """
    rng = random.Random(seed)
    pending: list[tuple[str, int, dict]] = []
    n = 0
    next_start = clock()
    while True:
        if pending and pending[0][0] <= iso(next_start):
            yield heapq.heappop(pending)[2]
            continue
        for event in _session(rng, domain, next_start):
            n += 1
            heapq.heappush(pending, (event["occurred_at"], n, event))
        next_start = clock()
