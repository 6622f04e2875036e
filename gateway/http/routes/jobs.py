"""``GET /v1/jobs/{id}``: an ingest job's progress (documents and chunks done, failures per document) and result.

A job belongs to its tenant: another tenant's job, like an unknown one, is 404. Any key of the tenant that may read
documents may follow it (the CLI's ``gateway collections ingest`` polls it with the key that created it).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed

READ = Guard(event="job.read", obj="documents", act="read")


async def _read(call: Call) -> Reply:
    job_id = str(call.request.path_params["job_id"])
    body = await call.services.ingest_jobs.describe(call.principal.tenant, job_id)
    return Reply(body, audit={"job_id": job_id})


@get("/v1/jobs/{job_id:str}", summary="An ingest job: its status, progress, failures per document and result")
async def read_job(request: Request[Any, Any, Any], services: Services, job_id: str) -> Response[Any]:
    return await governed(request, services, READ, _read)


ROUTES = [read_job]
