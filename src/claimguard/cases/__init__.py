"""疑点交办: flag findings as cases worked by the jurisdiction they are assigned to.

lifecycle (statuses, allowed transitions), access (users, tokens, pseudonyms), service
(every read and write, scoped to the caller's subtree and audited), queries (named queries
and scoped read-only SQL), cli (the `cases`, `query`, `users`, `console`, `rules stats`
subcommands; imported by every `claimguard` run, so it imports the store lazily). The
store (schemas/clickhouse/020–023) is the single source of truth.
"""
