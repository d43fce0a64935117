"""The cluster's image registry (`kyb up --registry`): Debian's Distribution registry
(`docker-registry`) on the host, its configuration and storage under DATA/registry.

Plain HTTP, no authentication: it listens on --registry-address (default all
addresses, as the nodes in their own network namespaces reach the host at the
node bridge's address, and Docker reaches it on loopback). Images are named
`localhost:PORT/...` as on a developer's machine: each containerd node is told
(`kyb containerd --registry-mirror`) that this name, `127.0.0.1:PORT` and the
bridge address all mean the host's registry over HTTP; Docker treats
127.0.0.0/8 registries as insecure already, and pulls on the host.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kybernetes.cli.cluster_dir import ClusterDir

REGISTRY = "/usr/bin/docker-registry"
DEFAULT_PORT = 5000


@dataclass(frozen=True)
class ClusterRegistry:
    """Where the registry of a cluster lives and answers."""

    cdir: ClusterDir
    port: int
    address: str = "0.0.0.0"
    host_ip: str = "127.0.0.1"  # where the nodes reach the host

    @property
    def dir(self) -> Path:
        return self.cdir.root / "registry"

    @property
    def config(self) -> Path:
        return self.dir / "config.yml"

    @property
    def name(self) -> str:
        """The registry part of image names: `localhost:5000/app:1`."""
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        """Where the host reaches it (`kyb image load` pushes there)."""
        host = "127.0.0.1" if self.address in ("0.0.0.0", "127.0.0.1") else self.address
        return f"http://{host}:{self.port}"

    @property
    def node_url(self) -> str:
        """Where the nodes reach it: the host's end of the node bridge, unless it listens
        on one address only."""
        host = self.host_ip if self.address == "0.0.0.0" else self.address
        return f"http://{host}:{self.port}"

    def mirrors(self) -> dict[str, str]:
        """Each name a pod may give the registry by -> the URL a node pulls from."""
        names = {self.name, f"127.0.0.1:{self.port}", f"{self.host_ip}:{self.port}"}
        return {name: self.node_url for name in sorted(names)}

    def argv(self) -> list[str]:
        return [REGISTRY, "serve", str(self.config)]

    def write_config(self) -> None:
        """Storage under DATA/registry/storage, deletes allowed, no health checker (it
        would log every 10 s), a fresh upload secret each start."""
        (self.dir / "storage").mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"""# written by kyb up --registry: rewritten at each start
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.dir / 'storage'}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {self.address}:{self.port}
  secret: {secrets.token_hex(16)}
  headers:
    X-Content-Type-Options: [nosniff]
""")

    def answers(self) -> str | None:
        """None once `GET /v2/` answers 200, else why not."""
        why = answers(self.url)
        return None if why is None else f"{why} (see {self.cdir.logs}/registry.log)"

    @property
    def display_url(self) -> str:
        """What `kyb status` shows: the image names' host when it answers there."""
        return f"http://{self.name}" if self.address in ("0.0.0.0", "127.0.0.1") else self.url

    def status(self) -> dict[str, str]:
        """What status.json keeps of it (`kyb image`, `kyb status`)."""
        return {"name": self.name, "url": self.url, "nodeUrl": self.node_url}


def answers(url: str, *, timeout: float = 2.0) -> str | None:
    """None when the registry at `url` answers `GET /v2/` with 200, else why not (never
    through an http_proxy of the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/v2/", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as e:
        return f"not answering ({getattr(e, 'reason', e)})"
