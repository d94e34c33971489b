"""The root CA publisher: a ``kube-root-ca.crt`` ConfigMap in every namespace.

Pods mount it through their projected service-account volume to verify the
API server. The controller creates it in every active namespace and puts back
its data and description when they are changed or it is deleted.
"""

from __future__ import annotations

from typing import Iterator

from ..kinds import preferred
from ..store import WatchEvent
from .base import Controller, ObjectKey

NAMESPACES = preferred("", "Namespace")
CONFIGMAPS = preferred("", "ConfigMap")
NAME = "kube-root-ca.crt"
DESCRIPTION_KEY = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")
#: The cluster's CA certificate (self-signed ``CN=kubernetes``, as kubeadm makes it; its key was not kept).
CA_BUNDLE = """\
-----BEGIN CERTIFICATE-----
MIIDMjCCAhqgAwIBAgIUetxSe+EEh0oQHDWrCGYRGbPfVD8wDQYJKoZIhvcNAQEL
BQAwFTETMBEGA1UEAwwKa3ViZXJuZXRlczAeFw0yNjExMjUxMzMwMDdaFw0zNjEx
MjIxMzMwMDdaMBUxEzARBgNVBAMMCmt1YmVybmV0ZXMwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDQWGkkT1Be8ohMtOF+MiYqB5Kn9VBSHTA2JTfnvrLD
hbcMpLugjSD/q6sAN6wK6X+F+unQzyW1Svc93LbWDTUSYULBh5lRaIc9rrDUnocP
u62h0HU+tjxinaA/DowVvE6Zd2/7ZaiwPyq3iv6T5DVN8w5kViQfzUbU6EnGyps7
ALewXq/UvGNrfUDen7IJC4TTiNjGVeUu2cNK5lFHwCuCJUFZQ9SXfqXlNiiTrq+R
0UV+o3V11RC0HtJgxF/Cw2n8SBgypFvaWCgJpEw+q5OOu/w7ai1Uqy124H+rDbsq
yslq0F+UapInPuJXwKGTdGp4f/UG/3YJk7nyaSmBkL+RAgMBAAGjejB4MB0GA1Ud
DgQWBBSZoIo7HYcZl6dIXvaIliS9fZXf6jAfBgNVHSMEGDAWgBSZoIo7HYcZl6dI
XvaIliS9fZXf6jAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICpDAVBgNV
HREEDjAMggprdWJlcm5ldGVzMA0GCSqGSIb3DQEBCwUAA4IBAQCcJlCIzDHYjmch
TFnPHsir0MT0dvU4lJdWVqwJyLWvXA30tshOoWJg+Xn1N5iEZXr+Nf0zRLhVQudx
mdpO1/XDl7Mxjto6qJpb+LuZRg2X1pGJ5Etn46hCwz4eXXW6ozsZ641blii4DrL+
FfRxWYsTYflvmRnTn4bRsxwByxF38sX558ppOY0TjBpCkYpjmlvobRl7RpCvYxii
A+4/kGbl94w9FwHNYwK6En0x5lo1MjnmaHEFExDAqQ7XSYhP1S1POdF4hbUWT4te
x2l8Qg4xYq2K0xDdJ/4AY9Rzw1AA1sb25xHSjKt6WhiH31YOWcCpDa5JzWN4SIKa
DvEXFrNX
-----END CERTIFICATE-----
"""


class RootCAPublisher(Controller):
    """Keeps ``kube-root-ca.crt`` in every namespace."""

    name = "root-ca-cert-publisher"
    watches = (NAMESPACES, CONFIGMAPS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        meta = event.obj["metadata"]
        if event.storage_key == NAMESPACES.storage_key:
            yield "", meta["name"]
        elif meta["name"] == NAME:
            yield "", meta.get("namespace", "")

    def reconcile(self, key: ObjectKey) -> None:
        namespace = key[1]
        ns = self.api.try_get(NAMESPACES, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        current = self.api.try_get(CONFIGMAPS, namespace, NAME)
        if current is None:
            self.api.create(CONFIGMAPS, namespace, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
                "data": {"ca.crt": CA_BUNDLE}})
            return
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == {"ca.crt": CA_BUNDLE} and annotations.get(DESCRIPTION_KEY) == DESCRIPTION:
            return
        meta = {**current["metadata"], "annotations": {**annotations, DESCRIPTION_KEY: DESCRIPTION}}
        self.api.update(CONFIGMAPS, namespace, NAME, {**current, "metadata": meta, "data": {"ca.crt": CA_BUNDLE}})
