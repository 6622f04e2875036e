"""Durable background jobs: long work (a batch of embeddings, a large ingest) that survives a crash or a restart.

How to add a kind of job (the batch API's is ``gateway.pipeline.batches.BatchKind``):

1. Write a class with a ``name`` and the three coroutines of ``JobKind`` (``gateway.jobs.base``):
   ``load(job)`` returns the job's items in a fixed order (it is called again after every restart, so it must
   rebuild the same list from what the job's ``params`` name; it raises ``JobFailed(errors)`` when the job can never
   run, e.g. its input was deleted); ``run(job, items)`` runs a group of them through
   the governed use case as the job's creator (``job.principal()``) and returns one ``ItemOutcome`` per item, a
   refusal included (an item's own failure is an outcome, never an exception); ``finish(job, outcomes, state)``
   builds the job's result (a JSON-able dict, e.g. the ids of the output files) once every item is answered, or
   when the job was cancelled (``state`` is then ``cancelled``).
2. Register it: ``services.jobs.register(MyKind(...))`` in ``gateway/bootstrap.py``.
3. Create a job from a use case: ``await services.jobs.create(principal, kind, params, total)`` returns the
   queued ``Job`` (audited as ``job.created``); the runner picks it up.

What the core guarantees: each item's outcome is stored durably (sealed under the tenant's data key) in the same
transaction that advances the job's counters, so after ``kill -9`` the job resumes from the last durable item and
every item is answered exactly once; a lease in the database (``lease_owner``, ``lease_until``) lets any replica
pick up a job but never two at once; jobs run in slices of one group of ``jobs_inflight_items`` items (more while
idle), taking turns across tenants (weighted by the policy's ``scheduling.weight``) and across a tenant's jobs
(``gateway.jobs.fairness``), at a lower priority than interactive requests. Audit: ``job.created``,
``job.resumed``, ``job.cancelled``, ``job.completed``.
"""

from gateway.jobs.base import ACTIVE_STATES, FINAL_STATES, ItemOutcome, Job, JobFailed, JobKind, JobStore, StoredItem

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "ItemOutcome", "Job", "JobFailed", "JobKind", "JobStore", "StoredItem"]
