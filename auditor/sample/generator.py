"""Generate a complete sample store on disk and its ground truth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .planting import NoPlanter, Planter, full_count_days
from .routine import reason_rows
from .simulation import Sim
from .spec import StoreSpec
from .writers import Outbox, write_json

BUSINESS_NAME = "Harbor Light Cannabis Co."


def generate_store(out_dir: Path, spec: StoreSpec,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Write a sample store under out_dir and return its ground truth.

    The ground truth is also written to out_dir/ground-truth.json; progress(done_days,
    total_days) is called after each day's files are written.
    """
    if spec.days < 1 or spec.receipts_per_day < 1:
        raise ValueError("a sample store needs at least one day and one receipt a day")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Outbox(out_dir)
    sim = Sim(spec, out)
    sim.full_count_days = set(full_count_days(spec.days, spec.plant))
    sim.planter = Planter(sim) if spec.plant else NoPlanter()
    write_json(out_dir / "store.json", _store_json(spec))
    out.write_reasons(reason_rows())
    for day in range(spec.days):
        sim.run_day(day)
        if progress is not None:
            progress(day + 1, spec.days)
    if out.leftover_days():
        raise RuntimeError(f"records scheduled after the last day: {out.leftover_days()}")
    truth = {"spec": spec.to_json(), "record_counts": out.record_counts,
             "event_counts": out.event_counts, "violations": sim.violations()}
    write_json(out_dir / "files.json", out.files)
    write_json(out_dir / "ground-truth.json", truth)
    return truth


def _store_json(spec: StoreSpec) -> dict:
    return {"license_number": spec.license_number, "state": spec.state,
            "timezone": spec.timezone, "sales_floor_locations": ["Sales Floor"],
            "vault_locations": ["Vault"], "business_name": BUSINESS_NAME,
            "start": spec.start.isoformat(), "days": spec.days, "seed": spec.seed}
