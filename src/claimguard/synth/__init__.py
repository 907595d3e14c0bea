"""Synthetic knowledge base and settlement events with injected violations of every code.

    from claimguard.synth import generate
    summary = generate(Path("data/synth"), settlements=10_000, seed=1)

writes `knowledge/*.csv` (contract §2), `events.jsonl` (contract §1, in `occurred_at`
order, with a few broken lines, reversals and redelivered events) and `injected.jsonl`:
one row `{"settlement_id", "violation", "variant"}` per settlement a correct engine must
flag with that code, plus `"reversed": true` when the settlement is cancelled afterwards.
Everything else in the stream is clean under contract §3.
"""

from claimguard.synth.generator import SynthSummary, generate
from claimguard.synth.violations import VIOLATIONS

__all__ = ["VIOLATIONS", "SynthSummary", "generate"]
