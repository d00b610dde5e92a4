"""The work kernel, below every feature: what all drains share, naming no feature.

- outcome.py    an attempt's outcome, the one give-up rule (`settle`), backoff
- artefacts.py  hash-keyed job state (the `artefacts` table): claim, lease, record
- leases.py     who this process is (boot id, pid, start time), lease length, the
                release of a dead predecessor's leases at start-up
- drain.py      the one Drain protocol and the one runner every drain goes through
- pool.py       batching: the shared drain thread pool, chunks
- pause.py      a drain-wide pause while a service it needs is down
- backlog.py    backlog and coverage queries shared by the stats surfaces
- tick.py       what a tick hands a drain (TickContext)
- context.py    the process context (AppContext), typed fields only
- ports.py      Protocols for what features hand each other through the context
- throttle.py   the login backoff the context holds
- deps.py       FastAPI dependencies: the context, read and write connections
- runtime.py    process-level tuning (malloc arenas)
"""
