"""The booking platform's migrations carry what staff already see across an upgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from integration_core.store.migrate import alembic_config, pending_revisions
from plugins.growth_platform.tables import SyncFailure
from tests.support.booking import STAFF
from tests.support.sandbox_ehr import book_and_sync

ACTION_REQUIRED = "/v1/practices/acme/portal/action-required"


def test_syncs_that_failed_before_the_upgrade_show_their_delivery_after_it(refusing_ehr):
    runtime, client, adapter = refusing_ehr
    adapter.refusing = False
    synced = book_and_sync(client, runtime)  # nothing to replay
    adapter.refusing = True
    failed = book_and_sync(client, runtime, start="2027-01-05T09:30:00-05:00")
    (dead,) = runtime.runner.dead("acme")

    # The schema as the release before kept it: no record of the delivery to replay.
    config = alembic_config(runtime.pm)
    with runtime.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "gp0002")
    assert pending_revisions(runtime.db, runtime.pm) == {"gp0003", "gp0004", "gp0005"}

    runtime.migrate()
    with runtime.db.read() as session:
        kept = [(f.request_id, f.delivery_id) for f in session.scalars(select(SyncFailure))]
    assert kept == [(failed["request_id"], dead.id)]
    items = client.get(ACTION_REQUIRED, headers=STAFF).json()["items"]
    assert {i["request_id"]: (i["status"], i["delivery_id"]) for i in items} == {
        synced["request_id"]: ("pending_request", None),
        failed["request_id"]: ("sync_failed", dead.id),
    }
