"""Continuous evaluation: the rule packs run on new events, in event time, in durable-rules.

`engine` is the only module that imports durable-rules; `fields` reads typed values
the way the SQL backend does; `programs` turns each rule template into a ruleset and
the typed facts it is fed; `evaluator` orders events behind a watermark and drives them.
"""
