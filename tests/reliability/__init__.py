"""Reliability: many processes at once, killed writers, lost servers, bad input, old files."""
