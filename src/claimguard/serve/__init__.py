"""`claimguard serve`: synchronous checks over HTTP (contract §8, §9) on top of the stream.

Own shape (`/v1/check`) and the national 3101/3102/3103 shapes; the answer is the worker's
decision for the published event, or pass/unchecked when it does not come in time."""
