-- The trigger functions called directly and through hand-made triggers
-- with wrong arguments, timing, level or events, and with hand-made
-- attachment rows (pipeline.attached_tables) naming unknown rulesets and
-- broken history tables.  Each case creates one trigger on a fresh table, runs one
-- statement and prints "ok: ..." or "<SQLSTATE>: <message>"; none may end
-- in an internal error (XX000) or a crash.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

CREATE TYPE hostile_unreg AS ENUM ('a', 'b');

-- Runs setup (DDL making trigger hostile_trg on table hostile_t) then dml,
-- in a subtransaction that is always rolled back.
CREATE FUNCTION hostile_trigger_case(setup text, dml text) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	BEGIN
		CREATE TABLE hostile_t (id int PRIMARY KEY, stage pipeline.stage, other hostile_unreg, note text);
		CREATE TABLE hostile_h (id int, from_stage pipeline.stage, to_stage pipeline.stage,
								changed_at timestamptz DEFAULT clock_timestamp(),
								changed_by name DEFAULT current_user, seq bigserial);
		INSERT INTO hostile_t VALUES (1, 'lead_generation', 'a', 'x');
		EXECUTE setup;
		EXECUTE dml;
		SELECT 'ok: ' || coalesce(string_agg(format('%s/%s/%s', id, coalesce(from_stage::text, '-'), to_stage), ' ' ORDER BY seq), 'no history')
		  INTO r FROM hostile_h;
		RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'rollback';
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE <> 'P0001' THEN
			-- PostgreSQL 15 says '"x" is an index', 17 'cannot open relation "x"'
			r := SQLSTATE || ': ' || regexp_replace(SQLERRM, '^"(.*)" is an index$', 'cannot open relation "\1"');
		END IF;
	END;
	RETURN r;
END
$$;

CREATE TEMP TABLE hostile_cases (id serial, label text, setup text, dml text);
INSERT INTO hostile_cases (label, setup, dml) VALUES
	('enforce: no arguments',
	 'CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition()',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: three arguments',
	 'CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'', ''strict'', ''x'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: no such column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''nope''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''nope'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: empty column name',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition('''')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: text column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''note''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''note'')',
	 'UPDATE hostile_t SET note = ''y'''),
	('enforce: unregistered enum column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''other''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''other'')',
	 'UPDATE hostile_t SET other = ''b'''),
	('enforce: system column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''ctid''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''ctid'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: unknown ruleset',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, ruleset) VALUES (''hostile_t'', ''stage'', ''nope''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: empty ruleset',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, ruleset) VALUES (''hostile_t'', ''stage'', ''''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: legal update',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: illegal update',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''closed_won'''),
	('enforce: update to NULL',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = NULL'),
	('enforce: AFTER UPDATE',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: BEFORE INSERT',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE INSERT ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'INSERT INTO hostile_t VALUES (2, ''lead_generation'')'),
	('enforce: AFTER INSERT illegal entry',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg AFTER INSERT ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'INSERT INTO hostile_t VALUES (2, ''proposal'')'),
	('enforce: AFTER INSERT NULL stage',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg AFTER INSERT ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'INSERT INTO hostile_t VALUES (2, NULL)'),
	('enforce: BEFORE DELETE',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE DELETE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'DELETE FROM hostile_t'),
	('enforce: FOR EACH STATEMENT',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH STATEMENT EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: AFTER STATEMENT with transition table',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: TRUNCATE',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE TRIGGER hostile_trg BEFORE TRUNCATE ON hostile_t EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'TRUNCATE hostile_t'),
	('enforce: INSTEAD OF on a view',
	 'CREATE VIEW hostile_v AS SELECT * FROM hostile_t; CREATE TRIGGER hostile_trg INSTEAD OF UPDATE ON hostile_v FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'UPDATE hostile_v SET stage = ''prospecting'''),
	('enforce: constraint trigger',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''stage''); CREATE CONSTRAINT TRIGGER hostile_trg AFTER INSERT ON hostile_t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''stage'')',
	 'INSERT INTO hostile_t VALUES (2, ''proposal''); SET CONSTRAINTS ALL IMMEDIATE'),
	('enforce: column dropped later',
	 'INSERT INTO pipeline.attached_tables (target, stage_column) VALUES (''hostile_t'', ''other''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition(''other''); ALTER TABLE hostile_t DROP COLUMN other',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('enforce: event trigger',
	 'CREATE EVENT TRIGGER hostile_trg ON ddl_command_end EXECUTE FUNCTION pipeline.enforce_transition()',
	 'SELECT 1'),
	('record: no arguments',
	 'CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition()',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: one argument',
	 'CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: valid',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: valid insert',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER INSERT ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'INSERT INTO hostile_t VALUES (2, ''proposal'')'),
	('record: no such history table',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.nope''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history name not schema-qualified',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history name with bad syntax',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''"unterminated''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history name empty',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history is the table itself',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_t''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history is a view',
	 'CREATE VIEW hostile_hv AS SELECT * FROM hostile_h; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_hv''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history is a sequence',
	 'CREATE SEQUENCE hostile_seq; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_seq''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history is an index',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_t_pkey''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history lacks to_stage',
	 'ALTER TABLE hostile_h DROP COLUMN to_stage; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history stage columns of another type',
	 'ALTER TABLE hostile_h ALTER COLUMN from_stage TYPE text; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history key of another type',
	 'ALTER TABLE hostile_h ALTER COLUMN id TYPE bigint; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history column unknown to the table',
	 'ALTER TABLE hostile_h ADD COLUMN extra int; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history lacks changed_at',
	 'ALTER TABLE hostile_h DROP COLUMN changed_at; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history with 40 key columns',
	 'DO $d$ BEGIN FOR i IN 1..40 LOOP EXECUTE format(''ALTER TABLE hostile_t ADD COLUMN k%s int'', i); EXECUTE format(''ALTER TABLE hostile_h ADD COLUMN k%s int'', i); END LOOP; END $d$; INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: history rejects the row',
	 'ALTER TABLE hostile_h ADD CHECK (id < 0); INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: BEFORE UPDATE',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: AFTER DELETE',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER DELETE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'DELETE FROM hostile_t'),
	('record: FOR EACH STATEMENT',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH STATEMENT EXECUTE FUNCTION pipeline.record_transition(''stage'')',
	 'UPDATE hostile_t SET stage = ''prospecting'''),
	('record: text stage column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''note'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''note'')',
	 'UPDATE hostile_t SET note = ''y'''),
	('record: unregistered enum column',
	 'INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_t'', ''other'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''other'')',
	 'UPDATE hostile_t SET other = ''b'''),
	('_config_changed: on an ordinary table',
	 'CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed()',
	 'UPDATE hostile_t SET note = ''y'''),
	('_config_changed: FOR EACH ROW',
	 'CREATE TRIGGER hostile_trg AFTER UPDATE ON hostile_t FOR EACH ROW EXECUTE FUNCTION pipeline._config_changed()',
	 'UPDATE hostile_t SET note = ''y'''),
	('_config_changed: BEFORE STATEMENT',
	 'CREATE TRIGGER hostile_trg BEFORE UPDATE ON hostile_t FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed()',
	 'UPDATE hostile_t SET note = ''y'''),
	('record: recursion into its own table',
	 'ALTER TABLE hostile_h ADD COLUMN stage pipeline.stage; ALTER TABLE hostile_h ADD PRIMARY KEY (seq); INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES (''hostile_h'', ''to_stage'', ''public.hostile_h''); CREATE TRIGGER hostile_trg AFTER INSERT ON hostile_h FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition(''to_stage'')',
	 'INSERT INTO hostile_h (id, to_stage) VALUES (1, ''proposal'')');
CREATE TABLE hostile_results AS
SELECT id, label, hostile_trigger_case(setup, dml) AS result FROM hostile_cases ORDER BY id;

SELECT label, result FROM hostile_results ORDER BY id;

-- Called directly, outside a trigger.
SELECT pipeline.enforce_transition();
\echo SQLSTATE :SQLSTATE
SELECT pipeline.record_transition();
\echo SQLSTATE :SQLSTATE

-- No case may end in an internal error.
SELECT label, result FROM hostile_results WHERE result LIKE 'XX%';

DROP TABLE hostile_results;
DROP FUNCTION hostile_trigger_case(text, text);
DROP TYPE hostile_unreg;
