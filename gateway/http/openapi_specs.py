"""JSON Schemas of what the handlers really accept and return, for the OpenAPI document at ``/schema``.

Handlers take the raw request and parse bodies themselves (so every error keeps our shape and is audited); these
schemas restate the same rules for clients and fuzzers. ``tests/hardening`` fuzzes the app against them, so a
schema that drifts from its handler fails a test.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

NON_BLANK = r"\S"  # the handlers reject strings that are empty after strip()
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}$"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_SCALAR: Schema = {"type": ["string", "integer", "number", "boolean", "null"]}

COMPONENTS: dict[str, Schema] = {
    "OpenAIError": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["message", "type", "param", "code"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                           "param": {"type": ["string", "null"]}, "code": {"type": "string"}},
        }},
    },
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail", "code", "request_id"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}, "code": {"type": "string"},
                       "request_id": {"type": "string"}, "param": {"type": "string"}},
    },
    "EmbeddingRequest": {
        "type": "object", "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "minLength": 1, "examples": ["all-MiniLM-L6-v2"]},
            "input": {"oneOf": [
                {"type": "string", "pattern": NON_BLANK},
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": {"type": "string", "pattern": NON_BLANK}},
            ]},
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": {"type": "integer"},
            "user": {"type": "string", "maxLength": 256},
        },
    },
    "EmbeddingList": {
        "type": "object", "required": ["object", "data", "model", "usage"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {
                "type": "object", "required": ["object", "index", "embedding"],
                "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"},
                               "embedding": {"oneOf": [{"type": "string"},
                                                       {"type": "array", "items": {"type": "number"}}]}},
            }},
            "model": {"type": "string"},
            "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"],
                      "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}},
        },
    },
    "CollectionCreate": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": NAME_PATTERN},
                       "model": {"type": "string", "examples": ["all-MiniLM-L6-v2"]},
                       "index_type": {"type": "string", "enum": ["flat", "hnsw", "ivf"]}},
    },
    "Collection": {
        "type": "object",
        "required": ["name", "model", "model_version", "dimension", "index_type", "retain_text", "created_at",
                     "chunk_count"],
        "properties": {"name": {"type": "string"}, "model": {"type": "string"}, "model_version": {"type": "string"},
                       "dimension": {"type": "integer"}, "index_type": {"type": "string"},
                       "retain_text": {"type": "boolean"}, "created_at": {"type": ["string", "number"]},
                       "chunk_count": {"type": "integer"}},
    },
    "CollectionList": {"type": "object", "required": ["collections"],
                       "properties": {"collections": {"type": "array", "items": _ref("Collection")}}},
    "Deleted": {"type": "object", "required": ["deleted", "chunks_removed"],
                "properties": {"deleted": {"type": "string"}, "chunks_removed": {"type": "integer"}}},
    "IngestRequest": {
        "type": "object", "required": ["documents"],
        "properties": {"documents": {"type": "array", "minItems": 1, "maxItems": 256, "items": {
            "type": "object", "required": ["id", "text"],
            "properties": {"id": {"type": "string", "pattern": DOC_ID_PATTERN},
                           "text": {"type": "string", "pattern": NON_BLANK, "maxLength": 32768},
                           "metadata": {"type": "object", "additionalProperties": _SCALAR}},
        }}},
    },
    "IngestResult": {
        "type": "object", "required": ["collection", "results"],
        "properties": {"collection": {"type": "string"}, "results": {"type": "array", "items": {
            "type": "object", "required": ["document_id", "status", "chunks", "record_ids", "pii"],
            "properties": {"document_id": {"type": "string"}, "status": {"enum": ["stored", "blocked"]},
                           "chunks": {"type": "integer"}, "record_ids": {"type": "array", "items": {"type": "string"}},
                           "pii": {"type": "object"}, "blocked_types": {"type": "array", "items": {"type": "string"}}},
        }}},
    },
    "SearchRequest": {
        "type": "object", "required": ["query"],
        "properties": {"query": {"type": "string", "pattern": NON_BLANK, "maxLength": 32768},
                       "k": {"type": "integer", "minimum": 1, "maximum": 100},
                       "filter": {"type": "object", "additionalProperties": _SCALAR}},
    },
    "SearchResult": {
        "type": "object", "required": ["collection", "results"],
        "properties": {"collection": {"type": "string"}, "results": {"type": "array", "items": {
            "type": "object", "required": ["document_id", "chunk_id", "chunk_index", "span", "score", "metadata",
                                           "provenance"],
            "properties": {"document_id": {"type": "string"}, "chunk_id": {"type": "string"},
                           "chunk_index": {"type": "integer"}, "span": {"type": "array", "items": {"type": "integer"}},
                           "score": {"type": "number"}, "metadata": {"type": "object"},
                           "provenance": {"type": "object"}, "text": {"type": "string"}},
        }}},
    },
    "DocumentProvenance": {
        "type": "object", "required": ["collection", "document_id", "chunks"],
        "properties": {"collection": {"type": "string"}, "document_id": {"type": "string"},
                       "chunks": {"type": "array",
                                  "items": {"type": "object", "required": ["record_id", "provenance"]}}},
    },
    "RotateResult": {"type": "object", "required": ["tenant", "key_version"],
                     "properties": {"tenant": {"type": "string"}, "key_version": {"type": "integer"}}},
    "ShredRequest": {"type": "object", "required": ["confirm"], "properties": {"confirm": {"type": "string"}}},
    "ShredResult": {"type": "object", "required": ["tenant", "shredded", "chunks_forgotten"],
                    "properties": {"tenant": {"type": "string"}, "shredded": {"const": True},
                                   "chunks_forgotten": {"type": "integer"}}},
    "AuditEntries": {
        "type": "object", "required": ["start", "end", "tree_size", "entries", "withheld"],
        "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}, "tree_size": {"type": "integer"},
                       "entries": {"type": "array", "items": {"type": ["string", "null"], "contentEncoding": "base64"},
                                   "description": "leaf bytes; null for another tenant's entry (see withheld)"},
                       "withheld": {"type": "array", "items": {
                           "type": "object", "required": ["index", "leaf_hash"],
                           "properties": {"index": {"type": "integer"}, "leaf_hash": {"type": "string"}}}}},
    },
    "InclusionProof": {
        "type": "object", "required": ["index", "tree_size", "leaf_hash", "entry", "proof"],
        "properties": {"index": {"type": "integer"}, "tree_size": {"type": "integer"},
                       "leaf_hash": {"type": "string"}, "entry": {"type": "string"},
                       "proof": {"type": "array", "items": {"type": "string"}}},
    },
    "PiiAnalyzeRequest": {
        "type": "object", "additionalProperties": False,
        "oneOf": [{"required": ["text"], "not": {"required": ["texts"]}},
                  {"required": ["texts"], "not": {"required": ["text"]}}],
        "properties": {"text": {"type": "string", "pattern": NON_BLANK, "maxLength": 32768},
                       "texts": {"type": "array", "minItems": 1, "maxItems": 2048,
                                 "items": {"type": "string", "pattern": NON_BLANK, "maxLength": 32768}},
                       "collection": {"type": "string", "minLength": 1}},
    },
    "PiiAnalyzeResult": {"type": "object", "required": ["policy_version", "scope", "results"],
                         "properties": {"policy_version": {"type": "string"}, "scope": {"type": "object"},
                                        "results": {"type": "array", "items": {"type": "object"}}}},
    "DriftSeries": {"type": "object", "required": ["windows"],
                    "properties": {"windows": {"type": "array"}}},
    "DriftBaseline": {"type": "object", "required": ["collection", "count", "clusters"],
                      "properties": {"collection": {"type": "string"}, "count": {"type": "integer"},
                                     "clusters": {"type": "integer"}}},
    "UsagePage": {
        "type": "object", "required": ["object", "since", "until", "data", "has_more"],
        "properties": {
            "object": {"const": "page"}, "since": {"type": "string"}, "until": {"type": "string"},
            "has_more": {"type": "boolean"}, "next_page": {"type": "null"},
            "data": {"type": "array", "items": {
                "type": "object", "required": ["object", "start_time", "end_time", "day", "results"],
                "properties": {
                    "object": {"const": "bucket"}, "start_time": {"type": "integer"}, "end_time": {"type": "integer"},
                    "day": {"type": "string"},
                    "results": {"type": "array", "items": {
                        "type": "object", "required": ["api_key_id", "model", "input_tokens", "num_model_requests"],
                        "properties": {"object": {"type": "string"}, "api_key_id": {"type": "string"},
                                       "model": {"type": "string"}, "input_tokens": {"type": "integer"},
                                       "num_model_requests": {"type": "integer"}}}},
                }}},
        },
    },
    "File": {"type": "object", "required": ["id", "object", "bytes", "created_at", "filename", "purpose"],
             "properties": {"id": {"type": "string"}, "object": {"const": "file"}, "bytes": {"type": "integer"},
                            "created_at": {"type": "integer"}, "expires_at": {"type": "integer"},
                            "filename": {"type": "string"}, "purpose": {"type": "string"},
                            "status": {"type": "string"}, "status_details": {"type": "null"}}},
    "FileList": {"type": "object", "required": ["object", "data"],
                 "properties": {"object": {"const": "list"}, "has_more": {"type": "boolean"},
                                "first_id": {"type": ["string", "null"]}, "last_id": {"type": ["string", "null"]},
                                "data": {"type": "array", "items": {"$ref": "#/components/schemas/File"}}}},
    "FileUpload": {"type": "object", "required": ["file", "purpose"],
                   "properties": {"file": {"type": "string", "format": "binary",
                                           "description": "JSON lines, one /v1/embeddings request per line"},
                                  "purpose": {"const": "batch"}}},
    "FileDeleted": {"type": "object", "required": ["id", "object", "deleted"],
                    "properties": {"id": {"type": "string"}, "object": {"const": "file"},
                                   "deleted": {"type": "boolean"}}},
    "BatchCreate": {"type": "object", "required": ["input_file_id", "endpoint", "completion_window"],
                    "properties": {"input_file_id": {"type": "string", "minLength": 1},
                                   "endpoint": {"const": "/v1/embeddings"}, "completion_window": {"const": "24h"},
                                   "metadata": {"type": ["object", "null"],
                                                "additionalProperties": {"type": "string"}}}},
    "Batch": {"type": "object",
              "required": ["id", "object", "endpoint", "input_file_id", "completion_window", "status",
                           "created_at", "request_counts"],
              "properties": {"id": {"type": "string"}, "object": {"const": "batch"}, "endpoint": {"type": "string"},
                             "errors": {"type": ["object", "null"]}, "input_file_id": {"type": "string"},
                             "completion_window": {"type": "string"},
                             "status": {"enum": ["validating", "failed", "in_progress", "finalizing", "completed",
                                                 "expired", "cancelling", "cancelled"]},
                             "output_file_id": {"type": ["string", "null"]},
                             "error_file_id": {"type": ["string", "null"]}, "created_at": {"type": "integer"},
                             "request_counts": {"type": "object", "required": ["total", "completed", "failed"],
                                                "properties": {"total": {"type": "integer"},
                                                               "completed": {"type": "integer"},
                                                               "failed": {"type": "integer"}}},
                             "metadata": {"type": ["object", "null"]}}},
    "BatchList": {"type": "object", "required": ["object", "data"],
                  "properties": {"object": {"const": "list"}, "has_more": {"type": "boolean"},
                                 "first_id": {"type": ["string", "null"]}, "last_id": {"type": ["string", "null"]},
                                 "data": {"type": "array", "items": {"$ref": "#/components/schemas/Batch"}}}},
    "Job": {"type": "object", "required": ["id", "object", "type", "status", "progress", "failures"],
            "properties": {"id": {"type": "string"}, "object": {"const": "job"}, "type": {"type": "string"},
                           "status": {"type": "string"}, "collection": {"type": ["string", "null"]},
                           "created_at": {"type": "integer"}, "attempts": {"type": "integer"},
                           "progress": {"type": "object"}, "failures": {"type": "array", "items": {"type": "object"}},
                           "result": {"type": ["object", "null"]}}},
    "PrivacyLedger": {"type": "object", "required": ["total", "budget", "transform"],
                      "properties": {"total": {"type": "object"}, "budget": {"type": "object"},
                                     "transform": {"type": "string"}}},
    "Model": {"type": "object", "required": ["id", "object", "created", "owned_by"],
              "properties": {"id": {"type": "string"}, "object": {"enum": ["model"]}, "created": {"type": "integer"},
                             "owned_by": {"type": "string"}, "version": {"type": "string"},
                             "dimension": {"type": "integer"}, "fingerprint": {"type": "string"},
                             "runtime": {"type": "object", "description": "model_runtime = onnx only: the ONNX "
                                         "graph that computes the vectors (kind, graph_sha256, opset)",
                                         "properties": {"kind": {"enum": ["onnx"]},
                                                        "graph_sha256": {"type": "string"},
                                                        "opset": {"type": "integer"}}}}},
    "ModelList": {"type": "object", "required": ["object", "data"],
                  "properties": {"object": {"enum": ["list"]},
                                 "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}},
    "Readiness": {"type": "object", "required": ["status", "checks"],
                  "properties": {"status": {"enum": ["ready", "not ready"]},
                                 "checks": {"type": "object", "additionalProperties": {"type": "boolean"}}}},
    "ConsistencyProof": {
        "type": "object", "required": ["first", "second", "proof"],
        "properties": {"first": {"type": "integer"}, "second": {"type": "integer"},
                       "proof": {"type": "array", "items": {"type": "string"}}},
    },
}


def _query_int(name: str, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "integer", "minimum": 0}}


def _query_day(name: str) -> Schema:
    return {"name": name, "in": "query", "required": False,
            "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "description": "a UTC day, YYYY-MM-DD (both ends included; a range of at most 366 days)"}


# (method, path) -> request body schema name, success status, success body (schema name or media type), query params
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/embeddings"): {"body": "EmbeddingRequest", "ok": (200, "EmbeddingList")},
    ("post", "/v1/collections"): {"body": "CollectionCreate", "ok": (201, "Collection")},
    ("get", "/v1/collections"): {"ok": (200, "CollectionList")},
    ("get", "/v1/collections/{name}"): {"ok": (200, "Collection")},
    ("delete", "/v1/collections/{name}"): {"ok": (200, "Deleted")},
    ("post", "/v1/collections/{name}/documents"): {"body": "IngestRequest", "ok": (200, "IngestResult")},
    ("post", "/v1/collections/{name}/search"): {"body": "SearchRequest", "ok": (200, "SearchResult")},
    ("get", "/v1/collections/{name}/documents/{document_id}"): {"ok": (200, "DocumentProvenance")},
    ("delete", "/v1/collections/{name}/documents/{document_id}"): {"ok": (200, "Deleted")},
    ("post", "/v1/admin/keys/rotate"): {"ok": (200, "RotateResult")},
    ("post", "/v1/admin/tenant/shred"): {"body": "ShredRequest", "ok": (200, "ShredResult")},
    ("get", "/v1/audit/checkpoint"): {"ok": (200, "text/plain")},
    ("get", "/v1/audit/entries"): {"ok": (200, "AuditEntries"), "query": [_query_int("start"), _query_int("end")]},
    ("get", "/v1/audit/proofs/inclusion"): {
        "ok": (200, "InclusionProof"), "query": [_query_int("index", True), _query_int("tree_size")]},
    ("get", "/v1/audit/proofs/consistency"): {
        "ok": (200, "ConsistencyProof"), "query": [_query_int("first", True), _query_int("second")]},
    ("get", "/v1/audit/policies/{version}"): {"ok": (200, "text/plain")},
    ("post", "/v1/pii/analyze"): {"body": "PiiAnalyzeRequest", "ok": (200, "PiiAnalyzeResult")},
    ("get", "/v1/collections/{name}/drift"): {
        "ok": (200, "DriftSeries"),
        "query": [{"name": "limit", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}]},
    ("post", "/v1/collections/{name}/drift/baseline"): {"ok": (201, "DriftBaseline")},
    ("get", "/v1/privacy/ledger"): {"ok": (200, "PrivacyLedger")},
    ("get", "/v1/usage"): {"ok": (200, "UsagePage"), "query": [_query_day("since"), _query_day("until")]},
    ("get", "/v1/models"): {"ok": (200, "ModelList")},
    ("get", "/v1/models/{model_id}"): {"ok": (200, "Model")},
    ("post", "/v1/files"): {"body": "multipart/form-data:FileUpload", "ok": (200, "File")},
    ("get", "/v1/files"): {"ok": (200, "FileList")},
    ("get", "/v1/files/{file_id}"): {"ok": (200, "File")},
    ("get", "/v1/files/{file_id}/content"): {"ok": (200, "application/jsonl")},
    ("delete", "/v1/files/{file_id}"): {"ok": (200, "FileDeleted")},
    ("post", "/v1/batches"): {"body": "BatchCreate", "ok": (200, "Batch")},
    ("get", "/v1/batches"): {"ok": (200, "BatchList")},
    ("get", "/v1/batches/{batch_id}"): {"ok": (200, "Batch")},
    ("post", "/v1/batches/{batch_id}/cancel"): {"ok": (200, "Batch")},
    ("get", "/v1/jobs/{job_id}"): {"ok": (200, "Job")},
    ("post", "/v1/jobs/{job_id}/cancel"): {"ok": (200, "Job")},
}

# Unauthenticated routes: status -> (description, component schema name or media type).
PUBLIC_ROUTES: dict[tuple[str, str], dict[int, tuple[str, str]]] = {
    ("get", "/readyz"): {200: ("Ready", "Readiness"), 503: ("Not ready: a dependency is missing", "Readiness")},
    ("get", "/metrics"): {200: ("Prometheus text exposition", "text/plain"),
                          401: ("The metrics_token setting is set and the bearer token is missing or wrong",
                                "text/plain"),
                          503: ("Metrics are not enabled", "text/plain")},
}

# Every guarded route may answer these (the governed path: auth, Casbin, limits, fail-closed audit).
ERROR_STATUSES: dict[int, str] = {
    400: "Malformed body or parameters", 401: "Missing, unknown or revoked API key",
    403: "The caller's role may not do this", 404: "Unknown route, model, or a collection the tenant does not own",
    409: "Conflict (existing collection, embedding-space mismatch)",
    413: "Body, batch, text or document count over a limit",
    422: "The policy blocks a PII entity type found in the input", 429: "Rate or concurrency limit; see Retry-After",
    500: "A stored record failed its integrity check (one opaque error)",
    502: "A remote model's engine refused the request or answered with something unusable (upstream_error)",
    503: "Overloaded, the audit log or store cannot be written (fails closed), or the model is unavailable (its "
         "engine is down, or out of service after a fingerprint mismatch: model_unavailable); see Retry-After",
    504: "The request took longer than its time limit",
}
