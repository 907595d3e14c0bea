"""The shared context every part of the generator draws from."""

from __future__ import annotations

import random
from dataclasses import dataclass

from claimguard.synth.catalog import Catalog
from claimguard.synth.clock import Clock
from claimguard.synth.geography import Geography
from claimguard.synth.population import People


@dataclass(slots=True)
class World:
    rng: random.Random
    clock: Clock
    days: int  # simulated days; every event falls in [0, days)
    catalog: Catalog
    geo: Geography
    people: People
