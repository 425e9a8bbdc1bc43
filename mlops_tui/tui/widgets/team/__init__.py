"""Widgets of the team's views (issue 6): the inbox's handoffs, their checklists."""
