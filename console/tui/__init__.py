"""The console's face: a Textual app with screens for the fleet, a model, alerts, approvals,
audit and query. It shows what ``analytics`` computes and acts through ``governance``; it never
computes its own numbers, and every query runs in a worker. Nothing imports this package.
"""
