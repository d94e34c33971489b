"""``chaositbench bench``: many scenarios × agents × repeats, in parallel; results and a report.

- :mod:`.plan` — which runs to make (experiments × agents × repeats) and where each writes;
- :mod:`.runner` — one ``chaos run`` per run, in a pool of workers, with progress;
- :mod:`.results` — the aggregates of DESIGN §3 (resolution rate, mean score, criteria, pass^k);
- :mod:`.report` — the console table and ``report.html``.
"""
