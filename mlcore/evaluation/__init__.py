"""Measuring colorizers (the paper's Table 1): research tooling, never imported by the product.

evaluate.py runs an evaluation; metrics.py, top1.py and cost.py are its columns, data.py its
photos, report.py its table and plot.
"""
