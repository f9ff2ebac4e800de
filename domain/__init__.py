"""Perfledger's domain: aggregates, their events, value objects and rule evaluation.

Pure Python: nothing here imports web or database code.
"""
