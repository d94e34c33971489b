"""Controllers of the simulated cluster: reconcile loops fed by watch events."""
