"""What the rate limits cost per request, on PostgreSQL: limits off vs on, same server, same store.

    python -m bench.ratelimit            (needs the PostgreSQL server of the tests, 127.0.0.1:5432)

Three figures:
- the limiter alone (``RateLimiter.check``: one upsert of two counters), in this process, median;
- a whole request (``GET /v3/{project}/instances``, token auth, keep-alive, one client at a time)
  served by ``sessionplane serve`` with limits off, then on (limits high enough never to refuse),
  alternated so that drift on a shared machine falls on both: the median latency, and the serve
  process's CPU time per request (user + system, from /proc), which a loaded machine disturbs less
  than latency (every hop between processes waits for a core there).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ADMIN_PASSWORD, BACKGROUND_OFF, Http, _login, _wait_listening, use_uvloop
from sessionplane import admin
from sessionplane.auth.principal import Principal
from sessionplane.demo.servers import free_port
from sessionplane.limits.service import Limits, RateLimiter
from sessionplane.services import Services
from sessionplane.settings import Settings
from tests.databases import postgres_database

REQUESTS = int(os.environ.get("BENCH_RATELIMIT_REQUESTS", "2000"))
HIGH = "1000000000"  # on, never reached


async def _seed(settings: Settings) -> str:
    services = Services.build(settings)
    await services.start()
    try:
        await admin.add_user(services.inventory, domain="bench", name="bench", password=ADMIN_PASSWORD, is_admin=True)
        return (await admin.add_project(services.inventory, domain="bench", name="bench")).id
    finally:
        await services.close()


async def _limiter_alone(url: str, project_id: str) -> float:
    services = Services.build(Settings(data_dir=Path(tempfile.mkdtemp()), database_url=url))
    limiter = RateLimiter(services.db, Limits(per_caller=10**9, per_project=10**9, window_seconds=60))
    who = Principal("u", "bench", "a", "bench", project_id, "bench", True, "token")
    times = []
    try:
        for _ in range(REQUESTS):
            started = time.perf_counter()
            await limiter.check(who)
            times.append(time.perf_counter() - started)
    finally:
        await limiter.close()
        await services.close()
    return statistics.median(times) * 1e6


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def _requests(port: int, project_id: str, token: str) -> list[float]:
    client = await Http.open("127.0.0.1", port)
    times = []
    try:
        for _ in range(REQUESTS):
            started = time.perf_counter()
            response = await client.request("GET", f"/v3/{project_id}/instances", headers={"X-Auth-Token": token})
            times.append(time.perf_counter() - started)
            assert response.status == 200, response.body
    finally:
        client.close()
    return times


def _serve(data_dir: Path, url: str, limits_on: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "SESSIONPLANE_DATA_DIR": str(data_dir),
        "SESSIONPLANE_DATABASE_URL": url,
        "SESSIONPLANE_LOG_LEVEL": "WARNING",
        **BACKGROUND_OFF,
    }
    if limits_on:
        env |= {"SESSIONPLANE_RATE_LIMIT_PER_CALLER": HIGH, "SESSIONPLANE_RATE_LIMIT_PER_PROJECT": HIGH}
    command = [sys.executable, "-m", "sessionplane", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_listening("127.0.0.1", port, process)
    return process, port


def main() -> None:
    use_uvloop()
    with tempfile.TemporaryDirectory(prefix="sessionplane-bench-") as tmp, postgres_database() as url:
        data_dir = Path(tmp)  # the store's keyring and data go with it
        project_id = asyncio.run(_seed(Settings(data_dir=data_dir, database_url=url)))
        samples: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, float] = {False: 0.0, True: 0.0}
        for limits_on in (False, True, False, True):
            process, port = _serve(data_dir, url, limits_on)
            try:
                token = asyncio.run(_login(f"http://127.0.0.1:{port}", project_id))
                asyncio.run(_requests(port, project_id, token))  # warm-up
                before = _cpu_seconds(process.pid)
                samples[limits_on] += asyncio.run(_requests(port, project_id, token))
                cpu[limits_on] += _cpu_seconds(process.pid) - before
            finally:
                process.terminate()
                process.wait(20)
        alone = asyncio.run(_limiter_alone(url, project_id))
    off, on = (statistics.median(samples[flag]) * 1e6 for flag in (False, True))
    print(f"rate limits, PostgreSQL, {REQUESTS * 2} requests each way, median per request:")
    print(f"  GET /v3/{{project}}/instances  limits off {off:7.0f} us   on {on:7.0f} us   cost {on - off:+6.0f} us")
    cpu_off, cpu_on = (cpu[flag] / len(samples[flag]) * 1e6 for flag in (False, True))
    print(
        f"  serve CPU per request         limits off {cpu_off:7.0f} us   on {cpu_on:7.0f} us"
        f"   cost {cpu_on - cpu_off:+6.0f} us"
    )
    print(f"  RateLimiter.check alone (one upsert, two counters): {alone:.0f} us")


if __name__ == "__main__":
    main()
