"""The shape of demand over time: the signal the Gold layer and the ML features should find.

Everything here is a pure function of time, a seed and the domain, so a replay with the
same seed yields the same data. Factors average about 1 over a week.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

# share of a day's store traffic per hour (UTC ~ local for the chain): closed at night,
# a breakfast rush, lunch, an after-school bump
_HOURLY = [0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.6, 1.9, 2.4, 1.5, 1.0, 1.2,
           2.0, 1.8, 0.9, 0.8, 1.3, 1.4, 1.0, 0.6, 0.3, 0.15, 0.05, 0.03]
_HOURLY_MEAN = sum(_HOURLY) / 24
# Monday .. Sunday
_WEEKDAY = [0.9, 0.88, 0.92, 0.95, 1.05, 1.25, 1.05]
_WEEKDAY_MEAN = sum(_WEEKDAY) / 7


def hour_factor(ts: datetime) -> float:
    """Morning peak, lunch peak, quiet nights; interpolated within the hour."""
    h = ts.hour + ts.minute / 60
    lo, hi = _HOURLY[int(h) % 24], _HOURLY[(int(h) + 1) % 24]
    return (lo + (hi - lo) * (h - int(h))) / _HOURLY_MEAN


def weekday_factor(ts: datetime) -> float:
    return _WEEKDAY[ts.weekday()] / _WEEKDAY_MEAN


def demand_factor(ts: datetime) -> float:
    """Store traffic relative to the weekly mean at this time."""
    return hour_factor(ts) * weekday_factor(ts)


def weather_for(seed: int, city: str, day: date) -> dict:
    """Daily weather of a city: seasonal temperature plus noise, rain on some days."""
    rng = random.Random(f"{seed}:{city}:{day.isoformat()}")
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365)  # warmest mid-July
    t_max = 16 + 10 * season + rng.gauss(0, 3)
    wet = rng.random()
    if wet < 0.55:
        condition, rain = ("sunny" if wet < 0.3 else "cloudy"), 0.0
    elif wet < 0.9:
        condition, rain = "rain", round(rng.uniform(1, 15), 1)
    else:
        condition, rain = ("snow" if t_max < 2 else "storm"), round(rng.uniform(10, 40), 1)
    return {"weather_id": f"{city}:{day.isoformat()}", "city": city, "date": day.isoformat(),
            "temp_max_c": round(t_max, 1), "temp_min_c": round(t_max - rng.uniform(4, 10), 1),
            "precipitation_mm": rain, "condition": condition}


def weather_factor(weather: dict, online: bool = False) -> float:
    """Rain keeps people at home: fewer walk-ins, more online orders."""
    wet = weather["condition"] in ("rain", "storm", "snow")
    if online:
        return 1.35 if wet else 0.95
    return 0.75 if wet else 1.05


class DemandClock:
    """Event times of a stream: a Poisson process whose rate follows demand over time.

    ``rate`` is the mean events per (simulated) second over a week. Without ``start``,
    the clock follows the wall clock (live mode); with it, time is simulated from there.
    """

    def __init__(self, rng: random.Random, rate: float, start: datetime, shaped: bool = True) -> None:
        self.rng, self.rate, self.t, self.shaped = rng, rate, start, shaped

    def __call__(self) -> datetime:
        # thinning: draw at the peak rate, keep a draw with probability factor/peak
        peak = 3.5 if self.shaped else 1.0
        while True:
            self.t += timedelta(seconds=self.rng.expovariate(self.rate * peak))
            if not self.shaped or self.rng.random() < demand_factor(self.t) / peak:
                return self.t


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
