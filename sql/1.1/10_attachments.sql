/* pipeline 1.1: attachments are configuration, keyed by identity */

-- One row per attached (table, stage column).  The table, its history
-- table and its views are held by OID (regclass): renaming any of them, or
-- its schema, changes nothing, and a table created later under an old name
-- is not part of the attachment.  Triggers, views, detach and the event
-- triggers read this table; the C cache loads it like the other config.
CREATE TABLE pipeline.attached_tables (
	target				regclass NOT NULL,
	stage_column		name NOT NULL,
	ruleset				text NOT NULL DEFAULT 'strict',
	history				regclass,
	entered_at_column	name,
	views				regclass[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (target, stage_column)
);
COMMENT ON TABLE pipeline.attached_tables IS
	'pipeline: the attached tables, by identity (written by pipeline.attach and pipeline.detach)';
COMMENT ON COLUMN pipeline.attached_tables.target IS 'the attached table (the root of a partitioned table)';
COMMENT ON COLUMN pipeline.attached_tables.stage_column IS 'its stage column';
COMMENT ON COLUMN pipeline.attached_tables.ruleset IS 'the ruleset its triggers enforce';
COMMENT ON COLUMN pipeline.attached_tables.history IS 'its stage history table; NULL when attached without history';
COMMENT ON COLUMN pipeline.attached_tables.entered_at_column IS 'the column holding when a row entered its stage; NULL when none';
COMMENT ON COLUMN pipeline.attached_tables.views IS 'the history views pipeline.attach created for it';

-- The owner of a table (or a member of the owning role) may be the only one
-- to configure its attachment; a row of a table that no longer exists may
-- be removed by anyone.  Returns the owner.
CREATE FUNCTION pipeline._require_table_owner(target regclass, missing_ok boolean) RETURNS oid
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	owner oid;
BEGIN
	SELECT c.relowner INTO owner FROM pg_catalog.pg_class c WHERE c.oid = target;
	IF NOT FOUND THEN
		IF missing_ok THEN
			RETURN NULL;
		END IF;
		RAISE EXCEPTION 'relation with OID % does not exist', target::oid USING ERRCODE = '42P01';
	END IF;
	IF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', target
			USING ERRCODE = '42501',
				  DETAIL = 'Only the owner of a table configures its pipeline attachment.';
	END IF;
	RETURN owner;
END
$$;

-- Row trigger of pipeline.attached_tables: everyone may write it, but only
-- rows of the tables they own, and a history table must have the same
-- owner as its table (history is written with that owner's rights).
CREATE FUNCTION pipeline._check_attachment_row() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	owner oid;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM pipeline._require_table_owner(OLD.target, true);
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	owner := pipeline._require_table_owner(NEW.target, false);
	IF NEW.history IS NOT NULL
	   AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = NEW.history) IS DISTINCT FROM owner THEN
		RAISE EXCEPTION 'history table % is not owned by the owner of table %', NEW.history, NEW.target
			USING ERRCODE = '42501',
				  DETAIL = 'History is written with the rights of the table''s owner, so it is written only into a table of that owner.',
				  HINT = 'Give the history table to the table''s owner, or run pipeline.attach() again.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER check_attachment_row BEFORE INSERT OR UPDATE OR DELETE
	ON pipeline.attached_tables FOR EACH ROW EXECUTE FUNCTION pipeline._check_attachment_row();
CREATE TRIGGER zz_pipeline_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.attached_tables FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed();
SELECT pg_catalog.pg_extension_config_dump('pipeline.attached_tables', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.attached_tables TO PUBLIC;

-- The primary-key columns of a table in key order, with their types and
-- the equality operator of the key's btree operator family, named with its
-- schema (a key type whose operators live outside pg_catalog, such as
-- citext, works, and no search_path is involved): what every statement
-- that joins a history to its table is written with.
CREATE FUNCTION pipeline._primary_key_columns(target regclass)
	RETURNS TABLE (n integer, key name, key_type text, eq_op text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT i.n::integer, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
		   pg_catalog.format('OPERATOR(%I.%s)', ons.nspname, o.oprname)
	  FROM pg_catalog.pg_index x
	 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(x.indkey::int2[]), pg_catalog.unnest(x.indclass::oid[]))
						 WITH ORDINALITY AS i(attnum, opclass, n)
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = i.attnum
	  JOIN pg_catalog.pg_opclass oc ON oc.oid = i.opclass
	  JOIN pg_catalog.pg_amop am ON am.amopfamily = oc.opcfamily AND am.amopstrategy = 3
								AND am.amoplefttype = oc.opcintype AND am.amoprighttype = oc.opcintype
	  JOIN pg_catalog.pg_operator o ON o.oid = am.amopopr
	  JOIN pg_catalog.pg_namespace ons ON ons.oid = o.oprnamespace
	 WHERE x.indrelid = $1 AND x.indisprimary AND i.n <= x.indnkeyatts
	 ORDER BY i.n
$$;
COMMENT ON FUNCTION pipeline._primary_key_columns(regclass) IS
	'internal: the primary-key columns of a table, with their types and schema-qualified equality operators';

-- Create or replace the attachment row of (target, stage_column).
CREATE FUNCTION pipeline._put_attachment(target regclass, stage_column name, ruleset text,
										 history regclass, views regclass[], entered_at_column name)
	RETURNS void
	LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$
	INSERT INTO pipeline.attached_tables AS a (target, stage_column, ruleset, history, views, entered_at_column)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (target, stage_column)
	DO UPDATE SET ruleset = EXCLUDED.ruleset, history = EXCLUDED.history, views = EXCLUDED.views,
				  entered_at_column = EXCLUDED.entered_at_column
$$;

-- The names of the pipeline triggers of a stage column.  The zz_ prefix
-- makes them fire after the table's other triggers of the same kind, which
-- may still change NEW.
CREATE FUNCTION pipeline._trigger_names(stage_column name) RETURNS name[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT ARRAY['zz_pipeline_enforce_' || $1, 'zz_pipeline_enforce_insert_' || $1,
				 'zz_pipeline_history_' || $1, 'zz_pipeline_history_insert_' || $1,
				 'zz_pipeline_history_delete_' || $1]::name[]
$$;

-- Create the pipeline triggers of (target, stage_column): enforcement
-- BEFORE UPDATE (BEFORE INSERT OR UPDATE with an entered-at column, which
-- it fills and checks) and AFTER INSERT (creation is checked only for rows
-- really inserted); with history, recording AFTER UPDATE of the stage,
-- AFTER INSERT and AFTER DELETE.  Their one argument is the stage column:
-- everything else is in pipeline.attached_tables.
CREATE FUNCTION pipeline._create_triggers(target regclass, stage_column name,
										  track_history boolean, has_entered_at boolean)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	names name[] := pipeline._trigger_names(stage_column);
BEGIN
	EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE %s ON %s FOR EACH ROW '
							  'EXECUTE FUNCTION pipeline.enforce_transition(%L)',
							  names[1], CASE WHEN has_entered_at THEN 'INSERT OR UPDATE' ELSE 'UPDATE' END,
							  target, stage_column);
	EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON %s FOR EACH ROW '
							  'EXECUTE FUNCTION pipeline.enforce_transition(%L)',
							  names[2], target, stage_column);
	IF NOT track_history THEN
		RETURN;
	END IF;
	EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
							  'WHEN (OLD.%I IS DISTINCT FROM NEW.%I) '
							  'EXECUTE FUNCTION pipeline.record_transition(%L)',
							  names[3], target, stage_column, stage_column, stage_column);
	EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON %s FOR EACH ROW '
							  'EXECUTE FUNCTION pipeline.record_transition(%L)',
							  names[4], target, stage_column);
	EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER DELETE ON %s FOR EACH ROW '
							  'EXECUTE FUNCTION pipeline.record_transition(%L)',
							  names[5], target, stage_column);
END
$$;

-- Raise an error from inside a query (the import's checks); never returns.
CREATE FUNCTION pipeline._import_error(sqlstate text, message text, detail text, hint text)
	RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message, DETAIL = detail, HINT = hint;
END
$$;

-- attach(..., history_from): load an existing history into the (new or
-- empty) history table, in one INSERT that validates as it goes.  Each
-- source row says "this key entered to_stage at changed_at"; per key, in
-- changed_at order, the first event is the creation and each next one a
-- move from the previous stage (an event that repeats the previous stage
-- is not a move and is left out).  Refused, naming the key: a key the
-- table does not have (23503), two events of a key at one instant (22023),
-- a step the ruleset does not allow (23514), a last stage other than the
-- row's current one (23514).  With an entered-at column, each imported
-- row's column is set to its last event's time.
CREATE FUNCTION pipeline._import_history(target regclass, stage_column name, ruleset text,
										 history regclass, history_from regclass, entered_at_column name)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	stype regtype;
	keys name[];
	missing text;
	has_rows boolean;
	src_to regtype;
	src_at regtype;
	src_by regtype;
	to_expr text;
	by_expr text;
	e_keys text;
	s_keys text;
	h_keys text;
	join_et text;
	join_ht text;
	key_text text;
	t_first text;
BEGIN
	SELECT a.atttypid INTO stype FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = stage_column AND NOT a.attisdropped;
	SELECT pg_catalog.array_agg(p.key ORDER BY p.n) INTO keys FROM pipeline._primary_key_columns(target) AS p;

	EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s)', history) INTO STRICT has_rows;
	IF has_rows THEN
		RAISE EXCEPTION 'cannot import a history into %, which already has rows', history
			USING ERRCODE = '55000',
				  DETAIL = 'history_from loads a whole history; it does not merge into an existing one.',
				  HINT = 'Import into a new history table (detach, then rename or drop the old one), or attach without history_from.';
	END IF;

	-- The source's columns: the key, to_stage, changed_at, maybe changed_by.
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ') INTO missing
	  FROM pg_catalog.unnest(keys || ARRAY['to_stage', 'changed_at']::name[]) AS k
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
						WHERE a.attrelid = history_from AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped);
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'history_from % lacks column(s) %', history_from, missing
			USING ERRCODE = '42703',
				  DETAIL = pg_catalog.format('An imported history has the key columns of %s (same names), to_stage, changed_at timestamptz and optionally changed_by.', target),
				  HINT = 'Import from a view that renames the source''s columns.';
	END IF;
	SELECT max(a.atttypid::oid) FILTER (WHERE a.attname = 'to_stage'),
		   max(a.atttypid::oid) FILTER (WHERE a.attname = 'changed_at'),
		   max(a.atttypid::oid) FILTER (WHERE a.attname = 'changed_by')
	  INTO src_to, src_at, src_by
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = history_from AND a.attnum > 0 AND NOT a.attisdropped;
	IF src_at <> 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
		RAISE EXCEPTION 'column changed_at of history_from % has type %, not timestamp with time zone', history_from, src_at
			USING ERRCODE = '42804', HINT = 'Cast it in a view: changed_at::timestamptz AS changed_at.';
	END IF;
	to_expr := CASE WHEN src_to = stype THEN 's.to_stage'
					ELSE pg_catalog.format('s.to_stage::pg_catalog.text::%s', stype) END;
	by_expr := CASE WHEN src_by IS NULL THEN pg_catalog.format('%L::pg_catalog.name', current_user)
					ELSE 's.changed_by::pg_catalog.name' END;

	SELECT pg_catalog.string_agg('e.' || pg_catalog.quote_ident(k), ', ' ORDER BY n),
		   pg_catalog.string_agg('s.' || pg_catalog.quote_ident(k), ', ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('e.%1$I %2$s t.%1$I', k, op), ' AND ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('h.%1$I %2$s t.%1$I', k, op), ' AND ' ORDER BY n),
		   pg_catalog.format('''(%s)=('' || pg_catalog.concat_ws('', '', %s) || '')''',
							 pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ' ORDER BY n),
							 pg_catalog.string_agg(pg_catalog.format('e.%I::pg_catalog.text', k), ', ' ORDER BY n))
	  INTO e_keys, s_keys, h_keys, join_et, join_ht, key_text
	  FROM pipeline._primary_key_columns(target) AS u(n, k, t, op);
	t_first := 't.' || pg_catalog.quote_ident(keys[1]);

	EXECUTE pg_catalog.format($q$
INSERT INTO %1$s (%2$s, from_stage, to_stage, changed_at, changed_by, from_entered_at, furthest_before)
SELECT k.*,
       pg_catalog.lag(k.changed_at) OVER w AS from_entered_at,
       pg_catalog.max(k.to_stage) FILTER (WHERE pipeline.stage_kind(k.to_stage) OPERATOR(pg_catalog.<>) 'lost')
         OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest_before
  FROM (
SELECT %3$s, e.prev AS from_stage, e.to_stage, e.changed_at, e.changed_by
  FROM (SELECT %4$s, %5$s AS to_stage, s.changed_at, %6$s AS changed_by,
               pg_catalog.lag(%5$s) OVER w AS prev,
               pg_catalog.lag(s.changed_at) OVER w AS prev_at,
               pg_catalog.lead(s.changed_at) OVER w IS NULL AS is_last
          FROM %7$s AS s
        WINDOW w AS (PARTITION BY %4$s ORDER BY s.changed_at)) AS e
  LEFT JOIN %8$s AS t ON %9$s
 WHERE CASE
       WHEN %10$s IS NULL THEN pipeline._import_error('23503',
            'history_from names a row that the table does not have',
            pg_catalog.format('Key %%s is not in %%s.', %11$s, %12$L),
            'Import only the history of rows in the table, or insert those rows first.')
       WHEN e.to_stage IS NULL OR e.changed_at IS NULL THEN pipeline._import_error('22004',
            'an imported event has no to_stage or no changed_at',
            pg_catalog.format('Key %%s.', %11$s), 'Every event names the stage entered and when.')
       WHEN e.changed_at = e.prev_at THEN pipeline._import_error('22023',
            'two imported events of one row at the same instant',
            pg_catalog.format('Key %%s entered "%%s" and "%%s" at %%s.', %11$s, e.prev, e.to_stage, e.changed_at),
            'Give every event of a row its own changed_at.')
       WHEN e.prev IS DISTINCT FROM e.to_stage
            AND NOT pipeline.can_transition(e.prev, e.to_stage, %13$L) THEN pipeline._import_error('23514',
            pg_catalog.format('illegal stage transition from %%s to "%%s" in the imported history',
                              coalesce('"' || e.prev::pg_catalog.text || '"', '(new row)'), e.to_stage),
            pg_catalog.format('Key %%s, at %%s, under ruleset "%%s".', %11$s, e.changed_at, %13$L),
            'Import under a ruleset that allows this history (lenient, or a custom one), then run pipeline.attach() again with strict: the history stays.')
       WHEN e.is_last AND e.to_stage <> t.%14$I THEN pipeline._import_error('23514',
            'the imported history does not end at the row''s current stage',
            pg_catalog.format('Key %%s last entered "%%s" at %%s, but the row is in "%%s".', %11$s, e.to_stage, e.changed_at, t.%14$I),
            'Add the missing events, or correct the row.')
       ELSE e.prev IS DISTINCT FROM e.to_stage END) AS k
WINDOW w AS (PARTITION BY %2$s ORDER BY k.changed_at)
 ORDER BY %2$s, k.changed_at$q$,
		history, h_keys, e_keys, s_keys, to_expr, by_expr, history_from, target, join_et,
		t_first, key_text, target::text, ruleset, stage_column);

	IF entered_at_column IS NOT NULL THEN
		EXECUTE pg_catalog.format('UPDATE %1$s AS t SET %2$I = h.at FROM (SELECT %3$s, pg_catalog.max(h.changed_at) AS at '
								  'FROM %4$s AS h GROUP BY %3$s) AS h WHERE %5$s',
								  target, entered_at_column, h_keys, history, join_ht);
	END IF;
END
$fn$;

-- The history views of (target, stage_column) that exist now, by identity.
CREATE FUNCTION pipeline._history_views_of(target regclass, stage_column name) RETURNS regclass[]
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	names record;
BEGIN
	names := pipeline._history_view_names(target, stage_column, false);
	IF names.visits IS NULL THEN
		RETURN '{}';
	END IF;
	RETURN ARRAY(SELECT c.oid::pg_catalog.regclass
				   FROM pg_catalog.unnest(ARRAY[names.visits, names.durations, names.rotting, names.funnel,
												(pg_catalog.regexp_replace(names.visits, 'stage_visits$', 'cycles'))::name])
						WITH ORDINALITY AS v(name, n)
				   JOIN pg_catalog.pg_class c ON c.relname = v.name AND c.relkind = 'v'
				   JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = names.schema_name
				  ORDER BY v.n);
END
$$;

-- Detach hook: drop the views recorded for (target, stage_column); the
-- history table stays.  Only views are dropped, never another relation.
CREATE OR REPLACE FUNCTION pipeline._drop_history_views(target regclass, stage_column name)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v regclass;
BEGIN
	FOR v IN
		SELECT c.oid::pg_catalog.regclass
		  FROM pipeline.attached_tables a
		 CROSS JOIN LATERAL pg_catalog.unnest(a.views) WITH ORDINALITY AS u(view, n)
		  JOIN pg_catalog.pg_class c ON c.oid = u.view AND c.relkind = 'v'
		 WHERE a.target = _drop_history_views.target AND a.stage_column = _drop_history_views.stage_column
		 ORDER BY u.n DESC
	LOOP
		EXECUTE pg_catalog.format('DROP VIEW %s', v);
	END LOOP;
	UPDATE pipeline.attached_tables a SET views = '{}'
	 WHERE a.target = _drop_history_views.target AND a.stage_column = _drop_history_views.stage_column
	   AND a.views <> '{}';
END
$$;

-- Called before DROP TABLE (event trigger pipeline_drop_table_views) with
-- the tables it names: drop the recorded views and the stage_at function
-- of every attachment whose table or history table is among them, so that
-- dropping either needs no CASCADE.  Only views the current user may drop (the table's owner owns
-- them); anything else is left for DROP TABLE to report as usual.
CREATE OR REPLACE FUNCTION pipeline._drop_views_of(tables regclass[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	a record;
BEGIN
	FOR a IN
		SELECT x.target, x.stage_column
		  FROM pipeline.attached_tables x
		  JOIN pg_catalog.pg_class c ON c.oid = x.target
		 WHERE (x.target = ANY (tables) OR x.history = ANY (tables))
		   AND pg_catalog.pg_has_role(c.relowner, 'USAGE')
	LOOP
		PERFORM pipeline._drop_history_functions(a.target, a.stage_column);
		PERFORM pipeline._drop_history_views(a.target, a.stage_column);
	END LOOP;
END
$$;

-- The attachments whose stage column has the given type, with their
-- rulesets.
CREATE FUNCTION pipeline._attachments_of_type(stage_type regtype)
	RETURNS TABLE (target regclass, ruleset text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT a.target, a.ruleset
	  FROM pipeline.attached_tables a
	  JOIN pg_catalog.pg_attribute att
		ON att.attrelid = a.target AND att.attname = a.stage_column AND NOT att.attisdropped
	 WHERE att.atttypid = $1
$$;

-- Tables attached with a stage column of the given type.
CREATE OR REPLACE FUNCTION pipeline._tables_using_type(stage_type regtype) RETURNS SETOF regclass
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT DISTINCT a.target FROM pipeline._attachments_of_type($1) AS a
$$;

-- Tables whose attachment enforces (stage_type, ruleset).
CREATE OR REPLACE FUNCTION pipeline._ruleset_users(stage_type regtype, ruleset text) RETURNS SETOF regclass
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT DISTINCT a.target FROM pipeline._attachments_of_type($1) AS a WHERE a.ruleset = $2
$$;

-- Dropped objects: a dropped registered type takes its registration,
-- settings and rulesets; a dropped attached table its attachment row; a
-- dropped history table or view leaves the attachment without it; a
-- dropped stage column takes the pipeline triggers (left behind, they
-- would make every write fail) and the attachment row.  SECURITY DEFINER
-- because whoever may drop those objects may not write the config tables;
-- it only touches rows of objects that this very statement dropped.
CREATE OR REPLACE FUNCTION pipeline._forget_dropped_types() RETURNS event_trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	dropped oid[];
	rels oid[];
	col record;
	trg name;
BEGIN
	FOR col IN
		SELECT a.target, a.stage_column
		  FROM pg_catalog.pg_event_trigger_dropped_objects() d
		  JOIN pipeline.attached_tables a ON a.target = d.objid AND a.stage_column = d.address_names[3]
		 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND d.object_type = 'table column'
	LOOP
		-- The functions and views first, then the triggers, as detach
		-- does: Citus propagates a function's DROP over one connection per
		-- node, which it cannot after the triggers' DROP on every shard.
		PERFORM pipeline._drop_history_functions(col.target, col.stage_column);
		PERFORM pipeline._drop_history_views(col.target, col.stage_column);
		-- Citus allows dropping the triggers of a distributed table (and
		-- so of its shards) only under citus.enable_unsafe_triggers
		-- (sql/1.1/70_citus.sql).
		PERFORM pipeline._citus_allow_triggers(col.target);
		FOREACH trg IN ARRAY pipeline._trigger_names(col.stage_column)
		LOOP
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
						WHERE t.tgrelid = col.target AND t.tgname = trg AND t.tgparentid = 0
						  AND t.tgfoid IN ('pipeline.enforce_transition()'::pg_catalog.regprocedure,
										   'pipeline.record_transition()'::pg_catalog.regprocedure)) THEN
				EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg, col.target);
			END IF;
		END LOOP;
		DELETE FROM pipeline.attached_tables a
		 WHERE a.target = col.target AND a.stage_column = col.stage_column;
	END LOOP;

	SELECT pg_catalog.array_agg(d.objid) INTO rels
	  FROM pg_catalog.pg_event_trigger_dropped_objects() d
	 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0;
	IF rels IS NOT NULL THEN
		DELETE FROM pipeline.attached_tables a WHERE a.target::oid = ANY (rels);
		UPDATE pipeline.attached_tables a SET history = NULL WHERE a.history::oid = ANY (rels);
		UPDATE pipeline.attached_tables a
		   SET views = ARRAY(SELECT v FROM pg_catalog.unnest(a.views) WITH ORDINALITY AS u(v, n)
							  WHERE v::oid <> ALL (rels) ORDER BY n)
		 WHERE a.views::oid[] && rels;
	END IF;

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

-- Make the grants on dest follow the SELECT grants on source, a table of
-- the same owner: the same grantees (PUBLIC included) get SELECT on a
-- relation (a history table or view), with the same grant option, or
-- EXECUTE on a function (a <prefix>_stage_at), without one, and nobody
-- else keeps it.  Other privileges are left alone; between objects of
-- different owners nothing is done.
CREATE FUNCTION pipeline._copy_grants(source regclass, dest oid, dest_is_function boolean) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	owner		oid;
	dest_acl	aclitem[];
	object		text;
	privilege	text := CASE WHEN dest_is_function THEN 'EXECUTE' ELSE 'SELECT' END;
	g			record;
BEGIN
	IF dest_is_function THEN
		SELECT p.proowner, coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner)),
			   'FUNCTION ' || p.oid::pg_catalog.regprocedure::text
		  INTO owner, dest_acl, object
		  FROM pg_catalog.pg_proc p WHERE p.oid = dest;
	ELSE
		SELECT c.relowner, coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner)),
			   c.oid::pg_catalog.regclass::text
		  INTO owner, dest_acl, object
		  FROM pg_catalog.pg_class c WHERE c.oid = dest;
	END IF;
	IF owner IS NULL OR owner IS DISTINCT FROM (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = source) THEN
		RETURN;
	END IF;
	FOR g IN
		WITH want AS (
			SELECT a.grantee, pg_catalog.bool_or(a.is_grantable) AND NOT dest_is_function AS grantable
			  FROM pg_catalog.pg_class c,
				   pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
			 WHERE c.oid = source AND a.privilege_type = 'SELECT' AND a.grantee <> owner
			 GROUP BY a.grantee),
		have AS (
			SELECT a.grantee, pg_catalog.bool_or(a.is_grantable) AND NOT dest_is_function AS grantable
			  FROM pg_catalog.aclexplode(dest_acl) a
			 WHERE a.privilege_type = privilege AND a.grantee <> owner
			 GROUP BY a.grantee)
		SELECT coalesce(w.grantee, h.grantee) AS grantee,
			   CASE WHEN w.grantee IS NULL THEN 'REVOKE %1$s ON %2$s FROM %3$s CASCADE'
					WHEN h.grantee IS NULL OR (w.grantable AND NOT h.grantable)
						THEN 'GRANT %1$s ON %2$s TO %3$s' || CASE WHEN w.grantable THEN ' WITH GRANT OPTION' ELSE '' END
					WHEN h.grantable AND NOT w.grantable THEN 'REVOKE GRANT OPTION FOR %1$s ON %2$s FROM %3$s CASCADE'
			   END AS command
		  FROM want w FULL JOIN have h ON h.grantee = w.grantee
	LOOP
		IF g.command IS NOT NULL THEN
			EXECUTE pg_catalog.format(g.command, privilege, object,
				CASE WHEN g.grantee = 0 THEN 'PUBLIC'
					 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._copy_grants(regclass, oid, boolean) IS
	'internal: make the SELECT grants of a relation, or the EXECUTE grants of a function, follow the SELECT grants of a table of the same owner';

DROP FUNCTION pipeline.attach(regclass, name, text, boolean);
CREATE FUNCTION pipeline.attach(target regclass, stage_column name DEFAULT 'stage',
								ruleset text DEFAULT 'strict', track_history boolean DEFAULT true,
								entered_at_column name DEFAULT NULL, history_from regclass DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
	DECLARE
		rel record;
		col record;
		kind text;
		keycols name[];
		keydefs text;
		keylist text;
		keymatch text;
		keyorder text;
		clash name;
		prefix text;
		hist_name text;
		hist_qual text;
		hist_oid oid;
		qual text;
		stage_type_name text;
		ecol record;
		src record;
		n text;
		other record;
		cfg record;
	BEGIN
		IF target IS NULL OR stage_column IS NULL OR ruleset IS NULL OR track_history IS NULL THEN
			RAISE EXCEPTION 'arguments of pipeline.attach() must not be NULL' USING ERRCODE = '22004';
		END IF;

		SELECT c.relname, n.nspname, c.relkind, c.relowner, c.relacl,
			   pg_catalog.pg_get_userbyid(c.relowner) AS owner_name
		  INTO rel
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = target;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'relation with OID % does not exist', target::oid USING ERRCODE = '42P01';
		END IF;
		qual := format('%I.%I', rel.nspname, rel.relname);
		IF rel.relkind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION '"%" is not a table', qual
				USING ERRCODE = '42809', DETAIL = 'A pipeline attaches to a table or a partitioned table.';
		END IF;

		-- Citus (sql/1.1/70_citus.sql): refuses what is not supported, allows
		-- the triggers on a distributed table's shards.
		PERFORM pipeline._citus_prepare_attach(target);

		IF NOT pg_catalog.pg_has_role(current_user, rel.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', qual USING ERRCODE = '42501';
		END IF;

		-- Writers wait for attach (and attach for them): rows written before
		-- it commits get their creation row below, rows written after it go
		-- through the triggers.
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', qual);

		SELECT a.attnum, a.atttypid, t.typtype INTO col
		  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		 WHERE a.attrelid = target AND a.attname = stage_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of table % does not exist', stage_column, qual
				USING ERRCODE = '42703';
		END IF;
		IF col.typtype <> 'e' THEN
			RAISE EXCEPTION 'column "%" of table % has type %, which is not an enum', stage_column, qual,
					pg_catalog.format_type(col.atttypid, NULL)
				USING ERRCODE = '42809',
					  HINT = 'A stage column has a registered enum type, such as pipeline.stage (see pipeline.define_stages()).';
		END IF;
		stage_type_name := pg_catalog.format_type(col.atttypid, NULL);

		kind := pipeline._ruleset_kind(col.atttypid, ruleset);	-- 42704 when unregistered
		IF kind IS NULL THEN
			RAISE EXCEPTION 'ruleset "%" does not exist for stage type %', ruleset, stage_type_name
				USING ERRCODE = '42704',
					  HINT = 'The built-in rulesets are strict and lenient; pipeline.transition_rules lists the others.';
		END IF;

		IF entered_at_column IS NOT NULL THEN
			SELECT a.attname, a.atttypid INTO ecol
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid = target AND a.attname = entered_at_column AND a.attnum > 0 AND NOT a.attisdropped;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'column "%" of table % does not exist', entered_at_column, qual
					USING ERRCODE = '42703',
						  HINT = 'entered_at_column names a timestamptz column of the table that holds when a row entered its current stage.';
			END IF;
			IF ecol.atttypid <> 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
				RAISE EXCEPTION 'column "%" of table % has type %, not timestamp with time zone', entered_at_column, qual,
						pg_catalog.format_type(ecol.atttypid, NULL)
					USING ERRCODE = '42804',
						  HINT = 'An entered-at column is a timestamptz: ALTER TABLE ... ALTER COLUMN ... TYPE timestamptz.';
			END IF;
		END IF;
		IF history_from IS NOT NULL AND NOT track_history THEN
			RAISE EXCEPTION 'history_from needs track_history'
				USING ERRCODE = '22023', HINT = 'Attach with track_history => true to import a history.';
		END IF;

		SELECT array_agg(a.attname ORDER BY k.ord),
			   string_agg(format('%I %s%s NOT NULL', a.attname,
								 pg_catalog.format_type(a.atttypid, a.atttypmod),
								 CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
									  THEN (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname)
											  FROM pg_catalog.pg_collation co
											  JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
											 WHERE co.oid = a.attcollation)
									  ELSE '' END), ', ' ORDER BY k.ord),
			   string_agg(format('%I', a.attname), ', ' ORDER BY k.ord),
			   string_agg(format('h.%1$I OPERATOR(%2$I.%3$s) t.%1$I', a.attname, eqn.nspname, eq.oprname),
						  ' AND ' ORDER BY k.ord),
			   string_agg(format('t.%1$I USING OPERATOR(%2$I.%3$s)', a.attname, ltn.nspname, lt.oprname),
						  ', ' ORDER BY k.ord)
		  INTO keycols, keydefs, keylist, keymatch, keyorder
		  FROM pg_catalog.pg_constraint c
		 CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
		  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		  -- compare and sort keys with the primary key's own btree operators,
		  -- named with their schema: a key type whose operators live outside
		  -- pg_catalog (ltree, citext, ...) works, and no search_path applies
		  JOIN pg_catalog.pg_index i ON i.indexrelid = c.conindid
		  JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[k.ord::integer - 1]
		  JOIN pg_catalog.pg_amop eqa ON eqa.amopfamily = opc.opcfamily AND eqa.amopstrategy = 3
								   AND eqa.amoplefttype = opc.opcintype AND eqa.amoprighttype = opc.opcintype
		  JOIN pg_catalog.pg_operator eq ON eq.oid = eqa.amopopr
		  JOIN pg_catalog.pg_namespace eqn ON eqn.oid = eq.oprnamespace
		  JOIN pg_catalog.pg_amop lta ON lta.amopfamily = opc.opcfamily AND lta.amopstrategy = 1
								   AND lta.amoplefttype = opc.opcintype AND lta.amoprighttype = opc.opcintype
		  JOIN pg_catalog.pg_operator lt ON lt.oid = lta.amopopr
		  JOIN pg_catalog.pg_namespace ltn ON ltn.oid = lt.oprnamespace
		 WHERE c.conrelid = target AND c.contype = 'p';
		IF keycols IS NULL THEN
			RAISE EXCEPTION 'table % has no primary key', qual
				USING ERRCODE = '55000',
					  DETAIL = 'Stage history and moves between partitions identify rows by their primary key.',
					  HINT = 'Add a primary key, then run pipeline.attach() again.';
		END IF;

		-- Names: <target>_<suffix>, or <target>_<column>_<suffix>.
		prefix := rel.relname || '_' || CASE WHEN stage_column = 'stage' THEN '' ELSE stage_column || '_' END;
		hist_name := prefix || 'stage_history';
		hist_qual := format('%I.%I', rel.nspname, hist_name);
		FOREACH n IN ARRAY pipeline._trigger_names(stage_column)::text[]
			|| CASE WHEN track_history
					THEN ARRAY[hist_name, prefix || 'stage_visits', prefix || 'stage_durations',
							   prefix || 'funnel', prefix || 'rotting', prefix || 'cycles', prefix || 'stage_at']
					ELSE '{}'::text[] END
		LOOP
			IF pg_catalog.octet_length(n) > 63 THEN
				RAISE EXCEPTION 'name "%" that pipeline.attach() would create for table % is longer than 63 bytes', n, qual
					USING ERRCODE = '42622',
						  HINT = 'Use a shorter table or column name.';
			END IF;
		END LOOP;

		IF track_history THEN
			SELECT k INTO clash FROM pg_catalog.unnest(keycols) AS k
			 WHERE k IN ('from_stage', 'to_stage', 'changed_at', 'from_entered_at', 'furthest_before',
						 'changed_by', 'seq') LIMIT 1;
			IF clash IS NOT NULL THEN
				RAISE EXCEPTION 'primary key column "%" of table % has the name of a stage history column', clash, qual
					USING ERRCODE = '42701',
						  DETAIL = 'The history table holds the key columns next to from_stage, to_stage, changed_at, from_entered_at, furthest_before, changed_by and seq.',
						  HINT = 'Rename the key column, or attach with track_history => false.';
			END IF;
		END IF;

		-- A trigger of ours may be replaced; anybody else's may not.
		SELECT t.tgname, t.tgfoid::pg_catalog.regprocedure AS func INTO other
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid = target
		   AND t.tgname = ANY (pipeline._trigger_names(stage_column))
		   AND t.tgfoid NOT IN ('pipeline.enforce_transition()'::pg_catalog.regprocedure,
								'pipeline.record_transition()'::pg_catalog.regprocedure)
		 LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'trigger "%" for table % already exists and calls %', other.tgname, qual, other.func
				USING ERRCODE = '42710', HINT = 'Rename or drop that trigger first.';
		END IF;

		-- Re-running attach replaces our triggers (switching ruleset or
		-- history tracking) in this transaction.
		FOR n IN
			SELECT t.tgname FROM pg_catalog.pg_trigger t
			 WHERE t.tgrelid = target
			   AND t.tgname = ANY (pipeline._trigger_names(stage_column))
		LOOP
			EXECUTE format('DROP TRIGGER %I ON %s', n, qual);
		END LOOP;

		IF NOT track_history THEN
			PERFORM pipeline._drop_history_functions(target, stage_column);
			PERFORM pipeline._drop_history_views(target, stage_column);
			IF entered_at_column IS NOT NULL THEN
				EXECUTE format('UPDATE %s SET %I = pg_catalog.clock_timestamp() WHERE %I IS NULL',
							   qual, entered_at_column, entered_at_column);
			END IF;
			PERFORM pipeline._create_triggers(target, stage_column, false, entered_at_column IS NOT NULL);
			PERFORM pipeline._put_attachment(target, stage_column, ruleset, NULL, '{}', entered_at_column);
			RETURN;
		END IF;

		-- The history table is the attachment's, by identity, when it has one
		-- (renamed or moved, it is still the one); else the one of that name.
		SELECT c.* INTO cfg FROM pipeline.attached_tables c
		 WHERE c.target = attach.target AND c.stage_column = attach.stage_column;
		hist_oid := CASE WHEN cfg.history IS NOT NULL
							  AND EXISTS (SELECT 1 FROM pg_catalog.pg_class h WHERE h.oid = cfg.history)
						 THEN cfg.history END;
		IF hist_oid IS NOT NULL THEN
			SELECT format('%I.%I', n.nspname, c.relname) INTO hist_qual
			  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.oid = hist_oid;
		ELSE
			hist_oid := pg_catalog.to_regclass(hist_qual);
		END IF;
		IF hist_oid IS NULL THEN
			-- The columns the views read first: a row is deformed only as
			-- far as the last column a query needs.
			EXECUTE format('CREATE TABLE %s (%s, from_stage %s, to_stage %s, '
						   'changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(), '
						   'from_entered_at timestamptz, furthest_before %s, '
						   'changed_by name NOT NULL DEFAULT CURRENT_USER, '
						   'seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL, '
						   'PRIMARY KEY (%s, seq))',
						   hist_qual, keydefs, stage_type_name, stage_type_name, stage_type_name, keylist);
			EXECUTE format('COMMENT ON TABLE %s IS %L', hist_qual,
						   format('Stage history of %s.%s, written by pipeline.record_transition().',
								  qual, stage_column));
			hist_oid := hist_qual::pg_catalog.regclass;
		ELSE
			IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = hist_oid) NOT IN ('r', 'p')
			   OR (SELECT count(*) FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = hist_oid AND NOT a.attisdropped
					  AND a.attname IN ('from_stage', 'to_stage') AND a.atttypid = col.atttypid) <> 2
			   OR (SELECT count(*) FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = hist_oid AND NOT a.attisdropped
					  AND a.attname = ANY (keycols)) <> pg_catalog.cardinality(keycols)
			THEN
				RAISE EXCEPTION 'relation % already exists and is not the stage history of %.%', hist_qual, qual, stage_column
					USING ERRCODE = '42P07',
						  HINT = 'Rename or drop it, or attach with track_history => false.';
			END IF;
			-- History is written with the table owner's rights: never into a
			-- table (and through triggers) of another role.
			IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = hist_oid) <> rel.relowner THEN
				RAISE EXCEPTION 'relation % already exists and is owned by role %, not by the owner of %',
						hist_qual, (SELECT c.relowner::pg_catalog.regrole FROM pg_catalog.pg_class c WHERE c.oid = hist_oid), qual
					USING ERRCODE = '42501',
						  DETAIL = 'History is written with the rights of the table''s owner, so the history table must belong to that owner too.',
						  HINT = 'Rename or drop that relation (or have its owner give it to the table''s owner), then run pipeline.attach() again.';
			END IF;
			-- an adopted history: its rows' derived columns, as if written now
			PERFORM pipeline._history_derived_columns(target, hist_oid::pg_catalog.regclass);
		END IF;

		-- Citus (sql/1.1/70_citus.sql): the history of a distributed table is
		-- distributed colocated with it.
		PERFORM pipeline._citus_distribute_history(target, hist_oid::pg_catalog.regclass);

		-- An imported history (validated as it is loaded), then one creation
		-- row per row that has no history yet (all rows, the first time), in
		-- key order, dated by the entered-at column where it has a value.
		IF history_from IS NOT NULL THEN
			PERFORM pipeline._import_history(target, stage_column, ruleset, hist_oid::pg_catalog.regclass,
											 history_from, entered_at_column);
		END IF;
		EXECUTE format('INSERT INTO %1$s AS h (%2$s, from_stage, to_stage, changed_at) '
					   'SELECT %3$s, NULL, t.%4$I, %8$s FROM %5$s AS t '
					   'WHERE t.%4$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %1$s AS h WHERE %6$s) '
					   'ORDER BY %7$s',
					   hist_qual, keylist,
					   (SELECT string_agg(format('t.%I', k), ', ') FROM pg_catalog.unnest(keycols) AS k),
					   stage_column, qual, keymatch, keyorder,
					   CASE WHEN entered_at_column IS NULL THEN 'pg_catalog.clock_timestamp()'
							ELSE format('coalesce(t.%I, pg_catalog.clock_timestamp())', entered_at_column) END);
		-- Rows whose entered-at column is empty get the start of their
		-- current visit: their latest history row.
		IF entered_at_column IS NOT NULL THEN
			EXECUTE format('UPDATE %1$s AS t SET %2$I = (SELECT h.changed_at FROM %3$s AS h WHERE %4$s '
						   'ORDER BY h.changed_at DESC, h.seq DESC LIMIT 1) WHERE t.%2$I IS NULL',
						   qual, entered_at_column, hist_qual, keymatch);
		END IF;

		-- Owned by the table's owner (a new table belongs to whoever ran
		-- attach), readable by whoever can read the table.
		IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = hist_oid) <> rel.relowner THEN
			EXECUTE format('ALTER TABLE %s OWNER TO %I', hist_qual, rel.owner_name);
		END IF;
		PERFORM pipeline._copy_grants(target, hist_oid, false);

		PERFORM pipeline._create_triggers(target, stage_column, true, entered_at_column IS NOT NULL);

		-- The configuration first (the views' creation reads it), then the
		-- views, whose identities it records.
		PERFORM pipeline._put_attachment(target, stage_column, ruleset, hist_oid, '{}', entered_at_column);
		PERFORM pipeline._comment_history_table(hist_oid::pg_catalog.regclass, target, stage_column);
		PERFORM pipeline._create_history_views(target, stage_column, hist_oid::pg_catalog.regclass);
		PERFORM pipeline._create_history_functions(target, stage_column);
		PERFORM pipeline._put_attachment(target, stage_column, ruleset, hist_oid,
										 pipeline._history_views_of(target, stage_column), entered_at_column);
	END
	$fn$;


CREATE OR REPLACE FUNCTION pipeline.detach(target regclass, stage_column name DEFAULT 'stage')
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
	DECLARE
		qual text;
		owner oid;
		trg text;
		found_any boolean := false;
	BEGIN
		IF target IS NULL OR stage_column IS NULL THEN
			RAISE EXCEPTION 'arguments of pipeline.detach() must not be NULL' USING ERRCODE = '22004';
		END IF;
		SELECT format('%I.%I', n.nspname, c.relname), c.relowner INTO qual, owner
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = target;
		IF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', qual USING ERRCODE = '42501';
		END IF;

		PERFORM pipeline._drop_history_functions(target, stage_column);
		PERFORM pipeline._drop_history_views(target, stage_column);

		-- Citus (sql/1.1/70_citus.sql): allows dropping a distributed table's triggers.
		PERFORM pipeline._citus_allow_triggers(target);
		FOREACH trg IN ARRAY pipeline._trigger_names(stage_column)
		LOOP
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
						WHERE t.tgrelid = target AND t.tgname = trg
						  AND t.tgfoid IN ('pipeline.enforce_transition()'::pg_catalog.regprocedure,
										   'pipeline.record_transition()'::pg_catalog.regprocedure)) THEN
				EXECUTE format('DROP TRIGGER %I ON %s', trg, qual);
				found_any := true;
			END IF;
		END LOOP;
		DELETE FROM pipeline.attached_tables a
		 WHERE a.target = detach.target AND a.stage_column = detach.stage_column;
		IF FOUND THEN
			found_any := true;
		END IF;
		IF NOT found_any THEN
			RAISE NOTICE 'table % has no pipeline attached on column "%", skipping', qual, stage_column;
		END IF;
	END
	$fn$;

-- Attached tables, from the configuration; names are today's names.
DROP VIEW pipeline.attachments;
CREATE VIEW pipeline.attachments AS
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS table_name,
		   a.stage_column::text AS stage_column,
		   a.ruleset,
		   (SELECT pg_catalog.format('%I.%I', hn.nspname, h.relname)
			  FROM pg_catalog.pg_class h JOIN pg_catalog.pg_namespace hn ON hn.oid = h.relnamespace
			 WHERE h.oid = a.history) AS history_table,
		   a.entered_at_column::text AS entered_at_column
	  FROM pipeline.attached_tables a
	  JOIN pg_catalog.pg_class c ON c.oid = a.target
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace;
COMMENT ON VIEW pipeline.attachments IS 'pipeline: every attached table, its stage column, ruleset, history table and entered-at column';
GRANT SELECT ON pipeline.attachments TO PUBLIC;

-- The two columns a history row carries so that the views need no window
-- over a key's history (docs/transitions.md, "History"):
-- from_entered_at, when the row entered from_stage (NULL for a creation),
-- and furthest_before, the furthest non-lost stage among the key's earlier
-- rows (NULL when none).  record_transition() fills them as it writes, the
-- import as it loads.  Here a history table gets them if it lacks them
-- (made by 1.0, or by hand), and every row whose values are not those of
-- its key's earlier rows in (changed_at, seq) order gets those (rows
-- written by hand): attach (adopting an existing history table) and the
-- upgrade call it.  Idempotent.
CREATE FUNCTION pipeline._history_derived_columns(target regclass, history regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	stype text;
	keys text;
	join_hd text;
	owner name;
	caller name := current_user;
	replication_role text;		-- set when triggers were switched off here
BEGIN
	-- As the history's owner: the UPDATE fires the history table's own
	-- triggers, which must never run with the rights of whoever runs the
	-- upgrade.  Where SET ROLE is refused (a trusted extension's script
	-- runs as the bootstrap superuser, in a security context), the UPDATE
	-- runs with ordinary triggers off (session_replication_role), and a
	-- history with user code that would still run is refused.
	SELECT pg_catalog.pg_get_userbyid(c.relowner) INTO STRICT owner
	  FROM pg_catalog.pg_class c WHERE c.oid = history;
	IF owner <> caller THEN
		BEGIN
			EXECUTE pg_catalog.format('SET LOCAL ROLE %I', owner);
		EXCEPTION WHEN insufficient_privilege OR invalid_transaction_state THEN
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
						WHERE t.tgrelid = history AND NOT t.tgisinternal AND t.tgenabled IN ('A', 'R'))
			   OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r
						   WHERE r.ev_class = history AND r.ev_type <> '1')
			   OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
						   WHERE a.attrelid = history AND a.attgenerated <> '' AND NOT a.attisdropped) THEN
				RAISE EXCEPTION 'cannot fill the derived columns of history table % as its owner', history
					USING ERRCODE = '42501',
						  DETAIL = 'The history table has triggers enabled ALWAYS or REPLICA, rules or generated columns, which would run with the rights of this script.',
						  HINT = 'Run this as a superuser session (not through a trusted extension), or remove them first.';
			END IF;
			replication_role := pg_catalog.current_setting('session_replication_role');
			SET LOCAL session_replication_role = replica;
			owner := caller;	-- no role to restore below
		END;
	END IF;
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO STRICT stype
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = history AND a.attname = 'from_stage' AND NOT a.attisdropped;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k.key), ', ' ORDER BY k.n),
		   pg_catalog.string_agg(pg_catalog.format('h.%1$I %2$s d.%1$I', k.key, k.eq_op), ' AND ' ORDER BY k.n)
	  INTO keys, join_hd
	  FROM pipeline._primary_key_columns(target) AS k;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = history AND a.attname = 'from_entered_at' AND NOT a.attisdropped) THEN
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN from_entered_at timestamptz', history);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = history AND a.attname = 'furthest_before' AND NOT a.attisdropped) THEN
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN furthest_before %s', history, stype);
	END IF;
	EXECUTE pg_catalog.format($q$
UPDATE %1$s AS h
   SET from_entered_at = CASE WHEN h.from_stage IS NOT NULL THEN d.prev_at END,
       furthest_before = d.furthest
  FROM (SELECT %2$s, s.seq,
               pg_catalog.lag(s.changed_at) OVER w AS prev_at,
               pg_catalog.max(s.to_stage) FILTER (WHERE pipeline.stage_kind(s.to_stage) OPERATOR(pg_catalog.<>) 'lost')
                 OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest
          FROM %1$s AS s
        WINDOW w AS (PARTITION BY %2$s ORDER BY s.changed_at, s.seq)) AS d
 WHERE %3$s AND h.seq OPERATOR(pg_catalog.=) d.seq
   AND (h.from_entered_at IS DISTINCT FROM CASE WHEN h.from_stage IS NOT NULL THEN d.prev_at END
        OR h.furthest_before IS DISTINCT FROM d.furthest)$q$,
		history, keys, join_hd);
	IF owner <> caller THEN
		EXECUTE pg_catalog.format('SET LOCAL ROLE %I', caller);
	END IF;
	IF replication_role IS NOT NULL THEN
		PERFORM pg_catalog.set_config('session_replication_role', replication_role, true);
	END IF;
END
$$;
COMMENT ON FUNCTION pipeline._history_derived_columns(regclass, regclass) IS
	'internal: add from_entered_at and furthest_before to a history table, computed from its rows';

-- Bring a 1.0 history table to 1.1: to_stage nullable (deletions), the
-- derived columns, and the primary key (key columns, seq) in place of the
-- plain index 1.0 made on the same columns.
CREATE FUNCTION pipeline._upgrade_history_table(target regclass, history regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	cols int2[];
	old_index regclass;
BEGIN
	EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN to_stage DROP NOT NULL', history);
	PERFORM pipeline._history_derived_columns(target, history);
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = history AND i.indisprimary) THEN
		RETURN;
	END IF;
	-- the history's own numbers of the target's key columns, then seq
	SELECT pg_catalog.array_agg(h.attnum ORDER BY k.n) INTO cols
	  FROM pg_catalog.pg_index i
	 CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
	  JOIN pg_catalog.pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = k.attnum
	  JOIN pg_catalog.pg_attribute h ON h.attrelid = history AND h.attname = ta.attname AND NOT h.attisdropped
	 WHERE i.indrelid = target AND i.indisprimary AND k.n <= i.indnkeyatts;
	cols := cols || (SELECT a.attnum FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid = history AND a.attname = 'seq' AND NOT a.attisdropped);
	SELECT i.indexrelid::pg_catalog.regclass INTO old_index
	  FROM pg_catalog.pg_index i
	 WHERE i.indrelid = history AND NOT i.indisunique
	   AND pg_catalog.string_to_array(i.indkey::pg_catalog.text, ' ')::int2[] = cols
	   AND i.indexprs IS NULL AND i.indpred IS NULL
	 LIMIT 1;
	EXECUTE pg_catalog.format('ALTER TABLE %s ADD PRIMARY KEY (%s)', history,
		(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY u.n)
		   FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(attnum, n)
		   JOIN pg_catalog.pg_attribute a ON a.attrelid = history AND a.attnum = u.attnum));
	IF old_index IS NOT NULL THEN
		EXECUTE pg_catalog.format('DROP INDEX %s', old_index);
	END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Upgrade from 1.0: the attachments of 1.0 lived in their triggers'
-- arguments.  Read them one last time into pipeline.attached_tables and
-- recreate the triggers with the stage column as their only argument.  (A
-- new install has no such triggers: this does nothing.)
-- ---------------------------------------------------------------------------
DO $upgrade$
DECLARE
	a record;
	trg name;
BEGIN
	FOR a IN
		SELECT t.tgrelid::pg_catalog.regclass AS target,
			   args[1] AS stage_column,
			   coalesce(args[2], 'strict') AS ruleset,
			   (SELECT (pipeline._trigger_args(r.tgargs))[2]
				  FROM pg_catalog.pg_trigger r
				 WHERE r.tgrelid = t.tgrelid AND r.tgparentid = 0
				   AND r.tgfoid = 'pipeline.record_transition()'::pg_catalog.regprocedure
				   AND (pipeline._trigger_args(r.tgargs))[1] = args[1]
				 LIMIT 1) AS history
		  FROM pg_catalog.pg_trigger t
		 CROSS JOIN LATERAL pipeline._trigger_args(t.tgargs) AS args
		 WHERE t.tgfoid = 'pipeline.enforce_transition()'::pg_catalog.regprocedure
		   AND t.tgparentid = 0
		   AND (t.tgtype::integer & 2) <> 0		-- BEFORE
		   AND (t.tgtype::integer & 16) <> 0	-- UPDATE
	LOOP
		INSERT INTO pipeline.attached_tables (target, stage_column, ruleset, history, views)
		VALUES (a.target, a.stage_column, a.ruleset, pg_catalog.to_regclass(a.history),
				pipeline._history_views_of(a.target, a.stage_column));
		FOREACH trg IN ARRAY pipeline._trigger_names(a.stage_column)
		LOOP
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
						WHERE t.tgrelid = a.target AND t.tgname = trg AND t.tgparentid = 0) THEN
				EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg, a.target);
			END IF;
		END LOOP;
		PERFORM pipeline._create_triggers(a.target, a.stage_column, a.history IS NOT NULL, false);
		-- A deletion is history too: it has no to_stage.  The history's
		-- primary key is (key columns, seq), replacing 1.0's plain index.
		IF pg_catalog.to_regclass(a.history) IS NOT NULL THEN
			PERFORM pipeline._upgrade_history_table(a.target, pg_catalog.to_regclass(a.history));
		END IF;
	END LOOP;
END
$upgrade$;

-- Nothing parses trigger arguments any more.
DROP FUNCTION pipeline._trigger_args(bytea);
