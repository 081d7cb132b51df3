"""Deploy hook of the sample workspace: records a promotion or rollback as a deployment.

The console runs it (``[hooks] promote`` and ``rollback``) after a decision, with the workspace
as its working directory and the decision in ``MLOPS_*`` environment variables. It checks that
the version's model artifact exists when the registry names one, then appends one JSON line to
``deployments.jsonl`` in the workspace (what a real deploy script would hand to its serving
platform) and exits 0. The console replaces ``serving.json`` only after this succeeds.

To rehearse a failed deployment, create ``hooks/deploy.fail`` in the workspace (its text, if
any, is the error) or set ``MLOPS_DEPLOY_FAIL``: the hook then exits 3 and the request is
marked failed with serving unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tomllib
from pathlib import Path


def main() -> int:
    root = Path(os.environ.get("MLOPS_WORKSPACE") or ".").resolve()
    model = os.environ.get("MLOPS_MODEL", "")
    version = os.environ.get("MLOPS_VERSION", "")
    if not model or not version:
        sys.stderr.write("deploy: MLOPS_MODEL and MLOPS_VERSION must be set (run me through the console)\n")
        return 2
    marker = root / "hooks" / "deploy.fail"
    forced = os.environ.get("MLOPS_DEPLOY_FAIL")
    if forced or marker.exists():
        why = forced or marker.read_text().strip() or "deployment target refused the rollout"
        sys.stderr.write(f"deploy: {model} {version}: {why}\n")
        return 3
    cfg = tomllib.loads((root / "console.toml").read_text())
    registry = root / cfg.get("sources", {}).get("registry", "registry")
    try:
        doc = json.loads((registry / model / f"{version}.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        sys.stderr.write(f"deploy: cannot read the registry file of {model} {version}: {exc}\n")
        return 1
    artifact = (doc.get("lineage") or {}).get("artifact")
    if artifact and not (root / artifact).is_file():
        sys.stderr.write(f"deploy: artifact {artifact} of {model} {version} is missing\n")
        return 1
    record = {
        "ts": os.environ.get("MLOPS_NOW") or dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": os.environ.get("MLOPS_REQUEST_ID"),
        "action": os.environ.get("MLOPS_ACTION"),
        "model": model,
        "version": version,
        "from_version": os.environ.get("MLOPS_FROM_VERSION") or None,
        "actor": os.environ.get("MLOPS_ACTOR"),
        "break_glass": os.environ.get("MLOPS_BREAK_GLASS") == "1",
        "artifact": artifact,
    }
    line = json.dumps(record, sort_keys=True) + "\n"
    # appended by every member of a shared workspace: 0666 minus the umask, never through a link
    fd = os.open(root / "deployments.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    print(f"deployed {model} {version} (was {record['from_version'] or 'nothing'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
