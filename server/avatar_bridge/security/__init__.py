"""Who may call the bridge and what it may make the bridge do.

principal.py: the caller's identity and roles, carried in a context variable per call.
keys.py: the auth file (principals, salted key hashes, roles, quotas) and key checks.
tls.py: TLS / mTLS server credentials, reloaded when the files change.
interceptor.py: the grpc.aio interceptor that authenticates each call and checks its role.
quotas.py: per-principal concurrent conversations and starts per minute.
allowlist.py: the hosts an attach may make the bridge connect to.
"""
