"""Driving agents: the privileged expert (numpy only) and learned policies (torch, SB3).

Import submodules directly; this package does not import torch on its own."""
