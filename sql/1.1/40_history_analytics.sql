/* pipeline 1.1: metrics as of any date -- <prefix>_stage_at, <prefix>_cycles, probabilities learned from history */

-- ---------------------------------------------------------------------------
-- Building blocks (C)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pipeline._last_stage_trans(internal, anyenum, timestamptz, bigint) RETURNS internal
	AS 'MODULE_PATHNAME', 'pipeline_last_stage_trans'
	LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION pipeline._last_stage_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'pipeline_last_stage_combine'
	LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION pipeline._last_stage_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'pipeline_last_stage_serialize'
	LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline._last_stage_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'pipeline_last_stage_deserialize'
	LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline._last_stage_final(internal, anyenum, timestamptz, bigint) RETURNS anyenum
	AS 'MODULE_PATHNAME', 'pipeline_last_stage_final'
	LANGUAGE C PARALLEL SAFE;

-- The to_stage of the row last in (changed_at, seq) order, NULL when that
-- row is a deletion: where a key was at the end of the rows aggregated.
CREATE AGGREGATE pipeline._last_stage(to_stage anyenum, changed_at timestamptz, seq bigint) (
	SFUNC = pipeline._last_stage_trans,
	STYPE = internal,
	COMBINEFUNC = pipeline._last_stage_combine,
	SERIALFUNC = pipeline._last_stage_serialize,
	DESERIALFUNC = pipeline._last_stage_deserialize,
	FINALFUNC = pipeline._last_stage_final,
	FINALFUNC_EXTRA,
	PARALLEL = SAFE);
COMMENT ON AGGREGATE pipeline._last_stage(anyenum, timestamptz, bigint) IS
	'internal: the stage of the history row last in (changed_at, seq) order (NULL for a deletion)';

CREATE FUNCTION pipeline._stage_reached(at anyenum, target anyenum) RETURNS boolean
	AS 'MODULE_PATHNAME', 'pipeline_stage_reached'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._stage_reached(anyenum, anyenum) IS
	'internal: has a row at stage "at" reached stage "target" (a lost stage reaches nothing; a won stage every open one)';

-- ---------------------------------------------------------------------------
-- Per-table objects: <prefix>_stage_at(as_of) and <prefix>_cycles
-- ---------------------------------------------------------------------------

-- The attachment's history table and what the SQL over it needs: the key
-- columns with their types and equality operators (named with their
-- schema, never through search_path), the stage type, and the arrays of
-- lost and closed stages as query-time expressions (labels change).
CREATE FUNCTION pipeline._history_sql_parts(target regclass, stage_column name,
	OUT history regclass, OUT t_name text, OUT h_name text, OUT prefix_schema name, OUT prefix text,
	OUT stype text, OUT keys name[], OUT key_defs text, OUT h_keys text, OUT t_keys text,
	OUT join_ht text, OUT lost_stages text, OUT open_stages text, OUT closed_stages text)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	SELECT a.history INTO history FROM pipeline.attached_tables a
	 WHERE a.target = _history_sql_parts.target AND a.stage_column = _history_sql_parts.stage_column;
	IF history IS NULL THEN
		RAISE EXCEPTION 'table % is not attached with history on column "%"', target, stage_column
			USING ERRCODE = '42704',
				  HINT = 'Attach it with pipeline.attach() (track_history => true); pipeline.attachments lists the attached tables.';
	END IF;
	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname), ns.nspname,
		   c.relname::text || '_' || CASE WHEN stage_column = 'stage' THEN '' ELSE stage_column::text || '_' END
	  INTO t_name, prefix_schema, prefix
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = target;
	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) INTO h_name
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = history;
	SELECT pg_catalog.format('%I.%I', ns.nspname, ty.typname) INTO stype
	  FROM pg_catalog.pg_attribute a
	  JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
	  JOIN pg_catalog.pg_namespace ns ON ns.oid = ty.typnamespace
	 WHERE a.attrelid = target AND a.attname = stage_column AND NOT a.attisdropped;
	SELECT pg_catalog.array_agg(k.key ORDER BY k.n),
		   pg_catalog.string_agg(pg_catalog.format('%I %s', k.key, k.key_type), ', ' ORDER BY k.n),
		   pg_catalog.string_agg('h.' || pg_catalog.quote_ident(k.key), ', ' ORDER BY k.n),
		   pg_catalog.string_agg('t.' || pg_catalog.quote_ident(k.key), ', ' ORDER BY k.n),
		   pg_catalog.string_agg(pg_catalog.format('h.%1$I %2$s t.%1$I', k.key, k.eq_op), ' AND ' ORDER BY k.n)
	  INTO keys, key_defs, h_keys, t_keys, join_ht
	  FROM pipeline._primary_key_columns(target) AS k;
	lost_stages := pg_catalog.format(
		'ARRAY(SELECT e FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS e WHERE pipeline.stage_kind(e) = ''lost'')', stype);
	open_stages := pg_catalog.format(
		'ARRAY(SELECT e FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS e WHERE pipeline.stage_kind(e) = ''open'')', stype);
	closed_stages := pg_catalog.format(
		'ARRAY(SELECT e FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS e WHERE pipeline.stage_kind(e) <> ''open'')', stype);
END
$$;
COMMENT ON FUNCTION pipeline._history_sql_parts(regclass, name) IS
	'internal: the pieces of SQL the per-table history functions are made of';

-- The <prefix>_stage_at function of (target, stage_column), if it exists
-- and is ours: in the target's schema, owned by its owner, reading its
-- history table (the function body's recorded dependency).
CREATE FUNCTION pipeline._stage_at_function(target regclass, stage_column name) RETURNS regprocedure
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT p.oid::pg_catalog.regprocedure
	  FROM pipeline.attached_tables a
	  JOIN pg_catalog.pg_class c ON c.oid = a.target
	  JOIN pg_catalog.pg_proc p
		ON p.pronamespace = c.relnamespace AND p.proowner = c.relowner
	   AND p.proname = c.relname::text || '_' || CASE WHEN a.stage_column = 'stage' THEN '' ELSE a.stage_column::text || '_' END || 'stage_at'
	   AND p.proargtypes = '1184'::pg_catalog.oidvector
	  JOIN pg_catalog.pg_depend d
		ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
	   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = a.history
	 WHERE a.target = $1 AND a.stage_column = $2
	 LIMIT 1
$$;
COMMENT ON FUNCTION pipeline._stage_at_function(regclass, name) IS
	'internal: the <prefix>_stage_at function of an attachment, found by identity';

-- The query of <prefix>_stage_at(as_of) for an attachment, as_of being
-- the SQL text given (the function's parameter, or $1): per key, the
-- latest history row before as_of and the furthest stage reached before
-- it, keys whose latest row is a deletion left out.  Grouped by the key,
-- so on a distributed history (grouped by its distribution column) it
-- runs on the workers, shard by shard.
CREATE FUNCTION pipeline._stage_at_query(target regclass, stage_column name, as_of text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	p record := pipeline._history_sql_parts(target, stage_column);
BEGIN
	RETURN pg_catalog.format($q$SELECT %1$s, x.stage, x.entered_at, x.furthest_stage
	  FROM (SELECT %2$s,
	               pipeline._last_stage(h.to_stage, h.changed_at, h.seq) AS stage,
	               pg_catalog.max(h.changed_at) AS entered_at,
	               pg_catalog.max(h.to_stage) FILTER (WHERE pipeline._stage_reached(h.to_stage, h.to_stage)) AS furthest_stage
	          FROM %3$s AS h
	         WHERE h.changed_at < %4$s
	         GROUP BY %2$s) AS x
	 WHERE x.stage IS NOT NULL$q$,
		(SELECT pg_catalog.string_agg('x.' || pg_catalog.quote_ident(k2), ', ') FROM pg_catalog.unnest(p.keys) AS k2),
		p.h_keys, p.h_name, as_of);
END
$fn$;
COMMENT ON FUNCTION pipeline._stage_at_query(regclass, name, text) IS
	'internal: the query of <prefix>_stage_at(as_of)';

-- The rows of <prefix>_stage_at(as_of) of the attachment whose history
-- table is history, for a Citus table: the same query, run by PL/pgSQL
-- with as_of bound, which Citus plans (pushed down, grouped by the
-- distribution column).  Runs with the caller's rights, like the query;
-- PARALLEL RESTRICTED: a distributed query runs in the leader only.
CREATE FUNCTION pipeline._stage_at_rows(history regclass, as_of timestamptz) RETURNS SETOF record
	LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	a record;
BEGIN
	SELECT x.target, x.stage_column INTO a FROM pipeline.attached_tables x WHERE x.history = _stage_at_rows.history
	 ORDER BY x.target::pg_catalog.oid, x.stage_column LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation % is not the stage history of an attached table', history
			USING ERRCODE = '42704',
				  HINT = 'Attach the table with pipeline.attach() (track_history => true); pipeline.attachments lists the attached tables.';
	END IF;
	RETURN QUERY EXECUTE pipeline._stage_at_query(a.target, a.stage_column, '$1') USING as_of;
END
$fn$;
COMMENT ON FUNCTION pipeline._stage_at_rows(regclass, timestamptz) IS
	'internal: the rows of <prefix>_stage_at(as_of) of a Citus table, from its history table';

-- Attach hook: create (or replace) <prefix>_stage_at(as_of) and the view
-- <prefix>_cycles, owned by the target's owner, readable (executable) by
-- the roles that may read the target.  The function's body is SQL-standard
-- (BEGIN ATOMIC), so it holds the history table by identity.
CREATE FUNCTION pipeline._create_history_functions(target regclass, stage_column name) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	p record;
	owner name;
	fname text;
	vname text;
	clash name;
	old regprocedure;
	key_comments text[] := '{}';
	k name;
	body text;
	citus boolean := false;
BEGIN
	p := pipeline._history_sql_parts(target, stage_column);
	SELECT k2 INTO clash FROM pg_catalog.unnest(p.keys) AS k2
	 WHERE k2 IN ('stage', 'entered_at', 'furthest_stage', 'created_at', 'closed_at', 'outcome',
				  'cycle_time', 'cycle_days', 'as_of') LIMIT 1;
	IF clash IS NOT NULL THEN
		RAISE EXCEPTION 'primary key column "%" of table % has the name of a column of its history functions', clash, p.t_name
			USING ERRCODE = '42701',
				  HINT = 'Rename the key column, or attach with track_history => false.';
	END IF;
	SELECT r.rolname INTO owner FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
	 WHERE c.oid = target;
	fname := pg_catalog.format('%I.%I', p.prefix_schema, p.prefix || 'stage_at');
	vname := pg_catalog.format('%I.%I', p.prefix_schema, p.prefix || 'cycles');
	FOREACH k IN ARRAY p.keys LOOP
		key_comments := key_comments || ARRAY[k::text, pg_catalog.format('primary key of %s', p.t_name)];
	END LOOP;

	-- A function of that name that is not ours is left alone, and refused.
	old := pipeline._stage_at_function(target, stage_column);
	IF old IS NULL AND pg_catalog.to_regprocedure(fname || '(timestamp with time zone)') IS NOT NULL THEN
		RAISE EXCEPTION 'function %(timestamptz) already exists and is not the stage_at function of %', fname, p.t_name
			USING ERRCODE = '42723', HINT = 'Rename or drop it, or attach with track_history => false.';
	END IF;
	IF old IS NOT NULL THEN
		EXECUTE pg_catalog.format('DROP FUNCTION %s', old);
	END IF;
	-- On a Citus table the query goes through pipeline._stage_at_rows
	-- (PL/pgSQL): Citus cannot plan a SQL function's parameterized query
	-- over distributed tables (nor the query it is inlined into), but plans
	-- PL/pgSQL's with the value of as_of bound.  The history table is a
	-- regclass constant of the body either way, so the function still holds
	-- it by identity (a recorded dependency) and follows a rename.  (Read
	-- from pg_dist_partition here: the upgrade below runs before
	-- 70_citus.sql has created pipeline._citus_table_kind.)
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
		EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
		   INTO citus USING p.history;
	END IF;
	IF NOT citus THEN
		body := pipeline._stage_at_query(target, stage_column, 'as_of');
	ELSE
		body := pg_catalog.format(
			'SELECT r.* FROM pipeline._stage_at_rows(%L::pg_catalog.regclass, as_of) AS r(%s, stage %s, entered_at pg_catalog.timestamptz, furthest_stage %s)',
			p.h_name, p.key_defs, p.stype, p.stype);
	END IF;
	EXECUTE pg_catalog.format($f$
CREATE FUNCTION %1$s(as_of timestamptz)
	RETURNS TABLE (%2$s, stage %3$s, entered_at timestamptz, furthest_stage %3$s)
	LANGUAGE sql STABLE PARALLEL %5$s
BEGIN ATOMIC
	%4$s;
END$f$,
		fname, p.key_defs, p.stype, body, CASE WHEN citus THEN 'RESTRICTED' ELSE 'SAFE' END);
	EXECUTE pg_catalog.format('ALTER FUNCTION %s(timestamptz) OWNER TO %I', fname, owner);
	EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s(timestamptz) FROM PUBLIC', fname);
	PERFORM pipeline._copy_grants(target, pg_catalog.to_regprocedure(fname || '(timestamp with time zone)'), true);
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s(timestamptz) IS %L', fname,
		pg_catalog.format('pipeline: the rows of %s as of the instant as_of began (their stage, when they entered it, the furthest stage they had reached), from %s',
						  p.t_name, p.h_name));

	-- Sales cycles of the rows now in the table.  (The stage's kind is
	-- computed in each column rather than once in a LATERAL subquery
	-- without FROM, which Citus cannot push down with a STABLE function.)
	PERFORM pipeline._install_view(target, p.prefix_schema, (p.prefix || 'cycles')::name, pg_catalog.format($v$
SELECT %1$s,
       c.created_at,
       CASE WHEN pipeline.stage_kind(t.%3$I) <> 'open' THEN c.last_close END AS closed_at,
       CASE WHEN pipeline.stage_kind(t.%3$I) <> 'open' THEN pipeline.stage_kind(t.%3$I) END AS outcome,
       CASE WHEN pipeline.stage_kind(t.%3$I) <> 'open' THEN pg_catalog.justify_hours(c.last_close - c.created_at) END AS cycle_time,
       CASE WHEN pipeline.stage_kind(t.%3$I) <> 'open'
            THEN (pg_catalog."extract"('epoch', c.last_close - c.created_at) / 86400)::pg_catalog.float8 END AS cycle_days
  FROM %2$s AS t
  LEFT JOIN (SELECT %4$s,
                    pg_catalog.min(h.changed_at) AS created_at,
                    pg_catalog.max(h.changed_at) FILTER (
                        WHERE h.to_stage = ANY (%5$s) AND (h.from_stage IS NULL OR h.from_stage = ANY (%6$s))) AS last_close
               FROM %7$s AS h
              GROUP BY %4$s) AS c ON %8$s$v$,
		p.t_keys, p.t_name, stage_column, p.h_keys, p.closed_stages, p.open_stages, p.h_name,
		replace(p.join_ht, 'h.', 'c.')),
		pg_catalog.format('pipeline: sales cycle of each row now in %s (from %s)', p.t_name, p.h_name),
		key_comments || ARRAY[
			'created_at', 'when the row was created (its first history row)',
			'closed_at', 'when the row last moved from an open stage (or was created) into a won or lost stage; NULL while open',
			'outcome', 'won or lost; NULL while open',
			'cycle_time', 'closed_at - created_at, justify_hours-ed; NULL while open',
			'cycle_days', 'cycle_time in days; NULL while open']);
END
$fn$;
COMMENT ON FUNCTION pipeline._create_history_functions(regclass, name) IS
	'internal: attach hook creating <prefix>_stage_at(as_of) and <prefix>_cycles';

-- Detach hook: drop <prefix>_stage_at (the cycles view goes with the
-- other recorded views).
CREATE FUNCTION pipeline._drop_history_functions(target regclass, stage_column name) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	f regprocedure := pipeline._stage_at_function(target, stage_column);
BEGIN
	IF f IS NOT NULL THEN
		EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
	END IF;
END
$$;
COMMENT ON FUNCTION pipeline._drop_history_functions(regclass, name) IS
	'internal: detach hook dropping <prefix>_stage_at';

-- ---------------------------------------------------------------------------
-- Stage probabilities learned from history
-- ---------------------------------------------------------------------------

CREATE FUNCTION pipeline.stage_win_probabilities(target regclass, since timestamptz DEFAULT NULL,
												 stage_column name DEFAULT 'stage')
	RETURNS TABLE (stage text, ordinal integer, reached bigint, won bigint, probability numeric)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	p record;
BEGIN
	IF target IS NULL OR stage_column IS NULL THEN
		RAISE EXCEPTION 'target and stage_column must not be NULL' USING ERRCODE = '22004';
	END IF;
	p := pipeline._history_sql_parts(target, stage_column);
	RETURN QUERY EXECUTE pg_catalog.format($q$
WITH closed AS (
    SELECT pipeline.stage_kind(t.%1$I) AS kind, f.furthest
      FROM %2$s AS t
      JOIN (SELECT %3$s,
                   pg_catalog.max(h.to_stage) FILTER (WHERE pipeline._stage_reached(h.to_stage, h.to_stage)) AS furthest,
                   pg_catalog.min(h.changed_at) AS first_at
              FROM %5$s AS h
             GROUP BY %3$s) AS f ON %6$s
     WHERE pipeline.stage_kind(t.%1$I) <> 'open'
       AND ($1 IS NULL OR f.first_at >= $1)
)
SELECT s.e::pg_catalog.text, pipeline.stage_ordinal(s.e),
       pg_catalog.count(c.kind) FILTER (WHERE pipeline._stage_reached(c.furthest, s.e)),
       pg_catalog.count(c.kind) FILTER (WHERE pipeline._stage_reached(c.furthest, s.e) AND c.kind = 'won'),
       pg_catalog.round(pg_catalog.count(c.kind) FILTER (WHERE pipeline._stage_reached(c.furthest, s.e) AND c.kind = 'won')::pg_catalog.numeric
             / NULLIF(pg_catalog.count(c.kind) FILTER (WHERE pipeline._stage_reached(c.furthest, s.e)), 0), 4)
  FROM pg_catalog.unnest(%7$s) AS s(e)
  LEFT JOIN closed AS c ON true
 GROUP BY s.e
 ORDER BY 2$q$,
		stage_column, p.t_name, p.h_keys, p.lost_stages, p.h_name, replace(p.join_ht, 'h.', 'f.'), p.open_stages)
	USING since;
END
$fn$;
COMMENT ON FUNCTION pipeline.stage_win_probabilities(regclass, timestamptz, name) IS
	'per open stage: among the closed rows of a table (first history row at or after since), how many reached it (furthest stage in their history) and how many of those were won';

CREATE FUNCTION pipeline.calibrate_probabilities(target regclass, since timestamptz DEFAULT NULL,
												 stage_column name DEFAULT 'stage', min_reached bigint DEFAULT 30)
	RETURNS TABLE (stage text, ordinal integer, reached bigint, won bigint, probability numeric, applied boolean)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
DECLARE
	r record;
	stype regtype;
BEGIN
	IF min_reached IS NULL THEN
		RAISE EXCEPTION 'min_reached must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT a.atttypid INTO stype FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = stage_column AND NOT a.attisdropped;
	FOR r IN SELECT * FROM pipeline.stage_win_probabilities(target, since, stage_column) LOOP
		stage := r.stage;
		ordinal := r.ordinal;
		reached := r.reached;
		won := r.won;
		probability := r.probability;
		applied := r.probability IS NOT NULL AND r.reached >= min_reached;
		IF applied THEN
			PERFORM pipeline.set_probability(stype, r.stage, r.probability);
		END IF;
		RETURN NEXT;
	END LOOP;
END
$fn$;
COMMENT ON FUNCTION pipeline.calibrate_probabilities(regclass, timestamptz, name, bigint) IS
	'apply the probabilities learned by stage_win_probabilities (where at least min_reached rows reached the stage) with set_probability, for the whole stage type';

-- ---------------------------------------------------------------------------
-- pipeline._visit_time_stats(entered_at, exited_at): {mean, median, 90th
-- percentile} of exited_at - entered_at over a group, equal to avg() and
-- percentile_cont(0.5 / 0.9) of the differences, with a hashable state
-- (src/visit_times.c).  What <prefix>_stage_durations computes per stage.
-- ---------------------------------------------------------------------------
CREATE FUNCTION pipeline._visit_time_trans(internal, timestamptz, timestamptz) RETURNS internal
	AS 'MODULE_PATHNAME', 'pipeline_visit_time_trans'
	LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION pipeline._visit_time_final(internal) RETURNS interval[]
	AS 'MODULE_PATHNAME', 'pipeline_visit_time_final'
	LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE pipeline._visit_time_stats(entered_at timestamptz, exited_at timestamptz) (
	SFUNC = pipeline._visit_time_trans,
	STYPE = internal,
	FINALFUNC = pipeline._visit_time_final,
	FINALFUNC_MODIFY = READ_WRITE,
	PARALLEL = SAFE
);
COMMENT ON FUNCTION pipeline._visit_time_trans(internal, timestamptz, timestamptz) IS
	'internal: transition function of _visit_time_stats';
COMMENT ON FUNCTION pipeline._visit_time_final(internal) IS
	'internal: final function of _visit_time_stats';
COMMENT ON AGGREGATE pipeline._visit_time_stats(timestamptz, timestamptz) IS
	'internal: {avg, median, p90} of exited_at - entered_at over a group (as avg and percentile_cont), for the stage_durations views';

-- ---------------------------------------------------------------------------
-- pipeline._funnel_raises(lo, hi, amount): the funnel from the history rows
-- that raised a key's furthest stage (src/history_aggregates.c), for
-- <prefix>_funnel: {rows that reached each open and won stage..., the sum
-- of their amounts...}.
-- ---------------------------------------------------------------------------
CREATE FUNCTION pipeline._funnel_raises_trans(internal, anyenum, anyenum, numeric) RETURNS internal
	AS 'MODULE_PATHNAME', 'pipeline_funnel_raises_trans'
	LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION pipeline._funnel_raises_final(internal, anyenum, anyenum, numeric) RETURNS numeric[]
	AS 'MODULE_PATHNAME', 'pipeline_funnel_raises_final'
	LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE pipeline._funnel_raises(lo anyenum, hi anyenum, amount numeric) (
	SFUNC = pipeline._funnel_raises_trans,
	STYPE = internal,
	FINALFUNC = pipeline._funnel_raises_final,
	FINALFUNC_EXTRA,
	PARALLEL = SAFE
);
COMMENT ON FUNCTION pipeline._funnel_raises_trans(internal, anyenum, anyenum, numeric) IS
	'internal: transition function of _funnel_raises';
COMMENT ON FUNCTION pipeline._funnel_raises_final(internal, anyenum, anyenum, numeric) IS
	'internal: final function of _funnel_raises';
COMMENT ON AGGREGATE pipeline._funnel_raises(anyenum, anyenum, numeric) IS
	'internal: the funnel (rows and amounts per open and won stage) from the history rows that raised a key''s furthest stage, for the funnel views';

-- ---------------------------------------------------------------------------
-- Upgrade: the per-table functions for every attachment with history
-- ---------------------------------------------------------------------------
DO $upgrade$
DECLARE
	a record;
BEGIN
	FOR a IN SELECT x.target, x.stage_column FROM pipeline.attached_tables x WHERE x.history IS NOT NULL LOOP
		PERFORM pipeline._create_history_functions(a.target, a.stage_column);
		UPDATE pipeline.attached_tables x SET views = pipeline._history_views_of(a.target, a.stage_column)
		 WHERE x.target = a.target AND x.stage_column = a.stage_column;
	END LOOP;
END
$upgrade$;
