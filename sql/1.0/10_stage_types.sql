/* pipeline 1.0: the stage type, registrations of custom enums, per-stage settings */

CREATE TYPE pipeline.stage AS ENUM (
	'lead_generation',
	'prospecting',
	'qualification',
	'initial_contact',
	'proposal',
	'negotiation',
	'closed_won',
	'follow_up',
	'closed_lost'
);
COMMENT ON TYPE pipeline.stage IS 'The canonical sales pipeline; its labels are frozen (define your own enum for another process)';

-- pipeline.stage's labels are part of the contract: refuse ALTER TYPE on it.
CREATE FUNCTION pipeline._forbid_stage_ddl() RETURNS event_trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() c
				WHERE c.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
				  AND c.objid = 'pipeline.stage'::pg_catalog.regtype) THEN
		RAISE EXCEPTION 'type pipeline.stage cannot be altered'
			USING ERRCODE = '0A000',
				  DETAIL = 'Its labels, their order and its name are part of the pipeline extension''s contract.',
				  HINT = 'Create your own enum type and register it with pipeline.define_stages().';
	END IF;
END
$$;

CREATE EVENT TRIGGER pipeline_freeze_stage_type ON ddl_command_end
	WHEN TAG IN ('ALTER TYPE')
	EXECUTE FUNCTION pipeline._forbid_stage_ddl();

-- Metadata lookups: C, from the backend's stage cache.
CREATE FUNCTION pipeline.stage_kind(anyenum) RETURNS text
	AS 'MODULE_PATHNAME', 'pipeline_stage_kind'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.stage_kind(anyenum) IS 'open, won or lost';

CREATE FUNCTION pipeline.stage_probability(anyenum) RETURNS numeric
	AS 'MODULE_PATHNAME', 'pipeline_stage_probability'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.stage_probability(anyenum) IS 'probability that a deal in this stage is won, 0..1';

CREATE FUNCTION pipeline.stage_ordinal(anyenum) RETURNS integer
	AS 'MODULE_PATHNAME', 'pipeline_stage_ordinal'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.stage_ordinal(anyenum) IS '1-based position in the enum''s sort order';

CREATE FUNCTION pipeline._require_registered(regtype) RETURNS void
	AS 'MODULE_PATHNAME', 'pipeline_require_registered'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Raise 22P02, as enum input does, for a label the type does not have.
CREATE FUNCTION pipeline._require_label(stage_type regtype, label text) RETURNS void
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF label IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_enum e
									 WHERE e.enumtypid = stage_type AND e.enumlabel = label) THEN
		RAISE EXCEPTION 'invalid input value for enum %: %', stage_type, coalesce(pg_catalog.quote_literal(label), 'NULL')
			USING ERRCODE = '22P02',
				  HINT = pg_catalog.format('Valid labels: %s.',
							(SELECT pg_catalog.string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
							   FROM pg_catalog.pg_enum e WHERE e.enumtypid = stage_type));
	END IF;
END
$$;

-- Registrations, settings and rules are edited by the extension owner and
-- superusers only (they hold write privileges on the config tables); say so
-- plainly instead of failing somewhere inside.
CREATE FUNCTION pipeline._require_config_privilege() RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NOT pg_catalog.has_table_privilege('pipeline.stage_types', 'INSERT, UPDATE, DELETE') THEN
		RAISE EXCEPTION 'permission denied to change the pipeline configuration'
			USING ERRCODE = '42501',
				  DETAIL = 'Stage registrations, settings and rulesets are edited by the owner of the pipeline extension and by superusers.',
				  HINT = 'Ask the extension owner, or a superuser, to make this change.';
	END IF;
END
$$;

-- Per-type aggregates are declared and dropped by each aggregate family's
-- fragment (_declare_count_aggregates, _drop_amount_aggregates, ...); this
-- dispatcher is what define_stages/undefine_stages call.
CREATE FUNCTION pipeline._apply_aggregates(stage_type regtype, action text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	family text;
	f text;
BEGIN
	IF action NOT IN ('declare', 'drop') THEN
		RAISE EXCEPTION 'unknown action "%"', action USING ERRCODE = '22023';
	END IF;
	FOREACH family IN ARRAY ARRAY['count', 'amount'] LOOP
		f := pg_catalog.format('pipeline._%s_%s_aggregates', action, family);
		IF pg_catalog.to_regprocedure(f || '(regtype)') IS NOT NULL THEN
			EXECUTE pg_catalog.format('SELECT %s($1)', f) USING stage_type;
		END IF;
	END LOOP;
END
$$;

-- Register (or re-register) an enum type as a pipeline.
CREATE FUNCTION pipeline.define_stages(stage_type regtype, won text[], lost text[],
									   probabilities numeric[] DEFAULT NULL,
									   entry text[] DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	labels		text[];
	open_labels	text[];
	label		text;
	k			integer;
	probs		numeric[];
	last_open	integer;
	first_won	integer;
BEGIN
	IF stage_type IS NULL THEN
		RAISE EXCEPTION 'stage_type must not be NULL' USING ERRCODE = '22023';
	END IF;
	IF (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = stage_type) IS DISTINCT FROM 'e' THEN
		RAISE EXCEPTION 'type % is not an enum', stage_type
			USING ERRCODE = '42809',
				  HINT = 'A pipeline''s stages are the labels of an enum type: CREATE TYPE ... AS ENUM (...).';
	END IF;
	PERFORM pipeline._require_config_privilege();
	IF stage_type = 'pipeline.stage'::regtype THEN
		RAISE EXCEPTION 'pipeline.stage is built in and cannot be redefined'
			USING ERRCODE = '22023',
				  HINT = 'Change its probabilities with pipeline.set_probability(), or define your own enum for another process.';
	END IF;

	SELECT pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
	  INTO labels FROM pg_catalog.pg_enum e WHERE e.enumtypid = stage_type;
	won := coalesce(won, '{}');
	lost := coalesce(lost, '{}');

	FOREACH label IN ARRAY won || lost || coalesce(entry, '{}') LOOP
		PERFORM pipeline._require_label(stage_type, label);
	END LOOP;
	IF won && lost THEN
		RAISE EXCEPTION 'a stage cannot be both won and lost'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Named in both: %s.',
							(SELECT pg_catalog.string_agg(w, ', ') FROM pg_catalog.unnest(won) w WHERE w = ANY (lost)));
	END IF;
	IF pg_catalog.cardinality(won) = 0 THEN
		RAISE EXCEPTION 'a pipeline needs at least one won stage'
			USING ERRCODE = '22023', HINT = 'Name the stages that mean the customer signed in "won".';
	END IF;
	SELECT pg_catalog.array_agg(l ORDER BY o) INTO open_labels
	  FROM pg_catalog.unnest(labels) WITH ORDINALITY AS u(l, o)
	 WHERE NOT (l = ANY (won) OR l = ANY (lost));
	k := coalesce(pg_catalog.cardinality(open_labels), 0);
	IF k = 0 THEN
		RAISE EXCEPTION 'a pipeline needs at least one open stage'
			USING ERRCODE = '22023', DETAIL = 'Every label is named won or lost.';
	END IF;
	SELECT max(o) FILTER (WHERE l = ANY (open_labels)), min(o) FILTER (WHERE l = ANY (won))
	  INTO last_open, first_won
	  FROM pg_catalog.unnest(labels) WITH ORDINALITY AS u(l, o);
	IF last_open > first_won THEN
		RAISE EXCEPTION 'won stages must sort after every open stage'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Open stage "%s" sorts after won stage "%s".',
							labels[last_open], labels[first_won]),
				  HINT = 'Reorder the enum, or name the stage lost or won.';
	END IF;

	IF probabilities IS NULL THEN
		SELECT pg_catalog.array_agg(CASE WHEN l = ANY (won) THEN 1::numeric
										 WHEN l = ANY (lost) THEN 0::numeric
										 ELSE round(pg_catalog.array_position(open_labels, l)::numeric / (k + 1), 4)
									END ORDER BY o)
		  INTO probs FROM pg_catalog.unnest(labels) WITH ORDINALITY AS u(l, o);
	ELSE
		IF pg_catalog.array_ndims(probabilities) IS DISTINCT FROM 1
		   OR pg_catalog.cardinality(probabilities) <> pg_catalog.cardinality(labels) THEN
			RAISE EXCEPTION 'probabilities must have one entry per label of %', stage_type
				USING ERRCODE = '22023',
					  DETAIL = pg_catalog.format('The type has %s labels; %s probabilities were given.',
								pg_catalog.cardinality(labels), coalesce(pg_catalog.cardinality(probabilities), 0)),
					  HINT = 'Give them in enum order: ' || pg_catalog.array_to_string(labels, ', ') || '.';
		END IF;
		IF EXISTS (SELECT 1 FROM pg_catalog.unnest(probabilities) p
					WHERE p IS NULL OR p = 'NaN' OR p < 0 OR p > 1) THEN
			RAISE EXCEPTION 'every probability must be between 0 and 1'
				USING ERRCODE = '22023',
					  DETAIL = pg_catalog.format('Got %s.', probabilities);
		END IF;
		probs := probabilities;
	END IF;

	IF entry IS NULL THEN
		entry := open_labels[1:least(2, k)];
	ELSIF pg_catalog.cardinality(entry) = 0 THEN
		RAISE EXCEPTION 'a pipeline needs at least one entry stage'
			USING ERRCODE = '22023', HINT = 'Name the open stages a new row may start in, or pass NULL for the first two.';
	ELSIF NOT entry <@ open_labels THEN
		RAISE EXCEPTION 'entry stages must be open stages'
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Not open: %s.',
							(SELECT pg_catalog.string_agg(e, ', ') FROM pg_catalog.unnest(entry) e
							  WHERE NOT e = ANY (open_labels)));
	END IF;

	INSERT INTO pipeline.stage_types AS r (stage_type, labels, won, lost, entry, probabilities)
	VALUES (stage_type, labels, won, lost, entry, probs)
	ON CONFLICT ON CONSTRAINT stage_types_pkey DO UPDATE
	   SET labels = EXCLUDED.labels, won = EXCLUDED.won, lost = EXCLUDED.lost,
		   entry = EXCLUDED.entry, probabilities = EXCLUDED.probabilities;
	-- The new registration states the probabilities: earlier overrides go.
	UPDATE pipeline.stage_settings s SET probability = NULL
	 WHERE s.stage_type = define_stages.stage_type AND s.probability IS NOT NULL;
	DELETE FROM pipeline.stage_settings s
	 WHERE s.stage_type = define_stages.stage_type AND s.probability IS NULL AND s.rotting_after IS NULL;

	PERFORM pipeline._apply_aggregates(stage_type, 'declare');
END
$$;
COMMENT ON FUNCTION pipeline.define_stages(regtype, text[], text[], numeric[], text[]) IS
	'register an enum type as a pipeline: which labels are won and lost, probabilities, entry stages';

-- Tables attached to a stage type, from the catalog (the triggers).
CREATE FUNCTION pipeline._tables_using_type(stage_type regtype) RETURNS SETOF regclass
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT DISTINCT t.tgrelid::pg_catalog.regclass
	  FROM pg_catalog.pg_trigger t
	  JOIN pg_catalog.pg_attribute a
		ON a.attrelid = t.tgrelid
	   AND a.attname = pg_catalog.convert_from(
						   pg_catalog.substring(t.tgargs, 1, pg_catalog.position(t.tgargs, '\x00'::bytea) - 1),
						   'UTF8')
	 WHERE t.tgfoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
						 WHERE p.pronamespace = 'pipeline'::regnamespace
						   AND p.proname IN ('enforce_transition', 'record_transition'))
	   AND t.tgparentid = 0
	   AND t.tgnargs > 0
	   AND a.atttypid = stage_type
$$;

-- Remove a registration, its settings, rulesets and aggregates.
CREATE FUNCTION pipeline.undefine_stages(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	users text;
BEGIN
	IF stage_type = 'pipeline.stage'::regtype THEN
		RAISE EXCEPTION 'pipeline.stage is built in and cannot be undefined' USING ERRCODE = '22023';
	END IF;
	PERFORM pipeline._require_registered(stage_type);
	PERFORM pipeline._require_config_privilege();
	SELECT pg_catalog.string_agg(t::text, ', ') INTO users FROM pipeline._tables_using_type(stage_type) t;
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'stage type % is in use', stage_type
			USING ERRCODE = '55006',
				  DETAIL = pg_catalog.format('Attached tables: %s.', users),
				  HINT = 'Detach them first with pipeline.detach().';
	END IF;
	PERFORM pipeline._apply_aggregates(stage_type, 'drop');
	DELETE FROM pipeline.rulesets r WHERE r.stage_type = undefine_stages.stage_type;
	DELETE FROM pipeline.stage_settings s WHERE s.stage_type = undefine_stages.stage_type;
	DELETE FROM pipeline.stage_types r WHERE r.stage_type = undefine_stages.stage_type;
END
$$;
COMMENT ON FUNCTION pipeline.undefine_stages(regtype) IS 'remove a pipeline registration and its aggregates';

-- Set (or, with NULL, reset to the default) a stage's probability.
CREATE FUNCTION pipeline.set_probability(stage_type regtype, stage text, probability numeric)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pipeline._require_registered(stage_type);
	PERFORM pipeline._require_label(stage_type, stage);
	PERFORM pipeline._require_config_privilege();
	IF probability = 'NaN' OR probability < 0 OR probability > 1 THEN
		RAISE EXCEPTION 'probability must be between 0 and 1'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', probability),
				  HINT = 'Pass NULL to go back to the default.';
	END IF;
	INSERT INTO pipeline.stage_settings AS s (stage_type, stage, probability)
	VALUES (stage_type, stage, probability)
	ON CONFLICT ON CONSTRAINT stage_settings_pkey DO UPDATE SET probability = EXCLUDED.probability;
	DELETE FROM pipeline.stage_settings s
	 WHERE s.stage_type = set_probability.stage_type AND s.stage = set_probability.stage
	   AND s.probability IS NULL AND s.rotting_after IS NULL;
END
$$;
COMMENT ON FUNCTION pipeline.set_probability(regtype, text, numeric) IS 'set a stage''s probability (NULL: back to the default)';

-- Set (or, with NULL, clear) how long a row may stay in a stage.
CREATE FUNCTION pipeline.set_rotting_after(stage_type regtype, stage text, rotting_after interval)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pipeline._require_registered(stage_type);
	PERFORM pipeline._require_label(stage_type, stage);
	PERFORM pipeline._require_config_privilege();
	IF rotting_after <= interval '0' THEN
		RAISE EXCEPTION 'rotting_after must be positive'
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Got %s.', rotting_after),
				  HINT = 'Pass NULL for a stage that never rots.';
	END IF;
	INSERT INTO pipeline.stage_settings AS s (stage_type, stage, rotting_after)
	VALUES (stage_type, stage, rotting_after)
	ON CONFLICT ON CONSTRAINT stage_settings_pkey DO UPDATE SET rotting_after = EXCLUDED.rotting_after;
	DELETE FROM pipeline.stage_settings s
	 WHERE s.stage_type = set_rotting_after.stage_type AND s.stage = set_rotting_after.stage
	   AND s.probability IS NULL AND s.rotting_after IS NULL;
END
$$;
COMMENT ON FUNCTION pipeline.set_rotting_after(regtype, text, interval) IS 'set how long a row may stay in a stage before it rots (NULL: never)';

CREATE FUNCTION pipeline._stage_catalog(
	OUT stage_type text, OUT stage text, OUT ordinal integer, OUT kind text,
	OUT probability numeric, OUT is_entry boolean, OUT rotting_after interval)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'pipeline_stage_catalog'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE VIEW pipeline.stage_catalog AS
	SELECT c.stage_type, c.stage, c.ordinal, c.kind, c.probability, c.is_entry, c.rotting_after
	  FROM pipeline._stage_catalog() c;
COMMENT ON VIEW pipeline.stage_catalog IS 'every label of every registered stage type, with its metadata';
GRANT SELECT ON pipeline.stage_catalog TO PUBLIC;

-- Dropping a registered type (DROP TYPE ... CASCADE takes its per-type
-- aggregates with it) removes its registration, settings and rulesets, so
-- nothing dangles.  Dropping an attached table's stage column (ALTER TABLE
-- ... DROP COLUMN, or DROP TYPE ... CASCADE of its type) drops the
-- pipeline triggers that name it: left behind, they would make every write
-- to the table fail.  The history table stays, like after detach().
-- SECURITY DEFINER because whoever may drop the type or column may not
-- write the config tables; it only touches rows of types, and triggers on
-- columns, that this very statement dropped.
CREATE FUNCTION pipeline._forget_dropped_types() RETURNS event_trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	dropped oid[];
	trg record;
BEGIN
	FOR trg IN
		SELECT DISTINCT t.tgname, t.tgrelid::pg_catalog.regclass AS rel
		  FROM pg_catalog.pg_event_trigger_dropped_objects() d
		  JOIN pg_catalog.pg_trigger t ON t.tgrelid = d.objid
		 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND d.object_type = 'table column'
		   AND t.tgparentid = 0
		   AND t.tgnargs > 0
		   AND t.tgfoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
							 WHERE p.pronamespace = 'pipeline'::pg_catalog.regnamespace
							   AND p.proname IN ('enforce_transition', 'record_transition'))
		   AND pg_catalog.convert_from(
				   pg_catalog.substring(t.tgargs, 1, pg_catalog.position(t.tgargs, '\x00'::bytea) - 1),
				   'UTF8') = d.address_names[3]
	LOOP
		EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg.tgname, trg.rel);
	END LOOP;

	SELECT pg_catalog.array_agg(d.objid) INTO dropped
	  FROM pg_catalog.pg_event_trigger_dropped_objects() d
	 WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.object_type = 'type';
	IF dropped IS NULL THEN
		RETURN;
	END IF;
	DELETE FROM pipeline.rulesets r WHERE r.stage_type::oid = ANY (dropped);
	DELETE FROM pipeline.stage_settings s WHERE s.stage_type::oid = ANY (dropped);
	DELETE FROM pipeline.stage_types t WHERE t.stage_type::oid = ANY (dropped);
END
$$;
REVOKE ALL ON FUNCTION pipeline._forget_dropped_types() FROM PUBLIC;

CREATE EVENT TRIGGER pipeline_forget_dropped_types ON sql_drop
	EXECUTE FUNCTION pipeline._forget_dropped_types();
