"""Widgets of the team's views: the inbox's handoffs, their checklists."""
