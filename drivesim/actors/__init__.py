"""Actors: the ego's bicycle model, NPC cars (IDM), pedestrians and traffic lights."""
