"""Authentication (API keys) and authorization (Casbin RBAC with tenants as domains)."""
