"""The Dask cluster a monitor runs on: a LocalCluster (default), an existing scheduler, or Kubernetes."""

from __future__ import annotations

import logging
from typing import Any

from .spec import ClusterSpec

logger = logging.getLogger(__name__)


async def connect(cluster: ClusterSpec) -> tuple[Any, Any]:
    """An asynchronous ``distributed.Client`` for ``cluster``, and the cluster object it owns (or None)."""
    from distributed import Client, LocalCluster

    if cluster.address:
        security = cluster.tls.security() if cluster.tls is not None else None
        client = await Client(cluster.address, asynchronous=True, security=security)
        return client, None
    if cluster.kubernetes is not None:
        from .k8s import launch_cluster  # optional: needs dask-kubernetes and a reachable cluster

        owned = launch_cluster(cluster.kubernetes)
        client = await Client(owned.scheduler_address, asynchronous=True)
        return client, owned
    local = cluster.local
    network = {"host": "127.0.0.1"} if local.processes else {}  # threads only: in-process comms, nothing bound
    owned = await LocalCluster(
        n_workers=local.n_workers,
        threads_per_worker=local.threads_per_worker,
        processes=local.processes,
        memory_limit=local.memory_limit,
        dashboard_address=local.dashboard_address,
        asynchronous=True,
        **network,
    )
    client = await Client(owned, asynchronous=True)
    return client, owned
