"""The runnable experiments; each module is one job with ``main(argv)``.

* :mod:`.main_job`: solve, train every learner, compare, plot.
* :mod:`.lesson`: every lab of the lesson, one function per lab.
* :mod:`.sb3_crosscheck`: SB3's learners against value iteration.
* :mod:`.benchmark_agents`: any agent against the exact optimum of a suite.
* :mod:`.offline`: logs, fitted models and off-policy evaluation.
* :mod:`.draw_task`: a task's MDP drawn from its table.
* :mod:`.rllib_ppo`: RLlib's PPO, or a Ray Tune grid of it, against the optimum.
* :mod:`.speed`: side-by-side speed ratios (with :mod:`.speed_baselines`).
* :mod:`.arguments`: command-line argument types they share.
* :mod:`.outputs`: the output folder checked first, and every job's ending:
  the JSON record, then the plots or one line naming the extra.

The files in ``scripts/`` only call these ``main`` functions.
"""
