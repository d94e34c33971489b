"""Chaos Toolkit actions of the agent controller: ``{"type": "python", "module": "chaositbench.agent.actions", "func": "hand_over"}``."""

from __future__ import annotations

from .controller import hand_over

__all__ = ["hand_over"]
