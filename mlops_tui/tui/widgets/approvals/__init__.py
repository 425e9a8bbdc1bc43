"""Widgets for approvals before production."""
