"""Equipment metrics: readings of every device in turn, every few seconds.

Signal: for three days before each of its failures a device drifts (temperature off its
set point, more vibration, more power), turns to "warning" in the last day, and reports
"fault" for two hours at the failure; then it is repaired.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from producers.common import iso, new_id
from producers.domain import DEVICE_TYPES, Device, Domain

DEGRADATION = timedelta(days=3)
REPAIR = timedelta(hours=2)


def health(device: Device, t: datetime) -> float:
    """0 for a healthy device, rising to 1 at a failure; -1 while it is broken."""
    for failure in device.failures:
        if failure <= t < failure + REPAIR:
            return -1.0
        if failure - DEGRADATION <= t < failure:
            return 1 - (failure - t) / DEGRADATION
    return 0.0


def events(seed: int, domain: Domain, clock: Callable[[], datetime]) -> Iterator[dict]:
    rng = random.Random(seed)
    i = 0
    while True:
        t = clock()
        device = domain.devices[i % len(domain.devices)]
        i += 1
        set_point, power = DEVICE_TYPES[device.device_type]
        h = health(device, t)
        if h < 0:
            temperature, watts, vibration, status = set_point * rng.uniform(0.1, 0.4), 0.0, 0.2, "fault"
        else:
            drift = 1 + 0.12 * h ** 2 * (1 if device.device_type != "refrigerator" else 2.5)
            temperature = set_point * drift + rng.gauss(0, max(0.5, set_point * 0.01))
            watts = power * (1 + 0.3 * h) * rng.uniform(0.85, 1.1)
            vibration = rng.uniform(0.5, 2.0) * (1 + 4 * h ** 2)
            status = "warning" if h > 0.66 else "ok"
        yield {"event_id": new_id(rng), "device_id": device.device_id, "store_id": device.store_id,
               "device_type": device.device_type, "temperature_c": round(temperature, 2),
               "power_kw": round(watts, 3), "door_cycles": rng.randint(0, 6) if h >= 0 else 0,
               "vibration_mm_s": round(vibration, 3), "status": status, "read_at": iso(t)}
