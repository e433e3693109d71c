"""Hand-written DuckDB queries of the core pack's rules: the yardstick of the batch audit.

Each query is written directly for DuckDB over `ev`, a flat table of the license's events
with the payload fields the rules read as typed columns (built once by `FLATTEN`), the way
an analyst would write them: window functions, per-package running sums, carried-forward
state, no correlated look-ups. Each returns the ids of the events that trigger a finding,
in the period [$opens, $closes). `bench/audit_reference.py` times them against the audit
and checks that both find the same events.

The parameters are the core (California) pack's, written in: this is a yardstick for one
pack, not a second rule engine.
"""

from __future__ import annotations

# The license's events, flattened: one typed column per payload field the rules read.
FLATTEN = """
CREATE TABLE ev AS SELECT id, type, occurred_at AS t, package_label AS pkg, reference AS ref,
    timezone('America/Los_Angeles', occurred_at)::DATE AS local_date,
    payload->>'shipment_state' AS shipment_state, payload->>'last_modified' AS last_modified,
    (payload->>'quantity')::DOUBLE AS quantity, payload->>'reason' AS reason,
    payload->>'note' AS note, payload->>'name' AS name, payload->>'list_digest' AS list_digest,
    (payload->>'counted_quantity')::DOUBLE AS counted_quantity,
    (payload->>'received_quantity')::DOUBLE AS received_quantity,
    (payload->>'shipped_quantity')::DOUBLE AS shipped_quantity,
    payload->>'kind' AS kind, payload->>'recipient' AS recipient,
    (payload->>'received_at')::TIMESTAMPTZ AS received_at,
    (payload->>'recorded_at')::TIMESTAMPTZ AS recorded_at,
    (payload->>'voided')::BOOLEAN AS voided, payload->>'customer_id' AS customer_id,
    payload->>'category' AS category, (payload->>'unit_weight')::DOUBLE AS unit_weight,
    payload->>'unit' AS unit, payload->>'location' AS location,
    payload->>'to_location' AS to_location,
    (payload->>'is_on_hold')::BOOLEAN AS is_on_hold,
    (payload->>'is_on_recall')::BOOLEAN AS is_on_recall,
    payload->>'lab_testing_state' AS lab_testing_state,
    (payload->>'expiration_date')::DATE AS expiration_date,
    (payload->>'is_trade_sample')::BOOLEAN AS is_trade_sample,
    (payload->>'is_donation')::BOOLEAN AS is_donation,
    (payload->>'is_testing_sample')::BOOLEAN AS is_testing_sample
FROM events
"""



def period(alias: str = "") -> str:
    """Return the clause keeping an alias's events that occurred in the period."""
    t = f"{alias}.t" if alias else "t"
    return f"{t} >= $opens AND {t} < $closes"


KNOWN = ("(SELECT DISTINCT pkg FROM ev WHERE type IN ('manifest_package', 'package_snapshot')"
         " AND pkg IS NOT NULL)")
# METRC's on-hand of each count line's package at the count (accepted + adjusted - sold).
ON_HAND = """
WITH moves AS (
    SELECT id, pkg, t, type, CASE
        WHEN type = 'manifest_package' AND shipment_state = 'Accepted'
            THEN coalesce(received_quantity, 0)
        WHEN type = 'adjustment' THEN coalesce(quantity, 0)
        WHEN type = 'metrc_sale_line' THEN -coalesce(quantity, 0)
        ELSE 0 END AS delta
    FROM ev WHERE type IN ('manifest_package', 'adjustment', 'metrc_sale_line', 'count_line')
        AND pkg IS NOT NULL)
SELECT id, pkg, t, sum(delta) OVER (PARTITION BY pkg ORDER BY t
    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS on_hand
FROM moves"""


def _state_rule(types: str, fields: list[str], verdict: str) -> str:
    """Return a state-at-time query: per sale, each field of its package's latest evidence."""
    carried = ",\n".join(
        f"last_value(CASE WHEN gives_{f} THEN {{'v': {f}}} END IGNORE NULLS) OVER w AS s_{f}"
        for f in fields)
    gives = ",\n".join(
        f"CASE type WHEN 'package_snapshot' THEN TRUE "
        f"WHEN 'manifest_package' THEN evidence AND {f in ('location', 'lab_testing_state')} "
        f"WHEN 'location_change' THEN {f == 'location'} END AS gives_{f}" for f in fields)
    return f"""
WITH rows AS (
    SELECT id, pkg, t, type,
        CASE WHEN type = 'manifest_package' THEN $receiving ELSE location END AS location,
        lab_testing_state, is_on_hold, is_on_recall, expiration_date, is_trade_sample,
        is_donation, is_testing_sample,
        (type <> 'manifest_package' OR shipment_state = 'Accepted') AS evidence
    FROM ev WHERE type IN ({types}) AND pkg IS NOT NULL),
flags AS (SELECT *, {gives} FROM rows),
states AS (
    SELECT id, pkg, t, count(CASE WHEN evidence THEN 1 END) OVER w AS known, {carried}
    FROM flags WINDOW w AS (PARTITION BY pkg ORDER BY t, id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
latest AS (SELECT pkg, t, arg_max(states, id) AS s FROM states GROUP BY pkg, t),
sales AS (SELECT id, pkg, t, local_date FROM ev
    WHERE type = 'pos_sale_line' AND voided = FALSE AND {period()})
SELECT sales.id FROM sales ASOF JOIN latest
    ON sales.pkg = latest.pkg AND sales.t >= latest.t
WHERE latest.s.known > 0 AND NOT coalesce({verdict}, FALSE)
"""


def _ok(field: str) -> str:
    """Return: the state's boolean flag is missing or false."""
    return f"coalesce(latest.s.s_{field}.v IS NULL OR latest.s.s_{field}.v = FALSE, TRUE)"


UNSELLABLE = " AND ".join([
    _ok("is_on_hold"), _ok("is_on_recall"),
    "latest.s.s_lab_testing_state.v IN ('TestPassed', 'RetestPassed', 'NotRequired', "
    "'ProcessValidated')",
    "(latest.s.s_expiration_date.v IS NULL OR latest.s.s_expiration_date.v >= sales.local_date)",
    _ok("is_trade_sample"), _ok("is_donation"), _ok("is_testing_sample")])

QUERIES: dict[str, str] = {
    "activity-before-acceptance": f"""
        WITH accepted AS (SELECT pkg, min(t) AS t FROM ev
            WHERE type IN ('manifest_package', 'package_snapshot')
              AND (shipment_state = 'Accepted' OR trim(last_modified) <> '') GROUP BY pkg)
        SELECT e.id FROM ev e LEFT JOIN accepted a ON a.pkg = e.pkg
        WHERE e.type IN ('pos_sale_line', 'move', 'adjustment') AND e.pkg IN {KNOWN}
          AND (a.t IS NULL OR a.t > e.t) AND {period('e')}""",
    "adjustment-note-required": f"""
        SELECT id FROM ev WHERE type = 'adjustment' AND {period()}
          AND (coalesce(quantity < 0, FALSE) OR coalesce(reason IN
               ('Theft', 'Waste (Unusable Product)', 'Mandatory State Destruction'), FALSE))
          AND NOT coalesce(length(trim(note)) BETWEEN 5 AND 200, FALSE)""",
    "adjustment-reason-valid": f"""
        WITH versions AS (SELECT t, arg_max(list_digest, id) AS digest FROM ev
                          WHERE type = 'adjust_reason' GROUP BY t),
             first AS (SELECT arg_min(list_digest, (t, id)) AS digest FROM ev
                       WHERE type = 'adjust_reason'),
             adjustments AS (SELECT id, t, reason FROM ev
                             WHERE type = 'adjustment' AND {period()}),
             in_force AS (SELECT a.id, a.reason,
                          coalesce(v.digest, (SELECT digest FROM first)) AS digest
                          FROM adjustments a ASOF LEFT JOIN versions v ON a.t >= v.t)
        SELECT id FROM in_force i WHERE NOT EXISTS (SELECT 1 FROM ev r
            WHERE r.type = 'adjust_reason' AND r.name = i.reason AND r.list_digest = i.digest)""",
    "count-variance": f"""
        SELECT c.id FROM ev c JOIN ({ON_HAND}) h ON h.id = c.id
        WHERE c.type = 'count_line' AND c.pkg IN {KNOWN} AND {period('c')}
          AND NOT coalesce(abs(c.counted_quantity - h.on_hand) <= 0.01, FALSE)""",
    "count-variance-unadjusted": f"""
        WITH adjusted AS (SELECT pkg, min(t) AS t FROM ev WHERE type = 'adjustment'
                          GROUP BY pkg)
        SELECT c.id FROM ev c JOIN ({ON_HAND}) h ON h.id = c.id
            LEFT JOIN adjusted a ON a.pkg = c.pkg
        WHERE c.type = 'count_line' AND c.pkg IN {KNOWN} AND {period('c')}
          AND abs(c.counted_quantity - h.on_hand) > 0.01
          AND c.t + INTERVAL 24 HOUR <= $closes
          AND (a.t IS NULL OR a.t > least(c.t + INTERVAL 24 HOUR, $closes))""",
    "loss-not-notified": f"""
        WITH told AS (SELECT pkg, recipient, min(t) AS t FROM ev
                      WHERE type = 'notification' AND kind IN ('theft', 'loss')
                      GROUP BY pkg, recipient)
        SELECT a.id FROM ev a
        WHERE a.type = 'adjustment' AND a.reason = 'Theft' AND {period('a')}
          AND a.t + INTERVAL 24 HOUR <= $closes
          AND NOT (EXISTS (SELECT 1 FROM told n WHERE n.pkg = a.pkg
                           AND n.recipient = 'regulator' AND n.t <= a.t + INTERVAL 24 HOUR
                           AND n.t <= $closes)
               AND EXISTS (SELECT 1 FROM told n WHERE n.pkg = a.pkg
                           AND n.recipient = 'law-enforcement'
                           AND n.t <= a.t + INTERVAL 24 HOUR AND n.t <= $closes))""",
    "manifest-acceptance-late": f"""
        WITH firsts AS (SELECT ref, arg_min(id, (t, id)) AS id, min(t) AS t FROM ev
                        WHERE type = 'receiving_scan' AND trim(ref) <> '' GROUP BY ref),
             accepted AS (SELECT ref, received_at FROM ev
                          WHERE type = 'manifest' AND trim(received_at::VARCHAR) <> '')
        SELECT f.id FROM firsts f WHERE {period('f')} AND f.t + INTERVAL 24 HOUR <= $closes
          AND NOT EXISTS (SELECT 1 FROM accepted m WHERE m.ref = f.ref
              AND m.received_at <= f.t + INTERVAL 24 HOUR AND m.received_at <= $closes)""",
    "manifest-package-unlisted": f"""
        SELECT s.id FROM ev s WHERE s.type = 'receiving_scan' AND {period('s')}
          AND NOT EXISTS (SELECT 1 FROM ev m WHERE m.type = 'manifest_package'
                          AND m.ref = s.ref AND m.pkg = s.pkg)""",
    "manifest-package-unscanned": f"""
        WITH scans AS (SELECT ref, pkg, min(t) AS t FROM ev WHERE type = 'receiving_scan'
                       GROUP BY ref, pkg)
        SELECT m.id FROM ev m LEFT JOIN scans s ON s.ref = m.ref AND s.pkg = m.pkg
        WHERE m.type = 'manifest_package' AND m.shipment_state = 'Accepted' AND {period('m')}
          AND (s.t IS NULL OR s.t > m.t)""",
    "manifest-quantity-mismatch": f"""
        WITH adjusted AS (SELECT pkg, min(t) AS t FROM ev WHERE type = 'adjustment'
                          GROUP BY pkg)
        SELECT m.id FROM ev m LEFT JOIN adjusted a ON a.pkg = m.pkg
        WHERE m.type = 'manifest_package' AND m.shipment_state = 'Accepted'
          AND m.received_quantity <> m.shipped_quantity AND {period('m')}
          AND m.t + INTERVAL 24 HOUR <= $closes
          AND (a.t IS NULL OR a.t > least(m.t + INTERVAL 24 HOUR, $closes))""",
    "metrc-sale-without-pos": f"""
        WITH pos AS (SELECT DISTINCT ref, pkg FROM ev
                     WHERE type = 'pos_sale_line' AND voided = FALSE)
        SELECT s.id FROM ev s WHERE s.type = 'metrc_sale_line' AND {period('s')}
          AND NOT EXISTS (SELECT 1 FROM pos p WHERE p.ref = s.ref AND p.pkg = s.pkg)""",
    "package-oversold": f"""
        WITH moves AS (
            SELECT id, type, t, pkg, CASE
                WHEN type = 'manifest_package' THEN coalesce(received_quantity, 0)
                WHEN type = 'adjustment' THEN coalesce(quantity, 0)
                ELSE -coalesce(quantity, 0) END AS delta,
                CASE WHEN type = 'manifest_package' THEN 0 ELSE 1 END AS phase
            FROM ev WHERE pkg IS NOT NULL AND (type IN ('adjustment', 'metrc_sale_line')
                OR (type = 'manifest_package' AND shipment_state = 'Accepted'))),
        running AS (SELECT id, type, t, delta, sum(delta) OVER (PARTITION BY pkg
                    ORDER BY phase, t, id) AS total FROM moves)
        SELECT id FROM running WHERE type IN ('metrc_sale_line', 'adjustment')
          AND total < -0.0001 - 1e-9 AND total - delta >= -0.0001 - 1e-9 AND {period()}""",
    "pos-sale-unreported": f"""
        WITH metrc AS (SELECT ref, pkg, quantity, min(recorded_at) AS at FROM ev
                       WHERE type = 'metrc_sale_line' GROUP BY ref, pkg, quantity)
        SELECT p.id FROM ev p WHERE p.type = 'pos_sale_line' AND p.voided = FALSE
          AND {period('p')} AND p.t + INTERVAL 24 HOUR <= $closes
          AND NOT EXISTS (SELECT 1 FROM metrc m WHERE m.ref = p.ref AND m.pkg = p.pkg
              AND m.quantity = p.quantity AND m.at <= p.t + INTERVAL 24 HOUR
              AND m.at <= $closes)""",
    "purchase-limit-exceeded": f"""
        WITH snapshots AS (SELECT pkg, t, arg_max(unit_weight, id) AS unit_weight FROM ev
                           WHERE type = 'package_snapshot' GROUP BY pkg, t),
        sales AS (SELECT id, t, pkg, customer_id, local_date, category, quantity FROM ev
                  WHERE type = 'pos_sale_line' AND voided = FALSE
                    AND trim(customer_id) <> ''),
        weighed AS (SELECT s.*, coalesce(s.quantity * coalesce(w.unit_weight, 1), 0) AS grams
                    FROM sales s ASOF LEFT JOIN snapshots w ON s.pkg = w.pkg AND s.t >= w.t),
        buckets AS (
            SELECT *, CASE WHEN category IN ('Flower', 'Pre-Roll', 'Edible') THEN 28.5
                           WHEN category IN ('Vape Cartridge', 'Concentrate') THEN 8 END AS cap,
                      CASE WHEN category IN ('Flower', 'Pre-Roll', 'Edible') THEN 0
                           WHEN category IN ('Vape Cartridge', 'Concentrate') THEN 1 END AS bucket
            FROM weighed),
        running AS (SELECT id, t, grams, cap, sum(grams) OVER (PARTITION BY customer_id,
                        local_date, bucket ORDER BY t, id) AS total
                    FROM buckets WHERE bucket IS NOT NULL)
        SELECT id FROM running WHERE total > cap + 1e-9 AND total - grams <= cap + 1e-9
          AND {period()}""",
    # A count is full by what it covers: every package with METRC on-hand just before its
    # first line (an ASOF look-up of each package's balance) counted, or sold during it.
    "reconciliation-overdue": """
        WITH counts AS (SELECT ref, arg_min(id, (t, id)) AS id, min(t) AS started,
                            max(t) AS ended FROM ev WHERE type = 'count_line'
                            AND ref IS NOT NULL GROUP BY ref HAVING min(t) <= $closes),
             moves AS (SELECT pkg, t, CASE
                 WHEN type = 'manifest_package' AND shipment_state = 'Accepted'
                     THEN coalesce(received_quantity, 0)
                 WHEN type = 'adjustment' THEN coalesce(quantity, 0)
                 ELSE -coalesce(quantity, 0) END AS delta
                 FROM ev WHERE type IN ('manifest_package', 'adjustment', 'metrc_sale_line')
                   AND pkg IS NOT NULL),
             balances AS (SELECT pkg, t, sum(delta) OVER (PARTITION BY pkg ORDER BY t
                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS balance
                          FROM moves),
             pairs AS (SELECT c.ref, c.started, c.ended, p.pkg
                       FROM counts c CROSS JOIN (SELECT DISTINCT pkg FROM moves) p),
             held AS (SELECT pairs.* FROM pairs ASOF JOIN balances b
                          ON pairs.pkg = b.pkg AND pairs.started > b.t
                      WHERE b.balance > 1e-6),
             lines AS (SELECT DISTINCT ref, pkg FROM ev WHERE type = 'count_line'),
             sales AS (SELECT pkg, t FROM ev WHERE type = 'metrc_sale_line'),
             missed AS (SELECT h.ref FROM held h
                        WHERE NOT EXISTS (SELECT 1 FROM lines l
                                          WHERE l.ref = h.ref AND l.pkg = h.pkg)
                          AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.pkg = h.pkg
                                          AND s.t BETWEEN h.started AND h.ended)),
             full_counts AS (SELECT c.* FROM counts c
                             WHERE c.ref IN (SELECT ref FROM held)
                               AND c.ref NOT IN (SELECT ref FROM missed))
        SELECT f.id FROM full_counts f WHERE f.started >= $opens AND f.started < $closes
          AND f.started + INTERVAL 30 DAY <= $closes
          AND NOT EXISTS (SELECT 1 FROM full_counts n WHERE n.started > f.started
              AND n.started <= f.started + INTERVAL 30 DAY AND n.started <= $closes)""",
    "sale-outside-sales-floor": _state_rule(
        "'manifest_package', 'package_snapshot', 'location_change'", ["location"],
        "list_contains($floor, latest.s.s_location.v)"),
    "sale-quantity-mismatch": f"""
        WITH metrc AS (SELECT ref, pkg, quantity, unit FROM ev WHERE type = 'metrc_sale_line')
        SELECT p.id FROM ev p WHERE p.type = 'pos_sale_line' AND p.voided = FALSE
          AND {period('p')} AND EXISTS (SELECT 1 FROM metrc m
              WHERE m.ref = p.ref AND m.pkg = p.pkg
                AND (NOT coalesce(abs(p.quantity - m.quantity) <= 0.0001, FALSE)
                     OR NOT coalesce(p.unit = m.unit, FALSE)))""",
    "sale-unsellable-package": _state_rule(
        "'manifest_package', 'package_snapshot'",
        ["lab_testing_state", "is_on_hold", "is_on_recall", "expiration_date",
         "is_trade_sample", "is_donation", "is_testing_sample"], UNSELLABLE),
    "tag-invalid": f"""
        SELECT id FROM ev WHERE pkg IS NOT NULL AND {period()}
          AND NOT coalesce(regexp_matches(pkg, '^[0-9A-Z]{{24}}$'), FALSE)""",
    "transfer-before-move": f"""
        SELECT m.id FROM ev m WHERE m.type = 'move' AND {period('m')}
          AND NOT EXISTS (SELECT 1 FROM ev c WHERE c.type = 'location_change'
              AND c.pkg = m.pkg AND c.location = m.to_location
              AND c.t <= m.t AND c.t >= m.t - INTERVAL 7 DAY)""",
    "untracked-package": f"""
        SELECT e.id FROM ev e WHERE e.type IN ('pos_sale_line', 'count_line', 'move')
          AND {period('e')} AND (e.pkg IS NULL OR e.pkg NOT IN {KNOWN})""",
}
