"""The files a container sees: its volume mounts and the files the kubelet writes for it.

ConfigMap, Secret, downward-API and projected volumes appear as the kubelet's
atomic writer lays them out (each key a symlink into ``..data``), ``subPath``
mounts as single files, other volumes as empty directories; ``/etc/hosts``,
``/etc/resolv.conf`` and ``/etc/hostname`` are the kubelet-managed files.
Writes by the shell (redirections) live only for one exec session.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Callable

from .environment import Lookup, field_value, resource_value, source_data

CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS = "10.96.0.10"
BASE_DIRS = ("/", "/bin", "/dev", "/etc", "/home", "/lib", "/proc", "/proc/1", "/root", "/run", "/sbin", "/sys",
             "/tmp", "/usr", "/usr/bin", "/usr/local", "/usr/local/bin", "/usr/sbin", "/var", "/var/run")
TokenIssuer = Callable[[str, str, int], str]  # (namespace, service account, expiration seconds) -> JWT


@dataclass
class Entry:
    """A file, directory or symlink (``link`` is its target as ``ls -l`` shows it; content is resolved)."""

    kind: str  # "file" | "dir" | "link"
    content: str = ""
    mode: int = 0o644
    link: str = ""


class FileSystem:
    """Absolute path → :class:`Entry`."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        for path in BASE_DIRS:
            self.entries[path] = Entry("dir", mode=0o755)
        self.entries["/tmp"].mode = 0o1777
        self.entries["/dev/null"] = Entry("file", mode=0o666)

    def add_file(self, path: str, content: str, mode: int = 0o644, link: str = "") -> None:
        path = posixpath.normpath(path)
        self.add_dir(posixpath.dirname(path))
        self.entries[path] = Entry("link" if link else "file", content, 0o777 if link else mode, link)

    def add_dir(self, path: str) -> None:
        path = posixpath.normpath(path)
        while path not in self.entries:
            self.entries[path] = Entry("dir", mode=0o755)
            path = posixpath.dirname(path)

    def get(self, path: str) -> Entry | None:
        return self.entries.get(posixpath.normpath(path))

    def children(self, path: str) -> list[str]:
        """Names directly inside a directory, sorted."""
        path = posixpath.normpath(path)
        return sorted(p.rsplit("/", 1)[1] for p in self.entries if p != "/" and posixpath.dirname(p) == path)


def _volume_files(volume: dict[str, Any], pod: dict[str, Any], container: str, lookup: Lookup,
                  issue_token: TokenIssuer, node_allocatable: dict[str, str]) -> dict[str, str] | None:
    """Relative path → content of a volume that projects files; None for a volume that is a plain directory."""
    namespace = pod["metadata"].get("namespace", "")
    if "projected" in volume:
        files: dict[str, str] = {}
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "serviceAccountToken" in source:
                token = source["serviceAccountToken"] or {}
                account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
                files[token.get("path", "token")] = issue_token(namespace, account,
                                                                int(token.get("expirationSeconds") or 3600))
            else:
                files.update(_volume_files(source, pod, container, lookup, issue_token, node_allocatable) or {})
        return files
    for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
        if key in volume:
            ref = volume.get(key) or {}
            obj = lookup(kind, namespace, ref.get("secretName") or ref.get("name") or "")
            data = source_data(obj, kind == "Secret")
            items = ref.get("items")
            if items:
                return {item["path"]: data[item["key"]] for item in items if item.get("key") in data}
            return data
    if "downwardAPI" in volume:
        files = {}
        for item in (volume.get("downwardAPI") or {}).get("items") or []:
            value = field_value(pod, item["fieldRef"].get("fieldPath", "")) if item.get("fieldRef") else \
                resource_value(pod, item.get("resourceFieldRef") or {}, container, node_allocatable)
            if value is not None:
                files[item["path"]] = value
        return files
    return None


def hosts_file(pod: dict[str, Any], hostname: str) -> str:
    """The kubelet-managed ``/etc/hosts``."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    ip = status.get("podIP")
    if ip:
        if spec.get("subdomain"):
            namespace = pod["metadata"].get("namespace", "")
            lines.append(f"{ip}\t{hostname}.{spec['subdomain']}.{namespace}.svc.{CLUSTER_DOMAIN}\t{hostname}")
        else:
            lines.append(f"{ip}\t{hostname}")
    aliases = spec.get("hostAliases") or []
    if aliases:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        lines.extend(f"{a.get('ip')}\t" + "\t".join(a.get("hostnames") or []) for a in aliases)
    return "\n".join(lines) + "\n"


def resolv_conf(pod: dict[str, Any]) -> str:
    """``/etc/resolv.conf`` for the pod's ``dnsPolicy`` and ``dnsConfig``."""
    spec = pod.get("spec") or {}
    namespace = pod["metadata"].get("namespace", "")
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet" and not spec.get("hostNetwork"):
        policy = "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    searches: list[str] = []
    servers: list[str] = []
    options: list[str] = []
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        searches = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
        servers, options = [CLUSTER_DNS], ["ndots:5"]
    elif policy == "Default":
        servers = ["8.8.8.8"]
    config = spec.get("dnsConfig") or {}
    servers += [s for s in config.get("nameservers") or [] if s not in servers]
    searches += [s for s in config.get("searches") or [] if s not in searches]
    for opt in config.get("options") or []:
        text = opt.get("name", "") + (f":{opt['value']}" if opt.get("value") is not None else "")
        options = [o for o in options if o.split(":")[0] != opt.get("name")] + [text]
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines += [f"nameserver {s}" for s in servers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def container_filesystem(pod: dict[str, Any], container: dict[str, Any], hostname: str, cmdline: list[str],
                         lookup: Lookup, issue_token: TokenIssuer, node_allocatable: dict[str, str]) -> FileSystem:
    """Everything ``cat`` and ``ls`` can see in ``container``."""
    fs = FileSystem()
    fs.add_file("/etc/hosts", hosts_file(pod, hostname))
    fs.add_file("/etc/resolv.conf", resolv_conf(pod))
    fs.add_file("/etc/hostname", hostname + "\n")
    fs.add_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n")
    fs.add_file("/proc/1/cmdline", "".join(arg + "\0" for arg in cmdline), mode=0o444)
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        files = _volume_files(volume, pod, container.get("name", ""), lookup, issue_token, node_allocatable)
        source = volume.get("projected") or volume.get("configMap") or volume.get("secret") or \
            volume.get("downwardAPI") or {}
        mode = int(source.get("defaultMode", 0o644))
        path = mount.get("mountPath", "/")
        if mount.get("subPath"):
            if files is not None and mount["subPath"] in files:
                fs.add_file(path, files[mount["subPath"]], mode)
            else:
                fs.add_dir(path)
            continue
        fs.add_dir(path)
        for rel, content in (files or {}).items():
            top = rel.split("/", 1)[0]
            fs.add_file(posixpath.join(path, "..data", rel), content, mode)
            if top == rel:
                fs.add_file(posixpath.join(path, rel), content, link=f"..data/{rel}")
            else:
                fs.add_dir(posixpath.join(path, top))
                fs.add_file(posixpath.join(path, rel), content, mode)
    return fs
