"""Learned perception (torch): see docs/ once implemented."""
