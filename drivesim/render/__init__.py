"""Rendering for humans (top-down views); separate from the observation path."""
