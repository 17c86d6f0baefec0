"""Other frameworks on the tasks: TorchRL, Tianshou, d3rlpy, Gymnasium's RecordVideo.

Every test here is marked ``interop`` and skips, with one line, where the
``interop`` extra is missing; ``.ci/run`` runs them in a venv of their own.
"""
