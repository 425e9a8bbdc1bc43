"""SQL for the team (issue 6): people, handoffs, shared settings and the audit chain.

A mixin of SqlStore: it uses the dialect hooks (_read, _write, _sql, _time_in/out,
_json_in/out, _append) that SqlStore defines, so both backends get it for free.
"""

from __future__ import annotations


class TeamSql:
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""
