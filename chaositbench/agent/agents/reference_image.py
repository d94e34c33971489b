"""Reference agent investigation of images that cannot be pulled.

A container waiting in ``ErrImagePull``/``ImagePullBackOff``/``InvalidImageName`` whose Deployment ran
another image in an earlier revision: the image is put back — ``rollout undo`` when the last change
set nothing but the image, else ``set image`` to the earlier one, so the release's other changes stay.
The registry's error is taken from the pod's ``Failed`` events.
"""

from __future__ import annotations

import json
from .reference import Cluster, Finding, NoFinding
from .reference_pods import Stuck, container_of, differs_only_in, rollout_undo, template_of, waiting

PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}


def image_pull(cluster: Cluster) -> Finding | None:
    """Put back the image of the first workload whose container cannot pull its image."""
    for stuck in waiting(cluster, PULL_REASONS):
        return _previous_image(cluster, stuck)
    return None


def _pull_error(cluster: Cluster, stuck: Stuck) -> str:
    """The pod's newest ``Failed to pull image`` event message (the registry's answer), else the waiting message."""
    result = cluster.tools.kubectl("get", "events", "-n", stuck.pod["metadata"]["namespace"], "-o", "json",
                                   f"--field-selector=involvedObject.name={stuck.pod['metadata']['name']},reason=Failed")
    events = [e for e in (json.loads(result.stdout).get("items", []) if result.ok else [])
              if str(e.get("message", "")).startswith("Failed to pull image")]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return events[-1]["message"] if events else stuck.message


def _previous_image(cluster: Cluster, stuck: Stuck) -> Finding:
    kind, namespace, name = stuck.workload
    current = template_of(cluster, stuck.workload)
    image = (container_of(current, stuck.container) or {}).get("image", "")
    what = f"{stuck.where} is in {stuck.reason} for image {image}: {_pull_error(cluster, stuck)}"
    revisions = cluster.revisions(stuck.workload)
    earlier = next(((revision, template) for revision, template in revisions[1:]
                    if (container_of(template, stuck.container) or {}).get("image") not in (None, image)), None)
    if earlier is None:
        raise NoFinding(f"{what}; no earlier revision ran another image")
    revision, template = earlier
    previous = container_of(template, stuck.container)["image"]
    if revision == revisions[1][0] and differs_only_in(current, template, stuck.container,
                                                       lambda spec: spec.pop("image", None)):
        rollout_undo(cluster, stuck.workload, revision)
        fix = f"the last change set only the image; rolled back to revision {revision} ({previous})"
    else:
        cluster.tools.kubectl("set", "image", f"{kind.lower()}/{name}", "-n", namespace,
                              f"{stuck.container}={previous}")
        fix = f"set the image back to {previous}, the one revision {revision} ran, keeping the release's other changes"
    return Finding("image", kind, namespace, name, f"{what}. Fix: {fix}.", [stuck.workload])
