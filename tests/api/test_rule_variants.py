"""A state's own version of a rule and the core rule of that id are edited apart."""

from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.rule_versions import publish, published_pack, seed_text
from auditor.store.rule_versions_sql import SqlRuleVersions

RULE = "purchase-limit-exceeded"


def test_publishing_colorados_purchase_limit_leaves_the_core_rule_in_force_elsewhere(sql_store):
    versions = SqlRuleVersions(sql_store.engine)
    root = default_rules_dir()
    text = seed_text(root, RULE, "CO")
    assert text is not None and "jurisdictions: [CO]" in text
    seeded = {r.id: r for r in load_pack(root, "CO").rules}[RULE].version
    publish(versions, load_pack(root, "CO"),
            text.replace(f"version: {seeded}", f"version: {seeded + 1}", 1), "officer@example")
    colorado = {r.id: r for r in published_pack(root, "CO", versions).rules}[RULE]
    california = {r.id: r for r in published_pack(root, "CA", versions).rules}[RULE]
    assert (colorado.version, colorado.jurisdictions) == (seeded + 1, ("CO",))
    shipped = {r.id: r for r in load_pack(root, "CA").rules}[RULE]
    assert (california.version, california.jurisdictions) == (shipped.version, ("*",))


def test_the_pack_in_force_is_built_once_per_content(sql_store):
    root = default_rules_dir()
    versions = SqlRuleVersions(sql_store.engine)
    first = published_pack(root, "CA", versions)
    assert published_pack(root, "CA", versions) is first  # cached: nothing re-parsed
    draft = seed_text(root, "tag-invalid").replace("version: 1", "version: 2", 1)
    publish(versions, first, draft, "test")
    again = published_pack(root, "CA", versions)
    assert again is not first
    assert {r.id: r.version for r in again.rules}["tag-invalid"] == 2
