"""Glue to optional libraries; each module needs its extra.

Glue sits above what it glues: these modules may import the benchmark, the
offline package, evaluation and everything below them, and nothing below
imports them (the jobs do).

* :mod:`.sb3`: Stable-Baselines3 training, values, the cross-check and the
  built-in ``sb3:ALGORITHM`` agents of the benchmark (``sb3``).
* :mod:`.sb3_settings`: the SB3 hyperparameters, plain data importable without
  SB3.
* :mod:`.rllib`: Ray RLlib's PPO and Ray Tune against the optimum (``ray``).
* :mod:`.plotting`: the figures of the main job and the benchmark (``plots``).
* :mod:`.task_diagram`: a task's states and transitions drawn (``plots``).
* :mod:`.offline_plots`: the figures of the offline story (``plots``).
* :mod:`.minari_export`: an offline log exported to Minari (``minari``).
* :mod:`.d3rlpy_cql`: d3rlpy's DiscreteCQL on such an export (``interop``).
"""
