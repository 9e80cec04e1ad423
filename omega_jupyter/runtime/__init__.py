"""The runtime: every kind of run recorded, sent to Dask and followed through RunHandles.

``service.Runtime`` is ``om.runtime`` (submission), ``lifecycle.run_task`` the one Dask task
(the worker side), ``kinds`` what a kind of run registers, ``runs`` the run rows, ``events``
their lifecycle messages, ``handle.RunHandle`` a run followed from any process, ``worker``
what a worker process needs around a task, ``cluster`` which Dask cluster runs the work.
Importing the package imports none of them.
"""
