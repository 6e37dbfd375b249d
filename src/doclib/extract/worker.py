"""Child-process entry point: ``python -m doclib.extract.worker PATH KIND CONFIG_JSON``
(with ``extract.fork_server: false``; the fork server's children call ``run``).

Prints one JSON object: {"result": ...} on success (exit 0) or {"error": ...}
(exit 3).  Runs under the parent's rlimits; any exception becomes an error
message without a traceback on stdout.
"""

from __future__ import annotations

import json
import sys


def run(path: str, kind: str, config: dict[str, object]) -> int:
    """Extract ``path`` here, print the one JSON object, return the exit code
    (also the forked child's of ``zygote``)."""
    from ..config import ExtractConfig
    from ..errors import DoclibError
    from . import extract_in_process

    cfg = ExtractConfig(**config)  # type: ignore[arg-type]
    try:
        result = extract_in_process(path, kind, cfg)
    except DoclibError as e:  # an ExtractError's class crosses by name
        print(json.dumps({"error": e.message, "type": type(e).__name__}))
        return 3
    except MemoryError:
        print(json.dumps({"error": f"extraction exceeded the {cfg.memory_mb} MiB memory limit",
                          "type": "OverLimits"}))
        return 3
    except Exception as e:  # a parser bug or a malformed file: report, never crash the parent
        print(json.dumps({"error": f"the {kind.upper()} file could not be parsed "
                                   f"({type(e).__name__})", "type": "Unreadable"}))
        print(repr(e), file=sys.stderr)
        return 3
    print(json.dumps({"result": result.to_json()}, ensure_ascii=False))
    return 0


def main() -> int:
    path, kind, cfg_json = sys.argv[1:4]
    return run(path, kind, json.loads(cfg_json))


if __name__ == "__main__":
    sys.exit(main())
