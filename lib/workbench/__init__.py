"""The workbench: data, models, the one training loop and error function, measurement.

It sits above the topics (it may import them) and below the experiments.
"""
