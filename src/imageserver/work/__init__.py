"""The work kernel: job and artefact state, outcomes, leases, batching, the tick context."""
