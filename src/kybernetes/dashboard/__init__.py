"""`kyb dashboard`: a web UI that acts, through the API server, as whoever logged in.

The backend holds no cluster credentials of its own: every request it makes to the
API server carries the bearer token the browser sent, so RBAC decides what each
person sees and may do (:mod:`.upstream`). It serves the static UI
(``static/``, libraries vendored by scripts/vendor-dashboard.sh), a pass-through
to the Kubernetes API (:mod:`.server`), live lists as server-sent events
(:mod:`.events`) and exec as a WebSocket bridge (:mod:`.exec_bridge`).
"""
