"""Widgets for approvals before production (issue 8)."""
