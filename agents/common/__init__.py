"""The bottom shelf: small helpers every other folder of ``agents`` may use.

Nothing here imports the rest of ``agents``; optional libraries are imported
only when a function that needs them is called.

* :mod:`.optional`: whether an optional library is installed, and which extra
  brings it.
* :mod:`.progress`: progress bars (the ``progress`` extra).
* :mod:`.ray_session`: starting a local Ray or joining a cluster (``ray``).
* :mod:`.json_values`: values as strict JSON (non-finite numbers as null), and
  back.
* :mod:`.markdown_table`: the one Markdown table formatter.
"""
