"""Rule lifecycle in a running worker: reload packs and knowledge without a restart."""

from claimguard.lifecycle.reload import Reloader, carry_state, loaded_digest

__all__ = ["Reloader", "carry_state", "loaded_digest"]
