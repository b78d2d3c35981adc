"""Reporters: they render results and never decide anything."""
