"""Glue to optional libraries; each module needs its extra.

* :mod:`.sb3`: Stable-Baselines3 training, values and the cross-check (``sb3``).
* :mod:`.plotting`: the figures (``plots``).
"""
