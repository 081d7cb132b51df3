"""Analytics: every number the console shows — drift, performance with late labels, slices and
fairness, ops, cost, alerts, and read-only SQL. Pure functions over a ``StoreDB``; no Textual.
"""
