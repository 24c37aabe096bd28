/* pipeline 1.0: reporting -- the per-target views for BI tools */

-- pipeline.attach(..., track_history => true) calls _create_history_views
-- after creating <target>_stage_history; pipeline.detach calls
-- _drop_history_views.  The views are plain SQL over the history table, the
-- target and the stage metadata (no aggregate of this extension), so that a
-- BI tool can read them and the planner can see through them.
--
-- Every name in the generated SQL is schema-qualified and resolved while the
-- view is created under a pinned search_path: a view stores OIDs, so its
-- meaning never depends on the reader's search_path.

-- The names of the four views of (target, stage_column), in the target's
-- schema: <target>_<suffix> for column "stage", else <target>_<column>_<suffix>.
-- A name over 63 bytes is 42622 with check_length, else NULL (no such view
-- can exist).
CREATE FUNCTION pipeline._history_view_names(target regclass, stage_column name, check_length boolean,
	OUT schema_name name, OUT visits name, OUT durations name, OUT rotting name, OUT funnel name)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	prefix	text;
	n		text;
BEGIN
	SELECT ns.nspname, CASE WHEN stage_column = 'stage' THEN c.relname::text
							ELSE c.relname::text || '_' || stage_column::text END
	  INTO schema_name, prefix
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', target::oid USING ERRCODE = '42P01';
	END IF;
	FOREACH n IN ARRAY ARRAY[prefix || '_stage_visits', prefix || '_stage_durations',
							 prefix || '_rotting', prefix || '_funnel'] LOOP
		IF pg_catalog.octet_length(n) > 63 THEN
			IF NOT check_length THEN
				RETURN;
			END IF;
			RAISE EXCEPTION 'view name "%" is too long', n
				USING ERRCODE = '42622',
					  DETAIL = 'PostgreSQL names are at most 63 bytes; the pipeline extension does not truncate them.',
					  HINT = 'Rename the table or the stage column.';
		END IF;
	END LOOP;
	visits := prefix || '_stage_visits';
	durations := prefix || '_stage_durations';
	rotting := prefix || '_rotting';
	funnel := prefix || '_funnel';
END
$$;

-- Refuse (42P07) when a relation other than a view holds one of the names.
CREATE FUNCTION pipeline._require_view_names_free(schema_name name, view_names name[]) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	taken	text;
BEGIN
	SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', ns.nspname, c.relname), ', ' ORDER BY c.relname)
	  INTO taken
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE ns.nspname = schema_name AND c.relkind <> 'v' AND c.relname = ANY (view_names);
	IF taken IS NOT NULL THEN
		RAISE EXCEPTION 'relation % already exists and is not a view', taken
			USING ERRCODE = '42P07',
				  DETAIL = 'The pipeline extension reserves this name for a view over the stage history.',
				  HINT = 'Rename or drop that relation, or attach with track_history => false.';
	END IF;
END
$$;

-- Create (or replace, keeping views users built on them) one view, owned by
-- the target's owner, with exactly the target's table-level SELECT grants.
CREATE FUNCTION pipeline._install_view(target regclass, schema_name name, view_name name,
									   definition text, comment text, column_comments text[])
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	qname	text := pg_catalog.format('%I.%I', schema_name, view_name);
	owner	oid;
	g		record;
	i		integer;
BEGIN
	BEGIN
		EXECUTE pg_catalog.format('CREATE OR REPLACE VIEW %s AS %s', qname, definition);
	EXCEPTION WHEN invalid_table_definition OR datatype_mismatch THEN
		-- The columns changed (e.g. a new primary key): replace the view; this
		-- fails, as it should, if a user's view depends on the old one.
		EXECUTE pg_catalog.format('DROP VIEW %s', qname);
		EXECUTE pg_catalog.format('CREATE VIEW %s AS %s', qname, definition);
	END;

	SELECT c.relowner INTO owner FROM pg_catalog.pg_class c WHERE c.oid = target;
	EXECUTE pg_catalog.format('ALTER VIEW %s OWNER TO %I', qname,
							  (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = owner));
	-- Sync SELECT grants with the target's: revoke what the view has, then
	-- copy what the target grants (re-attaching picks up new grants).
	FOR g IN SELECT DISTINCT a.grantee
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
			  WHERE c.oid = pg_catalog.to_regclass(qname) AND a.grantee <> owner LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', qname,
			CASE WHEN g.grantee = 0 THEN 'PUBLIC'
				 ELSE pg_catalog.quote_ident((SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = g.grantee)) END);
	END LOOP;
	FOR g IN SELECT a.grantee, a.is_grantable
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
			  WHERE c.oid = target AND a.privilege_type = 'SELECT' AND a.grantee <> owner LOOP
		EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %s%s', qname,
			CASE WHEN g.grantee = 0 THEN 'PUBLIC'
				 ELSE pg_catalog.quote_ident((SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = g.grantee)) END,
			CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;

	EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', qname, comment);
	FOR i IN 1 .. coalesce(pg_catalog.array_length(column_comments, 1), 0) / 2 LOOP
		EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', qname,
								  column_comments[2 * i - 1], column_comments[2 * i]);
	END LOOP;
END
$$;

-- Attach hook: create <target>_stage_visits, _stage_durations, _rotting and
-- _funnel over `history` (DESIGN.md, "Views for BI tools").  Called by
-- pipeline.attach with track_history; idempotent.
CREATE FUNCTION pipeline._create_history_views(target regclass, stage_column name, history regclass)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	names		record;
	t_name		text;		-- schema-qualified target
	h_name		text;		-- schema-qualified history table
	stype		regtype;	-- the stage column's enum type
	stype_name	text;		-- schema-qualified, for casts in the view text
	keys		name[];		-- primary-key columns, in key order
	eq_ops		text[];		-- their btree equality operators, OPERATOR(schema.=)
	amount_type	regtype;
	k			integer;
	h_keys		text;		-- h.k1, h.k2
	v_keys		text;		-- v.k1, v.k2
	join_vt		text;		-- v.k1 = t.k1 AND ...
	join_ft		text;		-- f.k1 = t.k1 AND ...
	join_xh		text;		-- x.k1 = h.k1 AND ...
	x_keys		text;		-- x.k1, x.k2
	m_keys		text;		-- m.k1, m.k2
	t_first		text;		-- t.<first key>: NULL when no target row matches
	amount_expr	text;
	lost_stages	text;
	rot_stages	text;
	key_comments text[] := '{}';
	def			text;
BEGIN
	names := pipeline._history_view_names(target, stage_column, true);

	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) INTO t_name
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = target;
	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) INTO h_name
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = history;
	IF h_name IS NULL THEN
		RAISE EXCEPTION 'history table with OID % does not exist', history::oid USING ERRCODE = '42P01';
	END IF;

	SELECT a.atttypid::regtype INTO stype
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = stage_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF stype IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', stage_column, t_name USING ERRCODE = '42703';
	END IF;
	PERFORM pipeline._require_registered(stype);
	SELECT pg_catalog.format('%I.%I', ns.nspname, t.typname) INTO stype_name
	  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace ns ON ns.oid = t.typnamespace
	 WHERE t.oid = stype;

	PERFORM pipeline._require_view_names_free(names.schema_name,
		ARRAY[names.visits, names.durations, names.rotting, names.funnel]);

	-- Key columns and, for each, the equality operator of the primary key's
	-- btree operator family (never resolved through search_path).
	SELECT pg_catalog.array_agg(a.attname ORDER BY i.n),
		   pg_catalog.array_agg(pg_catalog.format('OPERATOR(%I.%s)', ons.nspname, o.oprname) ORDER BY i.n)
	  INTO keys, eq_ops
	  FROM pg_catalog.pg_index x
	 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(x.indkey::int2[]), pg_catalog.unnest(x.indclass::oid[]))
						 WITH ORDINALITY AS i(attnum, opclass, n)
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = i.attnum
	  JOIN pg_catalog.pg_opclass oc ON oc.oid = i.opclass
	  JOIN pg_catalog.pg_amop am ON am.amopfamily = oc.opcfamily AND am.amopstrategy = 3
								AND am.amoplefttype = oc.opcintype AND am.amoprighttype = oc.opcintype
	  JOIN pg_catalog.pg_operator o ON o.oid = am.amopopr
	  JOIN pg_catalog.pg_namespace ons ON ons.oid = o.oprnamespace
	 WHERE x.indrelid = target AND x.indisprimary AND i.n <= x.indnkeyatts;
	IF keys IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', t_name USING ERRCODE = '42P16';
	END IF;
	IF keys && ARRAY['stage', 'ordinal', 'entered_at', 'exited_at', 'time_in_stage',
					 'is_current', 'rotting_after']::name[] THEN
		RAISE EXCEPTION 'primary-key column of % is named like a column of its stage views', t_name
			USING ERRCODE = '42701',
				  DETAIL = pg_catalog.format('Key columns: %s.', pg_catalog.array_to_string(keys, ', ')),
				  HINT = 'The views have columns stage, ordinal, entered_at, exited_at, time_in_stage, is_current and rotting_after; rename the key column or attach with track_history => false.';
	END IF;

	SELECT pg_catalog.string_agg('h.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('v.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('v.%1$I %2$s t.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('f.%1$I %2$s t.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('x.%1$I %2$s h.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg('x.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('m.' || pg_catalog.quote_ident(c), ', ' ORDER BY n)
	  INTO h_keys, v_keys, join_vt, join_ft, join_xh, x_keys, m_keys
	  FROM pg_catalog.unnest(keys) WITH ORDINALITY AS u(c, n);
	t_first := 't.' || pg_catalog.quote_ident(keys[1]);
	FOR k IN 1 .. pg_catalog.cardinality(keys) LOOP
		key_comments := key_comments || ARRAY[keys[k]::text,
			pg_catalog.format('primary key of %s', t_name)];
	END LOOP;

	-- The stages that rot, and the lost stages, are read when the view is
	-- queried (thresholds and labels change after attach).
	rot_stages := pg_catalog.format(
		'ARRAY(SELECT c.stage::%1$s FROM pipeline.stage_catalog c'
		' WHERE pg_catalog.to_regtype(c.stage_type) = %1$L::pg_catalog.regtype AND c.rotting_after IS NOT NULL)',
		stype_name);
	lost_stages := pg_catalog.format(
		'ARRAY(SELECT e FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS e'
		' WHERE pipeline.stage_kind(e) = ''lost'')', stype_name);

	SELECT a.atttypid::regtype INTO amount_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = 'amount' AND a.attnum > 0 AND NOT a.attisdropped;
	IF amount_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
					   'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
		amount_expr := 't.amount::pg_catalog.numeric';
	ELSE
		amount_expr := NULL;
	END IF;

	-- Visits: one row per history row, ended by the key's next history row.
	-- The left join to the target (on its primary key) tells current visits
	-- from the last visit of a deleted row; the planner drops it when unused.
	def := pg_catalog.format($v$
SELECT %1$s,
       v.stage,
       v.ordinal,
       v.entered_at,
       v.exited_at,
       CASE WHEN v.exited_at IS NOT NULL THEN v.exited_at - v.entered_at
            WHEN %6$s IS NOT NULL THEN GREATEST(pg_catalog.now() - v.entered_at, '0'::pg_catalog.interval)
       END AS time_in_stage,
       (v.exited_at IS NULL AND %6$s IS NOT NULL) AS is_current
  FROM (SELECT %2$s,
               h.to_stage::pg_catalog.text AS stage,
               pipeline.stage_ordinal(h.to_stage) AS ordinal,
               h.changed_at AS entered_at,
               pg_catalog.lead(h.changed_at) OVER (PARTITION BY %2$s ORDER BY h.seq) AS exited_at
          FROM %3$s h) v
  LEFT JOIN %4$s t ON %5$s$v$,
		v_keys, h_keys, h_name, t_name, join_vt, t_first);
	PERFORM pipeline._install_view(target, names.schema_name, names.visits, def,
		pg_catalog.format('pipeline: one row per visit of a row of %s to a stage (from %s)', t_name, h_name),
		key_comments || ARRAY[
			'stage', 'stage label',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'entered_at', 'when the row entered the stage',
			'exited_at', 'when the row left the stage; NULL for the last visit of a row',
			'time_in_stage', 'exited_at - entered_at; until now for a current visit; NULL for the last visit of a deleted row',
			'is_current', 'the row is in the target now and this is its latest visit']);

	-- Durations: completed visits only (those with a later history row).
	-- "seq + 0": sort the whole history rather than read it in (key, seq)
	-- index order, which is random I/O over a heap written in time order.
	def := pg_catalog.format($v$
SELECT d.to_stage::pg_catalog.text AS stage,
       pipeline.stage_ordinal(d.to_stage) AS ordinal,
       pg_catalog.count(*) AS visits,
       pg_catalog.avg(d.duration) AS avg_time,
       pg_catalog.percentile_cont(0.5::pg_catalog.float8) WITHIN GROUP (ORDER BY d.duration) AS median_time,
       pg_catalog.percentile_cont(0.9::pg_catalog.float8) WITHIN GROUP (ORDER BY d.duration) AS p90_time
  FROM (SELECT h.to_stage,
               pg_catalog.lead(h.changed_at) OVER (PARTITION BY %1$s ORDER BY h.seq + 0) - h.changed_at AS duration
          FROM %2$s h) d
 WHERE d.duration IS NOT NULL
 GROUP BY d.to_stage
 ORDER BY 2$v$,
		h_keys, h_name);
	PERFORM pipeline._install_view(target, names.schema_name, names.durations, def,
		pg_catalog.format('pipeline: time spent in each stage by rows of %s, over completed visits', t_name),
		ARRAY[
			'stage', 'stage label',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'visits', 'number of completed visits (the row has left the stage since)',
			'avg_time', 'mean time in the stage',
			'median_time', 'median time in the stage (percentile_cont 0.5)',
			'p90_time', '90th percentile of time in the stage (percentile_cont 0.9)']);

	-- Rotting: rows of the target now in a stage with a threshold, whose
	-- current visit began longer ago than the threshold.  The current visit
	-- began at the row's latest history row into its current stage (history
	-- rows of a row are written in seq and changed_at order).  Only the
	-- history of rows now in a stage that rots is read, by a join on the
	-- key and that stage.
	def := pg_catalog.format($v$
SELECT %1$s,
       m.stage::pg_catalog.text AS stage,
       m.entered_at,
       GREATEST(pg_catalog.now() - m.entered_at, '0'::pg_catalog.interval) AS time_in_stage,
       c.rotting_after
  FROM (SELECT %2$s, x.%3$I AS stage, pg_catalog.max(h.changed_at) AS entered_at
          FROM %4$s x
          JOIN %5$s h ON %6$s AND h.to_stage = x.%3$I
         WHERE x.%3$I = ANY (%7$s)
         GROUP BY %2$s, x.%3$I) m
  JOIN pipeline.stage_catalog c
    ON pg_catalog.to_regtype(c.stage_type) = %8$L::pg_catalog.regtype
   AND c.stage = m.stage::pg_catalog.text
 WHERE c.rotting_after IS NOT NULL
   AND pg_catalog.now() - m.entered_at > c.rotting_after$v$,
		m_keys, x_keys, stage_column, t_name, h_name, join_xh, rot_stages, stype_name);
	PERFORM pipeline._install_view(target, names.schema_name, names.rotting, def,
		pg_catalog.format('pipeline: rows of %s that have stayed in their stage longer than its rotting_after', t_name),
		key_comments || ARRAY[
			'stage', 'stage label (the row''s current stage)',
			'entered_at', 'when the row entered its current stage',
			'time_in_stage', 'how long the row has been in its current stage',
			'rotting_after', 'the stage''s threshold (pipeline.set_rotting_after)']);

	-- Funnel: per row of the target, the furthest non-lost stage in its
	-- history; a stage is reached by every row whose furthest stage sorts at
	-- or after it (won stages sort after every open stage, so this is
	-- DESIGN.md's "reached").  Cumulated over the few stages, not per row.
	def := pg_catalog.format($v$
WITH stages AS (
    SELECT s.e AS stage, pipeline.stage_ordinal(s.e) AS ordinal
      FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS s(e)
     WHERE pipeline.stage_kind(s.e) <> 'lost'
), furthest AS (
    SELECT f.furthest, pg_catalog.count(*) AS n, pg_catalog.sum(%2$s) AS amount
      FROM (SELECT %3$s, pg_catalog.max(h.to_stage) AS furthest
              FROM %4$s h
             WHERE h.to_stage <> ALL (%5$s)
             GROUP BY %3$s) f
      JOIN %6$s t ON %7$s
     GROUP BY f.furthest
), reached AS (
    SELECT s.stage, s.ordinal,
           COALESCE(pg_catalog.sum(f.n), 0)::pg_catalog.int8 AS reached,
           pg_catalog.sum(f.amount) AS reached_amount
      FROM stages s
      LEFT JOIN furthest f ON f.furthest >= s.stage
     GROUP BY s.stage, s.ordinal
)
SELECT r.stage::pg_catalog.text AS stage,
       r.ordinal,
       r.reached,
       %8$s AS reached_amount,
       r.reached::pg_catalog.float8
         / NULLIF(pg_catalog.lag(r.reached) OVER w, 0)::pg_catalog.float8 AS conversion_from_previous,
       r.reached::pg_catalog.float8
         / NULLIF(pg_catalog.first_value(r.reached) OVER w, 0)::pg_catalog.float8 AS conversion_from_first
  FROM reached r
WINDOW w AS (ORDER BY r.ordinal)
 ORDER BY r.ordinal$v$,
		stype_name, coalesce(amount_expr, 'NULL::pg_catalog.numeric'), h_keys,
		h_name, lost_stages, t_name, join_ft,
		CASE WHEN amount_expr IS NULL THEN 'NULL::pg_catalog.numeric'
			 ELSE 'COALESCE(r.reached_amount, 0::pg_catalog.numeric)' END);
	PERFORM pipeline._install_view(target, names.schema_name, names.funnel, def,
		pg_catalog.format('pipeline: funnel of the rows now in %s, by the furthest stage their history reached', t_name),
		ARRAY[
			'stage', 'stage label (open and won stages)',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'reached', 'rows now in the table that reached the stage (lost rows count for the stages they passed; skipped stages count as passed)',
			'reached_amount', 'sum of amount over those rows (NULL when the table has no amount column)',
			'conversion_from_previous', 'reached / reached of the previous stage (NULL for the first stage or a zero denominator)',
			'conversion_from_first', 'reached / reached of the first stage (NULL for a zero denominator)']);
END
$$;
COMMENT ON FUNCTION pipeline._create_history_views(regclass, name, regclass) IS
	'attach hook: create the stage_visits, stage_durations, rotting and funnel views of a target';

-- Detach hook: drop the four views of (target, stage_column); the history
-- table stays.  Only views are dropped, never another kind of relation.
CREATE FUNCTION pipeline._drop_history_views(target regclass, stage_column name)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	names	record;
	v		name;
BEGIN
	names := pipeline._history_view_names(target, stage_column, false);
	IF names.visits IS NULL THEN
		RETURN;
	END IF;
	FOREACH v IN ARRAY ARRAY[names.funnel, names.rotting, names.durations, names.visits] LOOP
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
					 JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
					WHERE c.relname = v AND ns.nspname = names.schema_name AND c.relkind = 'v') THEN
			EXECUTE pg_catalog.format('DROP VIEW %I.%I', names.schema_name, v);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._drop_history_views(regclass, name) IS
	'detach hook: drop the history views of a target, keeping the history table';

-- Called before DROP TABLE (event trigger below) with the tables it names:
-- drop the history views that depend on any of them, so that dropping an
-- attached table or its history needs no CASCADE.  Only our views (by their
-- comment and name) and only those the current user may drop; anything else
-- is left for DROP TABLE to report as usual.
CREATE FUNCTION pipeline._drop_views_of(tables regclass[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v	record;
BEGIN
	-- The views that read one of the tables name their attachment (schema
	-- and prefix); all four views of that attachment go together.
	FOR v IN
		WITH ours AS (
			SELECT c.oid, c.relnamespace, c.relname,
				   pg_catalog.regexp_replace(c.relname, '_(stage_visits|stage_durations|rotting|funnel)$', '') AS prefix
			  FROM pg_catalog.pg_class c
			 WHERE c.relkind = 'v'
			   AND c.relname ~ '_(stage_visits|stage_durations|rotting|funnel)$'
			   AND pg_catalog.obj_description(c.oid, 'pg_class') LIKE 'pipeline: %'
			   AND pg_catalog.pg_has_role(c.relowner, 'USAGE'))
		SELECT DISTINCT pg_catalog.format('%I.%I', ns.nspname, o.relname) AS qname
		  FROM ours o
		  JOIN pg_catalog.pg_namespace ns ON ns.oid = o.relnamespace
		 WHERE (o.relnamespace, o.prefix) IN (
				SELECT d.relnamespace, d.prefix
				  FROM ours d
				  JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = d.oid
				  JOIN pg_catalog.pg_depend dep
					ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND dep.objid = rw.oid
				   AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
				 WHERE dep.refobjid = ANY (tables::oid[]))
	LOOP
		EXECUTE pg_catalog.format('DROP VIEW IF EXISTS %s', v.qname);
	END LOOP;
END
$$;

CREATE FUNCTION pipeline._drop_table_views() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'pipeline_drop_table_views'
	LANGUAGE C;

CREATE EVENT TRIGGER pipeline_drop_table_views ON ddl_command_start
	WHEN TAG IN ('DROP TABLE')
	EXECUTE FUNCTION pipeline._drop_table_views();
