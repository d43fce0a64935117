"""A client of the Distribution (OCI) registry API, for `kyb image`: push an image read
from a tarball (blobs by monolithic upload, then manifests) and list the catalog.

Plain HTTP to the cluster's own registry; blobs it has already are not sent again
(HEAD first), as `docker push` does.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from kybernetes.cli.oci_archive import Image, Manifest

# the registry is local: never through an http_proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryError(Exception):
    """The registry refused a request or did not answer."""


class Registry:
    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path_or_url: str, *, data: bytes | None = None,
                 headers: dict[str, str] | None = None,
                 ok: tuple[int, ...] = (200,)) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urljoin(self.url + "/", path_or_url)
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status, head, body = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            status, head, body = e.code, dict(e.headers), e.read()
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RegistryError(f"the registry at {self.url} does not answer: {reason}") from None
        if status not in ok:
            raise RegistryError(f"{method} {urllib.parse.urlsplit(url).path}: HTTP {status}"
                                f"{_errors(body)}")
        return status, head, body

    def has_blob(self, repository: str, blob_digest: str) -> bool:
        status, _, _ = self._request("HEAD", f"/v2/{repository}/blobs/{blob_digest}",
                                     ok=(200, 404))
        return status == 200

    def put_blob(self, repository: str, blob_digest: str, data: bytes) -> None:
        """A monolithic upload: POST opens the session, PUT with the digest ends it."""
        _, head, _ = self._request("POST", f"/v2/{repository}/blobs/uploads/", ok=(202,))
        location = head.get("Location") or head.get("location")
        if not location:
            raise RegistryError("the registry opened an upload without a Location")
        separator = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{separator}digest={urllib.parse.quote(blob_digest)}",
                      data=data, ok=(201,), headers={
                          "Content-Type": "application/octet-stream"})

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        self._request("PUT", f"/v2/{repository}/manifests/{reference}", data=manifest.data,
                      ok=(201,), headers={"Content-Type": manifest.media_type})

    def push(self, image: Image, repository: str, tag: str) -> str:
        """Blobs it lacks, an index's manifests by digest, then the manifest as `tag`;
        the pushed manifest's digest."""
        for blob_digest, data in image.blobs.items():
            if not self.has_blob(repository, blob_digest):
                self.put_blob(repository, blob_digest, data)
        for child in image.children:
            self.put_manifest(repository, child.digest, child)
        self.put_manifest(repository, tag, image.manifest)
        return image.manifest.digest

    def catalog(self) -> dict[str, list[str]]:
        """Each repository with its tags."""
        _, _, body = self._request("GET", "/v2/_catalog?n=1000")
        out = {}
        for repository in json.loads(body).get("repositories") or []:
            _, _, tags = self._request("GET", f"/v2/{repository}/tags/list", ok=(200, 404))
            out[repository] = sorted(json.loads(tags).get("tags") or [])
        return out


def _errors(body: bytes) -> str:
    """The registry's error codes and messages, when it sent them."""
    try:
        errors: list[dict[str, Any]] = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        return ""
    return "".join(f": {e.get('code')} {e.get('message')}" for e in errors)
