"""`python -m swarm.view RUN_DIR`: replay a run's recordings in the browser, or export a video.

```
python -m swarm.view runs/smoke-20260101-120000            # serve on http://127.0.0.1:8765
python -m swarm.view RUN_DIR --port 0                       # any free port (printed)
python -m swarm.view RUN_DIR --export mission.gif           # or .mp4 (needs ffmpeg)
python -m swarm.view RUN_DIR --export m.gif --teams swarm,central --seed 1 --fps 8
```

Serving runs `solara run swarm.view_app` on 127.0.0.1 (loopback only) with the run folder in
`SWARM_VIEW_RUN`; the app is `swarm.view_app`. Recordings are what `output.record` wrote
(docs/recording.md); a run without any says how to make one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["LiveViewer", "free_port", "main", "serve_command"]


def serve_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the viewer app on host:port."""
    return [
        sys.executable, "-m", "solara", "run", "swarm.view_app", "--host", host,
        "--port", str(port), "--production", "--no-open", "--log-level", "warning",
    ]  # fmt: skip


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LiveViewer:
    """The viewer served beside a running `swarm.run --view` (a child process on 127.0.0.1
    that follows the run folder's recordings as the run rewrites them). `close()` keeps it
    up until Ctrl-C when a person is watching (stdin is a terminal), else stops it."""

    def __init__(self, run_dir: Path) -> None:
        port = free_port()
        env = {**os.environ, "SWARM_VIEW_RUN": str(Path(run_dir).resolve()), "SWARM_VIEW_LIVE": "1"}
        self.url = f"http://127.0.0.1:{port}/"
        self.proc = subprocess.Popen(serve_command(port), env=env, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        if self.proc.poll() is None and sys.stdin.isatty():
            print(f"run over; the live view stays at {self.url} until Ctrl-C", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                self.proc.wait()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m swarm.view", description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path, help="a run folder holding trajectories/*.npz")
    ap.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    ap.add_argument("--export", type=Path, help="write a video (.mp4 or .gif) instead of serving")
    ap.add_argument("--teams", help="teams side by side in the export (default: first two)")
    ap.add_argument("--seed", type=int, help="seed to export (default: the first recorded)")
    ap.add_argument("--fps", type=int, default=10, help="export frames per second")
    ap.add_argument("--every", type=int, default=1, help="export every n-th tick")
    args = ap.parse_args(argv)
    from swarm.trajectory import find_recordings

    recs = find_recordings(args.run_dir)
    if not recs:
        print(
            f"{args.run_dir}: no recordings under trajectories/; run a scenario with "
            "output.record: true (e.g. --set output.record=true) and view its folder",
            file=sys.stderr,
        )
        return 1
    if args.export is not None:
        from swarm.view_export import export

        seeds = sorted({s for _, s in recs})
        seed = seeds[0] if args.seed is None else args.seed
        teams = (
            args.teams.split(",") if args.teams else sorted({t for t, s in recs if s == seed})[:2]
        )
        missing = [t for t in teams if (t, seed) not in recs]
        if missing:
            have = sorted(f"{t}-s{s}" for t, s in recs)
            print(f"no recording of {missing} for seed {seed}; recorded: {have}", file=sys.stderr)
            return 1
        out, note = export([recs[(t, seed)] for t in teams], args.export, args.fps, args.every)
        print(f"wrote {out}" + (f" ({note})" if note else ""))
        return 0
    port = free_port() if args.port == 0 else args.port
    env = {**os.environ, "SWARM_VIEW_RUN": str(args.run_dir.resolve())}
    print(f"swarm viewer: http://127.0.0.1:{port}/  (Ctrl-C to stop)", flush=True)
    cmd = serve_command(port)
    os.execve(cmd[0], cmd, env)  # the server replaces this process: signals reach it directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
