"""Fairness audits: rater effects, inter-rater reliability and group disparities.

Everything in this package is a pure function of its inputs (numpy arrays and parameters, plus
an explicit seed where randomness is involved), so an audit re-run on the same inputs gives the
same numbers bit for bit.
"""
