"""SQL for the registry's extras (issue 8): approvals, webhooks and their outbox, clean-up.

A mixin of SqlStore: it uses the dialect hooks (_read, _write, _sql, _time_in/out,
_json_in/out, _append) that SqlStore defines, so both backends get it for free.
"""

from __future__ import annotations


class RegistrySql:
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""
