"""The agent controller: the sandbox (scoped identity), the trajectory (audit log), the hand-over and the agents."""
