"""The analysts' console: a server-rendered aiohttp + Jinja2 app over CaseService.

Standalone (`claimguard console --store T`) when no worker holds an embedded store, or a
thread inside the worker (`claimguard worker ... --console HOST:PORT`) sharing the
worker's store client under the worker's store lock.
"""
