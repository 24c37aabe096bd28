"""Client tests: what applications (psycopg2) and BI tools (SQLAlchemy's
inspector, as Superset uses it) see of the pipeline extension.

Runs against the server named by the PG* environment variables, in a
database of its own that it creates and drops.  Prints one line per test
and a final "N passed, M failed"; exits non-zero on any failure.
"""
import datetime
import decimal
import os
import sys
import traceback

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import sqlalchemy
from sqlalchemy import MetaData, Table, create_engine, inspect, select
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.types import NullType

DB = "pipeline_client_%d" % os.getpid()
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def connect(**kw):
    return psycopg2.connect(dbname=kw.pop("dbname", DB), **kw)


def setup():
    admin = psycopg2.connect(dbname=os.environ.get("PGDATABASE", "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s"' % DB)
        cur.execute('CREATE DATABASE "%s"' % DB)
    admin.close()
    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION pipeline")
        cur.execute("""
            CREATE TABLE public.deals (
                id      serial PRIMARY KEY,
                name    text NOT NULL,
                amount  numeric(12,2),
                stage   pipeline.stage NOT NULL DEFAULT 'lead_generation')""")
        cur.execute("SELECT pipeline.attach('public.deals')")
        cur.execute("CREATE TYPE public.ticket_state AS ENUM ('new', 'triaged', 'rejected', 'done')")
        cur.execute("SELECT pipeline.define_stages('public.ticket_state', won => '{done}', lost => '{rejected}')")
        cur.execute("CREATE TABLE public.tickets (code text PRIMARY KEY, status public.ticket_state NOT NULL)")
        cur.execute("SELECT pipeline.attach('public.tickets', 'status')")
    conn.close()


def teardown():
    admin = psycopg2.connect(dbname=os.environ.get("PGDATABASE", "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
    admin.close()


# ---------------------------------------------------------------------------
# (a) The application flow
# ---------------------------------------------------------------------------

@test
def create_and_advance():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO deals (name, amount) VALUES (%s, %s) RETURNING id, stage::text", ("Acme", 1200))
        deal_id, stage = cur.fetchone()
        assert stage == "lead_generation", stage
        for nxt in ("prospecting", "qualification"):
            cur.execute("UPDATE deals SET stage = %s WHERE id = %s", (nxt, deal_id))
            assert cur.rowcount == 1
        # UI paths: next_stages as text[] arrives as a Python list.
        cur.execute("SELECT pipeline.next_stages(stage)::text[] FROM deals WHERE id = %s", (deal_id,))
        assert cur.fetchone()[0] == ["initial_contact", "closed_lost"]
        cur.execute("""SELECT from_stage::text, to_stage::text FROM deals_stage_history
                        WHERE id = %s ORDER BY seq""", (deal_id,))
        assert cur.fetchall() == [(None, "lead_generation"), ("lead_generation", "prospecting"),
                                  ("prospecting", "qualification")]


@test
def rule_helpers_take_bound_text():
    """allowed_moves/can_move with plain text parameters, as a driver
    binds them: no enum type, no ruleset to know."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pipeline.allowed_moves(%s, %s)", ("public.deals", "proposal"))
            assert cur.fetchone()[0] == ["negotiation", "closed_lost"]
            cur.execute("SELECT pipeline.allowed_moves(%s, %s)", ("public.deals", None))
            assert cur.fetchone()[0] == ["lead_generation", "prospecting"]
            cur.execute("SELECT pipeline.allowed_moves(%s, %s, %s)", ("public.tickets", "new", "status"))
            assert cur.fetchone()[0] == ["triaged", "rejected"]
            cur.execute("SELECT pipeline.can_move(%s, %s, %s), pipeline.can_move(%s, %s, %s)",
                        ("public.deals", "proposal", "negotiation", "public.deals", "proposal", "closed_won"))
            assert cur.fetchone() == (True, False)
            try:
                cur.execute("SELECT pipeline.can_move(%s, %s, %s)", ("public.deals", "proposal", "won"))
            except psycopg2.errors.InvalidTextRepresentation as e:
                assert e.pgcode == "22P02"
            else:
                raise AssertionError("unknown label accepted")
            conn.rollback()
            cur.execute("CREATE TEMP TABLE loose (id int PRIMARY KEY, stage pipeline.stage)")
            try:
                cur.execute("SELECT pipeline.allowed_moves(%s, %s)", ("loose", "proposal"))
            except psycopg2.errors.UndefinedObject as e:
                assert e.pgcode == "42704"
            else:
                raise AssertionError("unattached table accepted")
            conn.rollback()
    finally:
        conn.close()


@test
def illegal_move_is_check_violation_with_fields():
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO deals (name, stage) VALUES ('Globex', 'prospecting') RETURNING id")
            deal_id = cur.fetchone()[0]
            cur.execute("UPDATE deals SET stage = 'qualification' WHERE id = %s", (deal_id,))
            conn.commit()
            try:
                cur.execute("UPDATE deals SET stage = 'closed_won' WHERE id = %s", (deal_id,))
            except psycopg2.errors.CheckViolation as e:
                err = e
            else:
                raise AssertionError("illegal move was accepted")
            conn.rollback()
            assert err.pgcode == "23514", err.pgcode
            d = err.diag
            assert d.sqlstate == "23514"
            assert d.message_primary == 'illegal stage transition from "qualification" to "closed_won"', d.message_primary
            assert d.message_detail == ('Allowed from "qualification": initial_contact, closed_lost.'
                                        ' Failing row has key (id)=(%d).' % deal_id), d.message_detail
            assert d.schema_name == "public", d.schema_name
            assert d.table_name == "deals", d.table_name
            assert d.column_name == "stage", d.column_name
            assert d.constraint_name == "zz_pipeline_enforce_stage", d.constraint_name
            # Nothing changed, nothing recorded.
            cur.execute("SELECT stage::text FROM deals WHERE id = %s", (deal_id,))
            assert cur.fetchone()[0] == "qualification"
            cur.execute("SELECT count(*) FROM deals_stage_history WHERE id = %s", (deal_id,))
            assert cur.fetchone()[0] == 2
    finally:
        conn.close()


@test
def illegal_creation_and_null_stage():
    conn = connect()
    try:
        with conn.cursor() as cur:
            try:
                cur.execute("INSERT INTO deals (name, stage) VALUES ('Initech', 'proposal')")
            except psycopg2.errors.CheckViolation as e:
                d = e.diag
            else:
                raise AssertionError("illegal creation was accepted")
            conn.rollback()
            assert d.message_primary == 'illegal stage transition from (new row) to "proposal"', d.message_primary
            assert d.message_detail.startswith("Allowed from (new row): lead_generation, prospecting. Failing row has key (id)=("), d.message_detail
            assert "history_from" in d.message_hint, d.message_hint
            assert (d.table_name, d.column_name) == ("deals", "stage")
            assert d.constraint_name.startswith("zz_pipeline_enforce"), d.constraint_name
            cur.execute("INSERT INTO deals (name) VALUES ('Umbrella') RETURNING id")
            deal_id = cur.fetchone()[0]
            try:
                cur.execute("UPDATE deals SET stage = NULL WHERE id = %s", (deal_id,))
            except psycopg2.errors.NotNullViolation as e:
                assert e.pgcode == "23502"
            else:
                raise AssertionError("NULL stage was accepted")
            conn.rollback()
    finally:
        conn.close()


@test
def custom_type_and_column():
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tickets VALUES ('T-1', 'new')")
            cur.execute("UPDATE tickets SET status = 'rejected' WHERE code = 'T-1'")
            conn.commit()
            try:
                cur.execute("UPDATE tickets SET status = 'done' WHERE code = 'T-1'")
            except psycopg2.errors.CheckViolation as e:
                d = e.diag
            else:
                raise AssertionError("leaving a lost stage was accepted")
            conn.rollback()
            assert d.message_detail == 'No transition is allowed from "rejected". Failing row has key (code)=(T-1).', d.message_detail
            assert (d.table_name, d.column_name, d.constraint_name) == ("tickets", "status", "zz_pipeline_enforce_status")
    finally:
        conn.close()


@test
def concurrent_move_serialization_failure_then_retry():
    """REPEATABLE READ: the loser of a race gets 40001; retrying the whole
    transaction sees the new stage and then gets 23514 (not transient)."""
    setup_conn = connect()
    with setup_conn.cursor() as cur:
        cur.execute("INSERT INTO deals (name, stage) VALUES ('Hooli', 'prospecting') RETURNING id")
        deal_id = cur.fetchone()[0]
        cur.execute("UPDATE deals SET stage = 'qualification' WHERE id = %s", (deal_id,))
        cur.execute("UPDATE deals SET stage = 'initial_contact' WHERE id = %s", (deal_id,))
        cur.execute("UPDATE deals SET stage = 'proposal' WHERE id = %s", (deal_id,))
    setup_conn.commit()
    setup_conn.close()

    a = connect()
    b = connect()
    try:
        a.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ)
        ca, cb = a.cursor(), b.cursor()
        ca.execute("SELECT stage::text FROM deals WHERE id = %s", (deal_id,))
        assert ca.fetchone()[0] == "proposal"
        cb.execute("UPDATE deals SET stage = 'closed_lost' WHERE id = %s", (deal_id,))
        b.commit()
        try:
            ca.execute("UPDATE deals SET stage = 'negotiation' WHERE id = %s", (deal_id,))
        except psycopg2.errors.SerializationFailure as e:
            assert e.pgcode == "40001"
        else:
            raise AssertionError("expected a serialization failure")
        a.rollback()
        # The retry: a new transaction sees closed_lost; the move is illegal.
        try:
            ca.execute("UPDATE deals SET stage = 'negotiation' WHERE id = %s", (deal_id,))
        except psycopg2.errors.CheckViolation as e:
            assert e.diag.message_detail == ('No transition is allowed from "closed_lost".'
                                             ' Failing row has key (id)=(%d).' % deal_id), e.diag.message_detail
        else:
            raise AssertionError("expected 23514 on retry")
        a.rollback()
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# (b) BI discovery through SQLAlchemy's inspector
# ---------------------------------------------------------------------------

def engine():
    # An empty URL: libpq takes host, port, user and password from PG*.
    return create_engine("postgresql+psycopg2://", connect_args={"dbname": DB})


VIEWS = {
    ("pipeline", "stage_catalog"): [
        ("stage_type", pg.TEXT), ("stage", pg.TEXT), ("ordinal", pg.INTEGER), ("kind", pg.TEXT),
        ("probability", pg.NUMERIC), ("is_entry", pg.BOOLEAN), ("rotting_after", pg.INTERVAL),
        ("rotting_after_days", pg.DOUBLE_PRECISION)],
    ("pipeline", "transition_rules"): [
        ("stage_type", pg.TEXT), ("ruleset", pg.TEXT), ("from_stage", pg.TEXT), ("to_stage", pg.TEXT)],
    ("pipeline", "attachments"): [
        ("table_name", pg.TEXT), ("stage_column", pg.TEXT), ("ruleset", pg.TEXT), ("history_table", pg.TEXT),
        ("entered_at_column", pg.TEXT)],
    ("public", "deals_stage_visits"): [
        ("id", pg.INTEGER), ("stage", pg.TEXT), ("ordinal", pg.INTEGER), ("entered_at", pg.TIMESTAMP),
        ("exited_at", pg.TIMESTAMP), ("time_in_stage", pg.INTERVAL), ("time_in_stage_days", pg.DOUBLE_PRECISION),
        ("is_current", pg.BOOLEAN)],
    ("public", "deals_stage_durations"): [
        ("stage", pg.TEXT), ("ordinal", pg.INTEGER), ("visits", pg.BIGINT),
        ("avg_time", pg.INTERVAL), ("avg_days", pg.DOUBLE_PRECISION),
        ("median_time", pg.INTERVAL), ("median_days", pg.DOUBLE_PRECISION),
        ("p90_time", pg.INTERVAL), ("p90_days", pg.DOUBLE_PRECISION)],
    ("public", "deals_rotting"): [
        ("id", pg.INTEGER), ("stage", pg.TEXT), ("entered_at", pg.TIMESTAMP), ("time_in_stage", pg.INTERVAL),
        ("time_in_stage_days", pg.DOUBLE_PRECISION), ("rotting_after", pg.INTERVAL),
        ("rotting_after_days", pg.DOUBLE_PRECISION)],
    ("public", "deals_funnel"): [
        ("stage", pg.TEXT), ("ordinal", pg.INTEGER), ("reached", pg.BIGINT), ("reached_amount", pg.NUMERIC),
        ("conversion_from_previous", pg.DOUBLE_PRECISION), ("conversion_from_first", pg.DOUBLE_PRECISION)],
    ("public", "tickets_status_funnel"): [
        ("stage", pg.TEXT), ("ordinal", pg.INTEGER), ("reached", pg.BIGINT), ("reached_amount", pg.NUMERIC),
        ("conversion_from_previous", pg.DOUBLE_PRECISION), ("conversion_from_first", pg.DOUBLE_PRECISION)],
}


@test
def inspector_lists_every_view():
    insp = inspect(engine())
    for schema in ("pipeline", "public"):
        names = set(insp.get_view_names(schema=schema))
        want = {v for (s, v) in VIEWS if s == schema}
        assert want <= names, (schema, sorted(want - names))
    public = set(insp.get_view_names(schema="public"))
    for suffix in ("stage_visits", "stage_durations", "rotting", "funnel"):
        assert "tickets_status_" + suffix in public, suffix


@test
def views_have_documented_columns_of_known_types():
    insp = inspect(engine())
    for (schema, view), want in VIEWS.items():
        cols = insp.get_columns(view, schema=schema)
        got = [(c["name"], type(c["type"])) for c in cols]
        for c in cols:
            assert not isinstance(c["type"], NullType), (schema, view, c["name"], c["type"])
        assert [n for n, _ in got] == [n for n, _ in want], (schema, view, got)
        for (name, t), (_, wt) in zip(got, want):
            assert issubclass(t, wt), (schema, view, name, t, wt)
        for c in cols:
            if c["name"] in ("entered_at", "exited_at"):
                assert c["type"].timezone, (view, c["name"])
            # BI tools show column comments as descriptions.
            assert c.get("comment"), (schema, view, c["name"])
        assert insp.get_table_comment(view, schema=schema)["text"], (schema, view)


@test
def views_read_with_python_types():
    eng = engine()
    with eng.connect() as conn:
        conn.execute(sqlalchemy.text(
            "SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '1 microsecond')"))
        conn.execute(sqlalchemy.text("SELECT pg_sleep(0.01)"))
        rows = {}
        for (schema, view) in VIEWS:
            t = Table(view, MetaData(), autoload_with=conn, schema=schema)
            rows[view] = conn.execute(select(t)).mappings().all()
            assert rows[view], view
        funnel = {r["stage"]: r for r in rows["deals_funnel"]}
        assert funnel["lead_generation"]["conversion_from_previous"] is None
        assert isinstance(funnel["prospecting"]["conversion_from_first"], float)
        assert isinstance(funnel["lead_generation"]["reached"], int)
        assert isinstance(funnel["lead_generation"]["reached_amount"], decimal.Decimal)
        # Durations chart as numbers: days next to every interval.
        for r in rows["deals_stage_visits"] + rows["deals_rotting"]:
            if r["time_in_stage"] is not None:
                assert isinstance(r["time_in_stage_days"], float), r
                assert abs(r["time_in_stage_days"] - r["time_in_stage"].total_seconds() / 86400) < 1e-6, r
        for r in rows["deals_rotting"]:
            assert abs(r["rotting_after_days"] - r["rotting_after"].total_seconds() / 86400) < 1e-12, r
        assert rows["deals_stage_durations"], "no completed visit"
        for r in rows["deals_stage_durations"]:
            for k in ("avg", "median", "p90"):
                assert abs(r[k + "_days"] - r[k + "_time"].total_seconds() / 86400) < 1e-9, (k, r)
        visit = rows["deals_stage_visits"][0]
        assert isinstance(visit["entered_at"], datetime.datetime) and visit["entered_at"].tzinfo is not None
        assert isinstance(visit["time_in_stage"], datetime.timedelta)
        assert any(r["is_current"] for r in rows["deals_stage_visits"])
        assert all(isinstance(r["time_in_stage"], datetime.timedelta) for r in rows["deals_rotting"])
        assert all(r["ordinal"] >= 1 for r in rows["stage_catalog"])
        conn.execute(sqlalchemy.text(
            "SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', NULL)"))
    eng.dispose()


@test
def dashboard_queries_run():
    """The sample dashboard queries of docs/views.md ("A sample dashboard")."""
    eng = engine()
    with eng.connect() as conn:
        q = lambda sql: conn.execute(sqlalchemy.text(sql)).all()
        assert q("SELECT stage, reached, conversion_from_previous FROM public.deals_funnel ORDER BY ordinal")
        q("SELECT stage, visits, median_time, p90_time FROM public.deals_stage_durations ORDER BY ordinal")
        q("SELECT d.name, r.stage, r.time_in_stage FROM public.deals_rotting r JOIN public.deals d USING (id) "
          "ORDER BY r.time_in_stage DESC LIMIT 20")
        q("SELECT date_trunc('week', entered_at) AS week, stage, count(*) FROM public.deals_stage_visits "
          "GROUP BY 1, 2 ORDER BY 1, 2")
        assert q("SELECT pipeline.win_rate(stage), pipeline.weighted_pipeline(stage, amount) FROM public.deals")
    eng.dispose()


def main():
    passed = failed = 0
    try:
        setup()
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    try:
        for fn in TESTS:
            try:
                fn()
            except Exception:
                failed += 1
                print("FAIL %s" % fn.__name__)
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("ok   %s" % fn.__name__)
    finally:
        teardown()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
