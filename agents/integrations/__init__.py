"""Glue to optional libraries; each module needs its extra.

* :mod:`.sb3`: Stable-Baselines3 training, values and the cross-check (``sb3``).
* :mod:`.plotting`: the figures (``plots``).
* :mod:`.rllib`: Ray RLlib's PPO and Ray Tune against the optimum (``ray``).
* :mod:`.ray_session`: starting a local Ray or joining a cluster (``ray``).
"""
