"""Run the fault-injection suite: `python -m tests.faults` (`make test-faults`).

For each fault: two customers (REST, socket.io) go through the ticket form up to its last answer and wait; the
fault is injected and they send it, while two more customers start; after OUTAGE_SECONDS the service is
brought back, and every customer goes on until its ticket and its rating are acknowledged. Then the suite
waits until the action server's outbox has nothing pending and compares what is stored with what each
customer was told (ledger.py).

Exit status 1 when a write is lost or duplicated, or when a customer never got its writes acknowledged once
the service was back. The last line is always `faults=<n> acknowledged=<n> lost=<n> duplicated=<n>`.
Logs of the processes: var/faults/log/ (kept after the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest

from launcher.stack import DEFAULT_MODEL
from tests.faults.catalogue import FAULTS, OUTAGE_SECONDS, Fault
from tests.faults.customers import Customer
from tests.faults.ledger import Tally, tally_all
from tests.faults.stack import FaultStack, Paths
from tests.support import REPO_ROOT

RUN_FOLDER = REPO_ROOT / "var" / "faults"
CHANNELS = ("rest", "socketio")
# Customers waiting at the gate get there within this (a few turns each, on a busy machine).
GATE_TIMEOUT_SECONDS = 90.0
# After the service is back, each customer has this long to get its writes acknowledged.
FINISH_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 120.0


def say(line: str) -> None:
    print(line, flush=True)


async def run_fault(stack: FaultStack, fault: Fault) -> list[Customer]:
    gate = asyncio.Event()
    gated = [Customer(stack, channel, fault.name, gate) for channel in CHANNELS]
    free = [Customer(stack, channel, fault.name) for channel in CHANNELS]
    started = time.monotonic()
    deadline = started + GATE_TIMEOUT_SECONDS + OUTAGE_SECONDS + FINISH_SECONDS + 120
    tasks = [asyncio.create_task(customer.run(deadline)) for customer in gated]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.at_gate.wait() for c in gated)), GATE_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        say(f"  {fault.name}: not every customer reached the last answer in time; injecting anyway")
    say(f"  {fault.name}: {fault.description}")
    await fault.inject(stack)
    gate.set()
    tasks += [asyncio.create_task(customer.run(deadline)) for customer in free]
    await asyncio.sleep(OUTAGE_SECONDS)
    await fault.recover(stack)
    say(f"  {fault.name}: recovered after {time.monotonic() - started:.0f} s")
    done, pending = await asyncio.wait(tasks, timeout=FINISH_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return gated + free


async def drain(stack: FaultStack) -> dict[str, int]:
    """Wait until the outbox (contract 2) has nothing pending; its counts by state at the end."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    counts = stack.outbox_counts()
    while counts.get("pending", 0) and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        counts = stack.outbox_counts()
    return counts


def describe(customers: Sequence[Customer]) -> str:
    numbers = sum(1 for c in customers if c.told.ticket_numbers)
    return (
        f"tickets told: number {numbers}, queued {sum(c.told.ticket_queued > 0 for c in customers)},"
        f" not saved {sum(c.told.ticket_failed for c in customers)};"
        f" ratings told: saved {sum(c.told.rating_saved > 0 for c in customers)},"
        f" queued {sum(c.told.rating_queued > 0 for c in customers)},"
        f" not saved {sum(c.told.rating_failed for c in customers)};"
        f" unanswered messages {sum(c.told.unanswered for c in customers)}"
    )


def unfinished_customers(customers: Sequence[Customer]) -> list[Customer]:
    return [c for c in customers if not (c.told.ticket_acknowledged and c.told.rating_acknowledged)]


async def keep_trackers_of_unfinished(stack: FaultStack, customers: Sequence[Customer]) -> None:
    """Each unfinished customer's tracker, as Rasa has it, in var/faults/trackers/ (read them to see why)."""
    folder = RUN_FOLDER / "trackers"
    for customer in unfinished_customers(customers):
        try:
            tracker = await stack.tracker(customer.sender_id)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            say(f"  tracker of {customer.marker} not read: {error!r}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{customer.marker}.json"
        path.write_text(json.dumps(tracker, indent=1, ensure_ascii=False), encoding="utf-8")
        say(f"  tracker of {customer.marker}: {path}")


async def main(faults: Sequence[Fault], model: Path) -> int:
    started = time.monotonic()
    shutil.rmtree(RUN_FOLDER, ignore_errors=True)
    RUN_FOLDER.mkdir(parents=True)
    stack = FaultStack(Paths(RUN_FOLDER), model)
    customers: list[Customer] = []
    try:
        say(f"starting the service on its own PostgreSQL and Redis (logs: {stack.paths.logs})")
        await stack.start()
        say(f"  ready after {time.monotonic() - started:.0f} s")
        for fault in faults:
            customers += await run_fault(stack, fault)
        outbox = await drain(stack)
        say(f"outbox at the end: {outbox or 'no entries'}")
        tallies = await tally_all(stack.postgres.url, customers)
        await keep_trackers_of_unfinished(stack, customers)
    finally:
        await stack.close()

    total = Tally()
    for fault in faults:
        tally = tallies.get(fault.name, Tally())
        mine = [c for c in customers if c.fault == fault.name]
        say(
            f"{fault.name}: {describe(mine)} -> acknowledged={tally.acknowledged} lost={tally.lost}"
            f" duplicated={tally.duplicated}"
        )
        total.add(tally)
    unfinished = unfinished_customers(customers)
    for problem in total.problems:
        say(f"  PROBLEM {problem}")
    for customer in unfinished:
        who = f"{customer.marker} ({customer.fault}, {customer.channel_name})"
        say(f"  UNFINISHED {who}: {customer.transcript}")
    if outbox.get("pending") or outbox.get("dead"):
        say(f"  OUTBOX not drained: {outbox}")
    say(f"wall time {time.monotonic() - started:.0f} s")
    say(
        f"faults={len(faults)} acknowledged={total.acknowledged} lost={total.lost}"
        f" duplicated={total.duplicated}"
    )
    failed = total.lost or total.duplicated or unfinished or outbox.get("pending") or outbox.get("dead")
    return 1 if failed else 0


def parse_arguments(argv: Sequence[str]) -> tuple[list[Fault], Path]:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.split("\n\n")[0])
    names = [fault.name for fault in FAULTS]
    parser.add_argument("--only", action="append", choices=names, help="run only this fault (repeatable)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the Rasa model (%(default)s)")
    arguments = parser.parse_args(argv)
    faults = [fault for fault in FAULTS if not arguments.only or fault.name in arguments.only]
    return faults, arguments.model


def entry(argv: Sequence[str]) -> int:
    faults, model = parse_arguments(argv)
    if not model.exists():
        say(f"{model} is missing: run `make model`")
        return 1
    try:
        return asyncio.run(main(faults, model))
    except pytest.skip.Exception as missing:  # tests/support.unavailable: a program is not installed
        say(f"test-faults skipped: {missing.msg}")
        return 0
    except pytest.fail.Exception as missing:  # the same under CI=true, where nothing may skip
        say(f"test-faults cannot run: {missing.msg}")
        return 1


if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
