"""Offline evaluation of routing policies on datasets: RouteLLM's curves, APGR and CPT, and live runs.

`metrics` is the pure maths and `charts` / `display` the pure presentation; `replay` loads a dataset's
two recorded models with prices, `runner` claims and runs an evaluation (recorded answers replayed),
`live` runs one with real calls; `services` creates and attaches evaluations, `selectors` reads them.
"""
