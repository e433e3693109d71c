"""The API's blueprints, registered by the factory in this order."""

from api.resources.audits import blp as audits
from api.resources.events import blp as events
from api.resources.findings import blp as findings
from api.resources.imports import blp as imports
from api.resources.jobs import blp as jobs
from api.resources.licenses import blp as licenses
from api.resources.packets import blp as packets
from api.resources.rules import blp as rules
from api.resources.syncs import blp as syncs
from api.resources.trail import blp as trail

BLUEPRINTS = [licenses, imports, events, audits, findings, rules, packets, trail, syncs, jobs]
