"""``GET /v1/jobs/{id}``: an ingest job's progress (documents and chunks done, failures per document) and result;
``POST /v1/jobs/{id}/cancel`` stops it after the documents in flight.

A job belongs to its tenant: another tenant's job, like an unknown one, is 404. Any key of the tenant that may read
documents may follow it (the CLI's ``gateway collections ingest`` polls it with the key that created it).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed

READ = Guard(event="job.read", obj="documents", act="read")
CANCEL = Guard(event="job.cancel", obj="documents", act="write")


async def _read(call: Call) -> Reply:
    job_id = str(call.request.path_params["job_id"])
    body = await call.services.ingest_jobs.describe(call.principal.tenant, job_id)
    return Reply(body, audit={"job_id": job_id})


@get("/v1/jobs/{job_id:str}", summary="An ingest job: its status, progress, failures per document and result")
async def read_job(request: Request[Any, Any, Any], services: Services, job_id: str) -> Response[Any]:
    return await governed(request, services, READ, _read)


async def _cancel(call: Call) -> Reply:
    job_id = str(call.request.path_params["job_id"])
    body = await call.services.ingest_jobs.cancel(call.principal.tenant, job_id)
    return Reply(body, audit={"job_id": job_id})


@post("/v1/jobs/{job_id:str}/cancel", status_code=200, summary="Stop an ingest job after the documents in flight")
async def cancel_job(request: Request[Any, Any, Any], services: Services, job_id: str) -> Response[Any]:
    return await governed(request, services, CANCEL, _cancel)


ROUTES = [read_job, cancel_job]
